package recording

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
)

// Peers tells where the other nodes of a cluster serve: without S3, a
// recording's files are on the disk of the node that made it (its NodeID),
// and any other node proxies requests for them to that node.
type Peers interface {
	// NodeURL is the base URL node nodeID serves other nodes at ("" when
	// it has none).
	NodeURL(ctx context.Context, nodeID string) (string, error)
}

// DownloadName is the peer name of a recording's MP4 download.
const DownloadName = "download"

// peerTTL bounds how long a signed peer URL is accepted.
const peerTTL = time.Minute

// HasLocal reports whether this node holds the recording's files.
func (s *Service) HasLocal(id string) bool {
	if !validID(id) {
		return false
	}
	_, err := os.Stat(filepath.Join(s.dirOf(id), PlaylistName))
	return err == nil
}

// PeerURL is the signed URL at which the node that made recording r serves
// name (a playlist, segment or thumbnail name, or DownloadName) to this
// node. NotFound when r was made here or nodes are not linked; Unavailable
// when the owning node has no address.
func (s *Service) PeerURL(ctx context.Context, r *Recording, name string) (string, error) {
	if s.cfg.Peers == nil || len(s.cfg.PeerKey) == 0 || r.NodeID == "" || r.NodeID == s.cfg.NodeID {
		return "", errNotFound
	}
	if name != DownloadName && name != PlaylistName && name != ThumbnailName && !segName.MatchString(name) {
		return "", errNotFound
	}
	base, err := s.cfg.Peers.NodeURL(ctx, r.NodeID)
	if err != nil && !errors.Is(err, fault.NotFound) {
		return "", err
	}
	if base == "" {
		return "", fault.New(fault.Unavailable, "the recording's files are on another node, which has no address (--node-url)")
	}
	exp := strconv.FormatInt(s.cfg.Now().Add(peerTTL).Unix(), 10)
	q := url.Values{"exp": {exp}, "sig": {s.peerSig(r.ID, name, exp)}}
	return base + "/api/recordings/" + r.ID + "/peer/" + url.PathEscape(name) + "?" + q.Encode(), nil
}

// VerifyPeer checks a peer URL's signature and expiry (made by PeerURL on
// a node of the same cluster).
func (s *Service) VerifyPeer(id, name, exp, sig string) bool {
	if len(s.cfg.PeerKey) == 0 {
		return false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || s.cfg.Now().Unix() > t || t > s.cfg.Now().Add(2*peerTTL).Unix() {
		return false
	}
	want := s.peerSig(id, name, exp)
	return hmac.Equal([]byte(want), []byte(sig))
}

func (s *Service) peerSig(id, name, exp string) string {
	return s.signPeer("recording-peer", id, name, exp)
}

// signPeer signs a peer URL; label keeps each kind of peer URL (a
// recording's file, a clip's) from opening another.
func (s *Service) signPeer(label, id, name, exp string) string {
	m := hmac.New(sha256.New, s.cfg.PeerKey)
	m.Write([]byte(label + "\n" + id + "\n" + name + "\n" + exp))
	return hex.EncodeToString(m.Sum(nil))
}

// HasLocalClip reports whether this node holds clip id's MP4.
func (s *Service) HasLocalClip(id string) bool {
	if !validID(id) {
		return false
	}
	_, err := os.Stat(s.clipPath(id))
	return err == nil
}

// ClipPeerURL is the signed URL at which the node that cut clip c serves
// its MP4 to this node. NotFound when c was cut here (or before clips named
// their node) or nodes are not linked; Unavailable when that node has no
// address.
func (s *Service) ClipPeerURL(ctx context.Context, c *Clip) (string, error) {
	if s.cfg.Peers == nil || len(s.cfg.PeerKey) == 0 || c.NodeID == "" || c.NodeID == s.cfg.NodeID {
		return "", errClipNotFound
	}
	base, err := s.cfg.Peers.NodeURL(ctx, c.NodeID)
	if err != nil && !errors.Is(err, fault.NotFound) {
		return "", err
	}
	if base == "" {
		return "", fault.New(fault.Unavailable, "the clip's file is on another node, which has no address (--node-url)")
	}
	exp := strconv.FormatInt(s.cfg.Now().Add(peerTTL).Unix(), 10)
	q := url.Values{"exp": {exp}, "sig": {s.signPeer("clip-peer", c.ID, "mp4", exp)}}
	return base + "/api/clips/" + c.ID + "/peer?" + q.Encode(), nil
}

// VerifyClipPeer checks a clip peer URL's signature and expiry (made by
// ClipPeerURL on a node of the same cluster).
func (s *Service) VerifyClipPeer(id, exp, sig string) bool {
	if len(s.cfg.PeerKey) == 0 {
		return false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || s.cfg.Now().Unix() > t || t > s.cfg.Now().Add(2*peerTTL).Unix() {
		return false
	}
	return hmac.Equal([]byte(s.signPeer("clip-peer", id, "mp4", exp)), []byte(sig))
}

var errClipNotFound = fault.New(fault.NotFound, "clip not found")
