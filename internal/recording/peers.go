package recording

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/peersign"
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
	base, err := s.nodeBase(ctx, r.NodeID, "the recording's files are")
	if err != nil {
		return "", err
	}
	q := peersign.Query(s.cfg.PeerKey, recordingPeer, s.cfg.Now(), r.ID, name)
	return base + "/api/recordings/" + r.ID + "/peer/" + url.PathEscape(name) + "?" + q.Encode(), nil
}

// VerifyPeer checks a peer URL's signature and expiry (made by PeerURL on
// a node of the same cluster).
func (s *Service) VerifyPeer(id, name, exp, sig string) bool {
	return peersign.Valid(s.cfg.PeerKey, recordingPeer, s.cfg.Now(), exp, sig, id, name)
}

// The signing labels of the two kinds of peer URL (package peersign).
const (
	recordingPeer = "recording-peer"
	clipPeer      = "clip-peer"
)

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
	base, err := s.nodeBase(ctx, c.NodeID, "the clip's file is")
	if err != nil {
		return "", err
	}
	q := peersign.Query(s.cfg.PeerKey, clipPeer, s.cfg.Now(), c.ID, "mp4")
	return base + "/api/clips/" + c.ID + "/peer?" + q.Encode(), nil
}

// VerifyClipPeer checks a clip peer URL's signature and expiry (made by
// ClipPeerURL on a node of the same cluster).
func (s *Service) VerifyClipPeer(id, exp, sig string) bool {
	return peersign.Valid(s.cfg.PeerKey, clipPeer, s.cfg.Now(), exp, sig, id, "mp4")
}

var errClipNotFound = fault.New(fault.NotFound, "clip not found")

// nodeBase is the address of node, another node of the cluster holding
// what (a subject and its verb: "the clip's file is"); Unavailable when
// that node has no address.
func (s *Service) nodeBase(ctx context.Context, node, what string) (string, error) {
	base, err := s.cfg.Peers.NodeURL(ctx, node)
	if err != nil && !errors.Is(err, fault.NotFound) {
		return "", err
	}
	if base == "" {
		return "", fault.New(fault.Unavailable, what+" on another node, which has no address (--node-url)")
	}
	return base, nil
}
