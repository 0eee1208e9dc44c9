package owncast

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// remoteIngest is a live.ViewerCounter on which every stage's broadcast
// runs on node "ingest", and live.Peers naming that node's URL.
type remoteIngest struct{ url string }

func (remoteIngest) Add(string)                {}
func (remoteIngest) Done(string)               {}
func (remoteIngest) Count(string) int          { return 1 }
func (remoteIngest) Elsewhere(string) []string { return []string{"ingest"} }
func (r remoteIngest) NodeURL(_ context.Context, node string) (string, error) {
	if node == "ingest" {
		return r.url, nil
	}
	return "", nil
}

// TestProxiedHLSBounded: a variant playlist of a stage live on another
// node is fetched from that node's peer route, signed for that stage and
// name, with the LL-HLS blocking-reload parameters and nothing else of the
// viewer's query; its headers come back. When the node's proxy slots are
// all taken, the viewer is told to retry (503, Retry-After) rather than
// queued; a refusal by the ingest node (403: another key) is a 502.
func TestProxiedHLSBounded(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got *http.Request
	status := http.StatusOK
	ingest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Clone(context.Background())
		code := status
		mu.Unlock()
		hlsHeaders(w, "application/x-mpegURL", "max-age=1")
		w.WriteHeader(code)
		_, _ = w.Write([]byte("#EXTM3U\n"))
	}))
	t.Cleanup(ingest.Close)

	db := storetest.OpenSQLite(t)
	b := bus.NewLocal()
	t.Cleanup(func() { b.Close() })
	ri := remoteIngest{url: ingest.URL}
	svc, err := live.New(context.Background(), live.Config{DataDir: t.TempDir(), ThumbnailEvery: time.Hour, Viewers: ri, Peers: ri,
		PeerKey: []byte("0123456789abcdef0123456789abcdef")}, db.Live(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &Surface{d: Deps{Live: svc}, log: slog.New(slog.DiscardHandler), peerClient: newPeerHLSClient(), peerSlots: make(chan struct{}, 1)}
	stage := svc.DefaultStageID()
	media := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/hls/0/stream.m3u8?_HLS_msn=5&_HLS_part=1&other=x", nil)
		r.SetPathValue("n", "0")
		w := httptest.NewRecorder()
		s.serveMedia(w, r, stage)
		return w
	}

	w := media()
	mu.Lock()
	req := got
	mu.Unlock()
	if w.Code != 200 || w.Body.String() != "#EXTM3U\n" || w.Header().Get("Cache-Control") != "max-age=1" ||
		w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("proxied playlist: %d %v %q", w.Code, w.Header(), w.Body)
	}
	q := req.URL.Query()
	if req.URL.Path != "/hls/peer/"+stage+"/0/stream.m3u8" || q.Get("_HLS_msn") != "5" || q.Get("_HLS_part") != "1" || q.Has("other") ||
		!svc.VerifyIngestPeer(stage, "0/stream.m3u8", q.Get("exp"), q.Get("sig")) {
		t.Fatalf("request to the ingest node: %s", req.URL)
	}

	s.peerSlots <- struct{}{} // every slot taken
	if w := media(); w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("with no slot left: %d %v", w.Code, w.Header())
	}
	<-s.peerSlots

	mu.Lock()
	status = http.StatusForbidden
	mu.Unlock()
	if w := media(); w.Code != 502 || strings.Contains(w.Body.String(), "EXTM3U") {
		t.Fatalf("refused by the ingest node: %d %q", w.Code, w.Body)
	}
}
