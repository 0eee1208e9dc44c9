package owncast

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
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
	// maxPeerHLS is how many proxied requests run at once; more are
	// answered 503 with Retry-After, which players retry.
	maxPeerHLS = 1024
	// peerHLSTimeout bounds one proxied request: an LL-HLS blocking
	// reload or part waits up to blockingReloadLimit on the ingest node,
	// and a segment's bytes follow.
	peerHLSTimeout = 20 * time.Second
	// maxPeerBody bounds one answer (a segment of a high-bitrate
	// passthrough stream is a few MB).
	maxPeerBody = 64 << 20
)

// peerHLSRequest are the request headers passed on to the ingest node,
// peerHLSQuery the query parameters (LL-HLS blocking reloads).
var (
	peerHLSRequest = []string{"Range", "If-Range", "If-Modified-Since", "If-None-Match"}
	peerHLSQuery   = []string{"_HLS_msn", "_HLS_part"}
)

// peerHLSAnswer are the response headers passed back: the ingest node's
// own HLS headers (content type, cache control, CORS).
var peerHLSAnswer = []string{"Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Last-Modified", "ETag",
	"Cache-Control", "Access-Control-Allow-Origin", "X-Content-Type-Options"}

func newPeerHLSClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			TLSHandshakeTimeout: 5 * time.Second, ResponseHeaderTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second},
		// A peer answers itself; a redirect is not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
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
	select {
	case s.peerSlots <- struct{}{}:
		defer func() { <-s.peerSlots }()
	default:
		w.Header().Set("Retry-After", "1")
		writeResult(w, http.StatusServiceUnavailable, false, "too many requests for the node running this stream; retry")
		return true
	}
	q := url.Values{}
	for _, k := range peerHLSQuery {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	if len(q) > 0 {
		u += "&" + q.Encode()
	}
	ctx, cancel := context.WithTimeout(r.Context(), peerHLSTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		s.fail(w, r, err)
		return true
	}
	for _, h := range peerHLSRequest {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	res, err := s.peerClient.Do(req)
	if err != nil {
		if r.Context().Err() == nil {
			s.log.Warn("live: the node running the stream did not answer", "stage", stageID, "err", err)
		}
		writeResult(w, http.StatusBadGateway, false, "the node running this stream did not answer")
		return true
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode >= 500 || res.StatusCode == http.StatusForbidden:
		// 403: the nodes do not share the key, or their clocks differ.
		s.log.Warn("live: the node running the stream failed", "stage", stageID, "status", res.StatusCode)
		writeResult(w, http.StatusBadGateway, false, "the node running this stream failed to serve it")
		return true
	case res.StatusCode == http.StatusNotFound && none != nil:
		none(w, r)
		return true
	case res.ContentLength > maxPeerBody:
		s.log.Warn("live: an answer from the node running the stream is too large", "stage", stageID, "bytes", res.ContentLength)
		writeResult(w, http.StatusBadGateway, false, "the node running this stream sent too much")
		return true
	}
	for _, h := range peerHLSAnswer {
		if v := res.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(res.StatusCode)
	n, err := io.Copy(w, io.LimitReader(res.Body, maxPeerBody+1))
	if (err != nil || n > maxPeerBody) && r.Context().Err() == nil {
		// The ingest node went away mid-answer, or sent too much: cut this
		// answer short too.
		panic(http.ErrAbortHandler)
	}
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
