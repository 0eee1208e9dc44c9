package hearthapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/peersign"
	"github.com/hearth-community/hearth/internal/recording"
)

// Without S3, a recording's files stay on the disk of the node that made
// it. Any other node answers requests for them by proxying to that node:
// it checks the caller's access itself, then fetches the bytes from the
// owning node's peer route with a URL signed by the cluster's shared key
// (the caller's range request passes through unchanged).

// maxPeerFetches bounds the fetches from other nodes running at once on
// this node (each may stream a whole recording's MP4); more are answered
// 503 with Retry-After.
const maxPeerFetches = 256

// newPeerProxy is the proxy to the node holding a file: range and
// conditional requests pass on, the file's headers come back; an answer
// is bounded by its peer's headers in 30 s and a byte at least every 30 s,
// not in size (a download is a whole recording).
func newPeerProxy(c *http.Client) *peersign.Proxy {
	return peersign.NewProxy(peersign.ProxyConfig{MaxAtOnce: maxPeerFetches, HeaderTimeout: 30 * time.Second, Idle: 30 * time.Second,
		Client:  c,
		Request: []string{"Range", "If-Range", "If-Modified-Since", "If-None-Match"},
		Answer: []string{"Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Last-Modified", "ETag",
			"Cache-Control", "Content-Disposition", "X-Content-Type-Options"}})
}

// fromPeer answers with the owning node's answer for rec's file name.
func (s *Surface) fromPeer(w http.ResponseWriter, r *http.Request, rec *recording.Recording, name string) {
	u, err := s.d.Recordings.PeerURL(r.Context(), rec, name)
	if err != nil {
		writeError(w, err)
		return
	}
	s.proxyPeer(w, r, u, "recording "+rec.ID, rec.NodeID)
}

// proxyPeer answers with another node's answer at the signed URL u (what:
// the thing asked for, for the log).
func (s *Surface) proxyPeer(w http.ResponseWriter, r *http.Request, u, what, node string) {
	s.peers.Serve(w, r, peersign.Fetch{URL: u, Fail: func(w http.ResponseWriter, f peersign.Failure, cause error) {
		switch f {
		case peersign.Busy:
			writeError(w, &fault.Error{Kind: fault.Unavailable, RetryAfter: time.Second,
				Msg: "too many requests for files on other nodes; try again shortly"})
		case peersign.NoAnswer:
			s.d.Log.Warn("hearthapi: the node holding a file did not answer", "of", what, "node", node, "err", cause)
			writeError(w, fault.Wrap(fault.Unavailable, "the node holding these files did not answer", cause))
		default:
			s.d.Log.Warn("hearthapi: the node holding a file failed", "of", what, "node", node, "err", cause)
			writeError(w, fault.New(fault.Unavailable, "the node holding these files failed to serve them"))
		}
	}})
}

// peer is GET /api/recordings/{id}/peer/{name}: another node of the
// cluster fetching a file (or the MP4 download) of a recording this node
// holds, with a signed URL. Only local files are served, so a request is
// never passed on again.
func (s *Surface) peer(w http.ResponseWriter, r *http.Request) {
	id, name, q := r.PathValue("id"), r.PathValue("name"), r.URL.Query()
	if !s.d.Recordings.VerifyPeer(id, name, q.Get("exp"), q.Get("sig")) {
		writeError(w, fault.New(fault.Forbidden, "this route is for the nodes of the cluster"))
		return
	}
	rec, err := s.d.Recordings.Get(r.Context(), id)
	if err == nil && !s.d.Recordings.HasLocal(id) {
		err = fault.New(fault.NotFound, "this node does not hold the recording's files")
	}
	if err != nil {
		writeError(w, err)
		return
	}
	if name == recording.DownloadName {
		if rec.EndedAt == nil {
			writeError(w, fault.New(fault.Conflict, "the recording is still being made; download it after the broadcast ends"))
			return
		}
		s.sendDownload(w, r, rec)
		return
	}
	f, mod, err := s.d.Recordings.Open(r.Context(), id, name)
	if err != nil {
		if !errors.Is(err, fault.NotFound) {
			s.d.Log.Warn("hearthapi: cannot open a recording's file for a peer", "recording", id, "err", err)
		}
		writeError(w, err)
		return
	}
	s.sendFile(w, r, rec, name, f, mod)
}

// clipPeer is GET /api/clips/{id}/peer: another node of the cluster
// fetching the MP4 of a clip this node cut, with a signed URL. Only a local
// file is served, so a request is never passed on again.
func (s *Surface) clipPeer(w http.ResponseWriter, r *http.Request) {
	id, q := r.PathValue("id"), r.URL.Query()
	if !s.d.Recordings.VerifyClipPeer(id, q.Get("exp"), q.Get("sig")) {
		writeError(w, fault.New(fault.Forbidden, "this route is for the nodes of the cluster"))
		return
	}
	c, err := s.d.Recordings.GetClip(r.Context(), id)
	if err == nil && !s.d.Recordings.HasLocalClip(id) {
		err = fault.New(fault.NotFound, "this node does not hold the clip's file")
	}
	if err != nil {
		writeError(w, err)
		return
	}
	s.sendClip(w, r, c)
}
