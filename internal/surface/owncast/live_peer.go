package owncast

import (
	"net/http"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/peersign"
)

// Without S3, a broadcast's HLS is only on the node its publisher is
// connected to. Every other node serves it by proxying: the viewer's
// access is checked here, on the node the viewer talks to, by the route
// that serves local HLS (stageHLS for a stage channel), and the viewer is
// counted here; then the bytes come from the ingest node's peer route
// (GET /hls/peer/{stage}/{name}) with a URL signed by the cluster's key,
// valid for a minute (live.Service.IngestPeerURL). The peer route serves
// only its own node's output and counts no viewer, so a viewer is counted
// once in the cluster and a request is never passed on again.

// Bounds on proxied HLS requests, per node.
const (
	// maxPeerHLS is how many fetches from ingest nodes run at once; more
	// requests are answered 503 with Retry-After, which players retry.
	// Identical requests arriving together (viewers of one stream asking
	// for the same playlist, blocking reload, part or segment) share one
	// fetch, and one slot.
	maxPeerHLS = 1024
	// peerHLSTimeout bounds one proxied request: an LL-HLS blocking
	// reload or part waits up to blockingReloadLimit on the ingest node,
	// and a segment's bytes follow.
	peerHLSTimeout = 20 * time.Second
	// maxPeerBody bounds one answer (a segment of a high-bitrate
	// passthrough stream is a few MB).
	maxPeerBody = 64 << 20
	// peerHLSKeep is how long a fetched segment or LL-HLS part (a file
	// that never changes once listed) is kept after its fetch ended, so
	// that viewers asking for it over the next seconds, not all at once,
	// share that fetch too. Playlists are never kept. Kept answers count
	// within the proxy's 256 MiB of shared answers and give way to fetches.
	peerHLSKeep = 6 * time.Second
)

// newPeerHLS is the proxy to ingest nodes: the request headers passed on,
// the LL-HLS blocking-reload parameters, and the ingest node's own HLS
// headers (content type, cache control, CORS) passed back. now is the
// clock of kept segments (nil: time.Now).
func newPeerHLS(slots int, now func() time.Time) *peersign.Proxy {
	return peersign.NewProxy(peersign.ProxyConfig{MaxAtOnce: slots, Timeout: peerHLSTimeout, HeaderTimeout: 10 * time.Second,
		Idle: peerHLSTimeout, MaxBody: maxPeerBody, ForbiddenFails: true, Now: now,
		Request: []string{"Range", "If-Range", "If-Modified-Since", "If-None-Match"},
		Query:   []string{"_HLS_msn", "_HLS_part"},
		Answer: []string{"Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Last-Modified", "ETag",
			"Cache-Control", "Access-Control-Allow-Origin", "X-Content-Type-Options"}})
}

// fromIngest answers with the ingest node's answer for the stage's name
// (live.Service.IngestPeerURL) and reports true, or reports false when the
// request is to be served from this node. none, when set, answers for a
// 404 from the ingest node (a thumbnail not made yet).
func (s *Surface) fromIngest(w http.ResponseWriter, r *http.Request, stageID, name string, none http.HandlerFunc) bool {
	u, err := s.d.Live.IngestPeerURL(r.Context(), stageID, name)
	if err != nil {
		s.log.Warn("live: where the stream runs is not known; serving this node's HLS", "stage", stageID, "err", err)
		return false
	}
	if u == "" {
		return false
	}
	var keep time.Duration
	if _, file, ok := strings.Cut(name, "/"); ok && strings.HasSuffix(file, ".ts") {
		keep = peerHLSKeep // a segment or part, not a playlist or thumbnail
	}
	s.peer.Serve(w, r, peersign.Fetch{URL: u, Key: stageID + "/" + name, NotFound: none, Keep: keep,
		Fail: func(w http.ResponseWriter, f peersign.Failure, cause error) {
			switch f {
			case peersign.Busy, peersign.PeerBusy:
				w.Header().Set("Retry-After", "1")
				writeResult(w, http.StatusServiceUnavailable, false, "too many requests for the node running this stream; retry")
			case peersign.NoAnswer:
				if cause != nil && r.Context().Err() == nil {
					s.log.Warn("live: the node running the stream did not answer", "stage", stageID, "err", cause)
				}
				if peersign.Unreachable(cause) {
					// Crashed, most likely: offline here until heard from.
					s.d.Live.IngestUnreachable(r.Context(), stageID, name)
				}
				writeResult(w, http.StatusBadGateway, false, "the node running this stream did not answer")
			case peersign.Refused:
				if cause != nil {
					s.log.Error("live: "+peersign.RefusedHint, "stage", stageID)
				}
				writeResult(w, http.StatusBadGateway, false, "the node running this stream failed to serve it")
			case peersign.Failed:
				if cause != nil {
					s.log.Warn("live: the node running the stream failed", "stage", stageID, "err", cause)
				}
				writeResult(w, http.StatusBadGateway, false, "the node running this stream failed to serve it")
			default:
				if cause != nil {
					s.log.Warn("live: an answer from the node running the stream is too large", "stage", stageID, "err", cause)
				}
				writeResult(w, http.StatusBadGateway, false, "the node running this stream sent too much")
			}
		}})
	return true
}

// handleIngestPeer is GET /hls/peer/{stage}/{name}: another node of the
// cluster fetching this node's HLS output for one of its viewers, with a
// signed URL. Only this node's output is served, and no viewer counted.
func (s *Surface) handleIngestPeer(w http.ResponseWriter, r *http.Request) {
	stageID, name, q := r.PathValue("stage"), r.PathValue("name"), r.URL.Query()
	if !s.d.Live.VerifyIngestPeer(stageID, name, q.Get("exp"), q.Get("sig")) {
		writeResult(w, http.StatusForbidden, false, "this route is for the nodes of the cluster")
		return
	}
	if name == live.StatusPeerName {
		s.ingestStatus(w, r, stageID)
		return
	}
	if _, ok := thumbContentType[name]; ok {
		s.thumbLocal(w, r, stageID, name, http.NotFound)
		return
	}
	o, ok := s.origin(w, stageID)
	if !ok {
		return
	}
	if name == "stream.m3u8" {
		masterLocal(w, o)
		return
	}
	n, file, _ := strings.Cut(name, "/")
	v, ok := variantOf(o, n)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if file == "stream.m3u8" {
		mediaLocal(w, r, v)
		return
	}
	segmentLocal(w, r, v, file)
}
