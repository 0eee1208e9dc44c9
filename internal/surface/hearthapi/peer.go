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
// this node, per proxy (files; MP4 downloads, each of which may stream a
// whole recording); more are answered 503 with Retry-After.
const maxPeerFetches = 256

// Per-address shares of those fetches (peersign.ProxyConfig.PerCaller): a
// fetch streams at its client's pace, and a public stage's recordings are
// fetched without an account, so one address reading a little now and
// then held all 256, and every other caller's files from other nodes got
// 503. A player asks a few segments at once; a download is one file.
const (
	peerFetchesPerAddr   = 16
	peerDownloadsPerAddr = 2
)

// peerDownloadWait bounds the wait for the holding node's answer to an
// MP4 download: it answers once the MP4 is made, which the first download
// of a long recording waits for (a job slot, then the remux).
const peerDownloadWait = recording.DownloadMakeTimeout + time.Minute

// newPeerProxy is the proxy to the node holding a file: range and
// conditional requests (and HEAD) pass on, the file's headers come back;
// an answer is bounded by its peer's headers in headers and a byte at
// least every 30 s, not in size (a download is a whole recording). The
// peer's 403 is a failure, not an answer (proxyPeer): its peer route
// checks only the nodes' signature, the caller was checked here.
func newPeerProxy(c *http.Client, headers time.Duration, perAddr int) *peersign.Proxy {
	return peersign.NewProxy(peersign.ProxyConfig{MaxAtOnce: maxPeerFetches, PerCaller: perAddr, HeaderTimeout: headers,
		Idle: 30 * time.Second, Client: c, ForbiddenFails: true,
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
	p := s.peers
	if name == recording.DownloadName {
		p = s.peerDownloads
	}
	s.proxyPeer(w, r, p, u, "recording "+rec.ID, rec.NodeID)
}

// proxyPeer answers with another node's answer at the signed URL u,
// fetched by p (what: the thing asked for, for the log). The caller's
// access was checked on this node, so what the peer refuses is the nodes'
// business, never the caller's: its 403 (the nodes' shared key or clocks
// disagree) and its other 5xx are a 502 here, in the API's error shape,
// with the cause in this node's log; its 503 (busy: every ffmpeg slot
// taken) stays a 503 to retry. Its 404 (no such file), 409 and 416 come
// back as it made them.
func (s *Surface) proxyPeer(w http.ResponseWriter, r *http.Request, p *peersign.Proxy, u, what, node string) {
	p.Serve(w, r, peersign.Fetch{URL: u, Caller: s.addrKey(r), Fail: func(w http.ResponseWriter, f peersign.Failure, cause error) {
		switch f {
		case peersign.Busy:
			writeError(w, &fault.Error{Kind: fault.Unavailable, RetryAfter: time.Second,
				Msg: "too many requests for files on other nodes; try again shortly"})
		case peersign.NoAnswer:
			s.d.Log.Warn("hearthapi: the node holding a file did not answer", "of", what, "node", node, "err", cause)
			writeError(w, fault.Wrap(fault.Unavailable, "the node holding these files did not answer", cause))
		case peersign.Refused:
			s.d.Log.Error("hearthapi: "+peersign.RefusedHint, "of", what, "node", node)
			writeError(w, errPeerRefused)
		case peersign.PeerBusy:
			writeError(w, &fault.Error{Kind: fault.Unavailable, RetryAfter: time.Second,
				Msg: "the node holding these files is busy; try again shortly"})
		default:
			s.d.Log.Warn("hearthapi: the node holding a file failed", "of", what, "node", node, "err", cause)
			writeError(w, &badGateway{msg: "the node holding these files failed to serve them"})
		}
	}})
}

// badGateway is another node of the cluster failing a request this node
// made for a caller: 502 (writeError), never the caller's fault.
type badGateway struct{ msg string }

func (e *badGateway) Error() string { return e.msg }

// errPeerRefused: the node holding the files refused this node's signed
// request (the nodes' keys or clocks disagree).
var errPeerRefused = &badGateway{msg: "the node holding these files refused this node's request (the cluster's nodes " +
	"disagree on their shared key or the time); the administrator can see why in the logs"}

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
