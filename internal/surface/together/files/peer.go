package files

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/peersign"
	"github.com/hearth-community/hearth/internal/surface/together/rest"
)

// On a cluster each node keeps the files uploaded through it in its own
// upload directory, and the database names that node on each attachment
// and emoji (Config.NodeID). A node asked for a file it does not hold
// checks the caller itself, then fetches the bytes from the holding node's
// peer route (PeerFile, PeerEmoji) with a URL signed by the cluster's key,
// as recordings are (package peersign); range and conditional requests
// pass through. A shared upload directory still works: the file is then
// found locally and no peer is asked.

// Peers tells where the other nodes of a cluster serve.
type Peers interface {
	// NodeURL is the base URL node nodeID serves other nodes at ("" when
	// it has none).
	NodeURL(ctx context.Context, nodeID string) (string, error)
}

// The signing labels of the two kinds of peer URL (package peersign).
const (
	attachmentPeer = "together-attachment-peer"
	emojiPeer      = "together-emoji-peer"
)

// maxPeerFetches bounds the fetches from other nodes running at once on
// this node; peerFetchesPerAddr is one address's share of them (a fetch
// runs at its client's pace, and a signed attachment URL needs no
// account), so that one address reading slowly cannot hold them all.
const (
	maxPeerFetches     = 256
	peerFetchesPerAddr = 16
)

// newPeerProxy is the proxy to the node holding a file. The peer's 403 is
// a failure, not an answer: its route checks only the nodes' signature,
// the caller was checked here.
func newPeerProxy(c *http.Client) *peersign.Proxy {
	return peersign.NewProxy(peersign.ProxyConfig{MaxAtOnce: maxPeerFetches, PerCaller: peerFetchesPerAddr,
		HeaderTimeout: 30 * time.Second, Idle: 30 * time.Second, Client: c, ForbiddenFails: true,
		Request: []string{"Range", "If-Range", "If-Modified-Since", "If-None-Match"},
		Answer: []string{"Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Last-Modified", "ETag",
			"Cache-Control", "Content-Disposition", "Content-Security-Policy", "X-Content-Type-Options"}})
}

// onPeer reports whether node is another node this one can fetch from.
func (s *API) onPeer(node string) bool {
	return s.cfg.Peers != nil && len(s.cfg.PeerKey) > 0 && node != "" && node != s.cfg.NodeID
}

// fromPeer answers with node's answer at path (its peer route), signed
// under label for parts; notFound answers when node has no such file.
func (s *API) fromPeer(w http.ResponseWriter, r *http.Request, node, path, label string, notFound error, parts ...string) {
	base, err := s.cfg.Peers.NodeURL(r.Context(), node)
	if err != nil && !errors.Is(err, fault.NotFound) {
		s.Fail(w, err)
		return
	}
	if base == "" {
		s.Log.Warn("together: a file is on another node, which has no address (--node-url)", "node", node, "path", path)
		s.Fail(w, fault.New(fault.Unavailable, "The file is on another node of this server, which cannot be reached"))
		return
	}
	q := peersign.Query(s.cfg.PeerKey, label, time.Now(), parts...)
	u := strings.TrimSuffix(base, "/") + path + "?" + q.Encode()
	s.peers.Serve(w, r, peersign.Fetch{URL: u, Caller: s.addr(r),
		NotFound: func(w http.ResponseWriter, _ *http.Request) { s.Fail(w, notFound) },
		Fail: func(w http.ResponseWriter, f peersign.Failure, cause error) {
			switch f {
			case peersign.Busy, peersign.PeerBusy:
				s.Fail(w, &fault.Error{Kind: fault.Unavailable, RetryAfter: time.Second,
					Msg: "Too many requests for files on other nodes; try again shortly"})
			case peersign.NoAnswer:
				s.Log.Warn("together: the node holding a file did not answer", "node", node, "path", path, "err", cause)
				s.Fail(w, fault.New(fault.Unavailable, "The node holding this file did not answer"))
			case peersign.Refused:
				s.Log.Error("together: "+peersign.RefusedHint, "node", node, "path", path)
				s.Bad(w, errPeerFailed)
			default:
				s.Log.Warn("together: the node holding a file failed", "node", node, "path", path, "err", cause)
				s.Bad(w, errPeerFailed)
			}
		}})
}

// errPeerFailed: the node holding a file failed this node's request for
// it, which is never the caller's fault.
var errPeerFailed = &rest.StatusError{Status: http.StatusBadGateway, Msg: "The node holding this file failed to serve it"}

// errNotForCallers refuses a peer route's request that the cluster's key
// did not sign.
var errNotForCallers = fault.New(fault.Forbidden, "This route is for the nodes of the cluster")

// PeerFile is GET /files/{message_id}/{filepath}/peer: another node of the
// cluster fetching an attachment this node holds, with a signed URL. Only
// a local file is served, so a request is never passed on again.
func (s *API) PeerFile(w http.ResponseWriter, r *http.Request, _ *identity.Principal) {
	if err := s.Ready(); err != nil {
		s.Fail(w, err)
		return
	}
	mid, stored, q := r.PathValue("message_id"), r.PathValue("filepath"), r.URL.Query()
	if !peersign.Valid(s.cfg.PeerKey, attachmentPeer, time.Now(), q.Get("exp"), q.Get("sig"), mid, stored) {
		s.Fail(w, errNotForCallers)
		return
	}
	notFound := fault.New(fault.NotFound, "File not found")
	if _, err := uuid.Parse(mid); err != nil || !filepath.IsLocal(stored) || strings.ContainsAny(stored, `/\`) {
		s.Fail(w, notFound)
		return
	}
	a, err := s.store.Attachment(r.Context(), mid, stored)
	if err != nil {
		s.Fail(w, notFound)
		return
	}
	f, err := s.uploads.Open(mid + "/" + stored)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.Log.Warn("together: cannot open an attachment for a peer", "message", mid, "err", err)
		}
		s.Fail(w, notFound)
		return
	}
	defer f.Close()
	attachmentHeaders(w.Header(), a)
	http.ServeContent(w, r, "", a.CreatedAt, f)
}

// PeerEmoji is GET /emojis/{emoji_id}/peer: another node of the cluster
// fetching a custom emoji this node holds, with a signed URL.
func (s *API) PeerEmoji(w http.ResponseWriter, r *http.Request, _ *identity.Principal) {
	if err := s.Ready(); err != nil {
		s.Fail(w, err)
		return
	}
	id, q := r.PathValue("emoji_id"), r.URL.Query()
	if !peersign.Valid(s.cfg.PeerKey, emojiPeer, time.Now(), q.Get("exp"), q.Get("sig"), id) {
		s.Fail(w, errNotForCallers)
		return
	}
	notFound := fault.New(fault.NotFound, "Emoji not found")
	if _, err := uuid.Parse(id); err != nil {
		s.Fail(w, notFound)
		return
	}
	e, err := s.store.Emoji(r.Context(), id)
	if err != nil {
		s.Fail(w, notFound)
		return
	}
	data, err := s.uploads.ReadFile("emojis/" + e.ID)
	if err != nil {
		s.Fail(w, notFound)
		return
	}
	emojiHeaders(w.Header(), e)
	_, _ = w.Write(data)
}
