package hearthapi

import (
	"errors"
	"io"
	"net/http"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/recording"
)

// Without S3, a recording's files stay on the disk of the node that made
// it. Any other node answers requests for them by proxying to that node:
// it checks the caller's access itself, then fetches the bytes from the
// owning node's peer route with a URL signed by the cluster's shared key
// (the caller's range request passes through unchanged).

// peerHeaders are the request headers passed on to the owning node.
var peerHeaders = []string{"Range", "If-Range", "If-Modified-Since", "If-None-Match"}

// peerAnswer are the response headers passed back from it.
var peerAnswer = []string{"Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Last-Modified", "ETag",
	"Cache-Control", "Content-Disposition", "X-Content-Type-Options"}

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
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u, nil)
	if err != nil {
		writeError(w, err)
		return
	}
	for _, h := range peerHeaders {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	res, err := s.d.PeerClient.Do(req)
	if err != nil {
		s.d.Log.Warn("hearthapi: the node holding a file did not answer", "of", what, "node", node, "err", err)
		writeError(w, fault.Wrap(fault.Unavailable, "the node holding these files did not answer", err))
		return
	}
	defer res.Body.Close()
	if res.StatusCode >= 500 {
		s.d.Log.Warn("hearthapi: the node holding a file failed", "of", what, "node", node, "status", res.StatusCode)
		writeError(w, fault.New(fault.Unavailable, "the node holding these files failed to serve them"))
		return
	}
	if res.StatusCode >= 400 {
		w.Header().Del("Content-Disposition") // the peer's error, not the file
	}
	for _, h := range peerAnswer {
		if h == "Content-Disposition" && w.Header().Get(h) != "" {
			continue // named here (a signed download URL: after the recording's title)
		}
		if v := res.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(res.StatusCode)
	if _, err := io.Copy(w, res.Body); err != nil && r.Context().Err() == nil {
		// The owning node went away mid-answer: cut this one short too.
		panic(http.ErrAbortHandler)
	}
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
