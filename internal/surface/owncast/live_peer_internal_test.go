package owncast

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// remoteIngest is a live.ViewerCounter on which every stage's broadcast
// runs on node "ingest", last heard from at heard (zero when nil), and
// live.Peers naming that node's URL.
type remoteIngest struct {
	url   string
	heard *atomic.Int64
}

func (remoteIngest) Add(string)                {}
func (remoteIngest) Done(string)               {}
func (remoteIngest) Count(string) int          { return 1 }
func (remoteIngest) Elsewhere(string) []string { return []string{"ingest"} }
func (r remoteIngest) Heard(string) time.Time {
	if r.heard == nil {
		return time.Time{}
	}
	return time.Unix(0, r.heard.Load())
}

// proxyingSurface is a surface whose default stage runs on ri's ingest
// node, proxying with slots fetches at once.
func proxyingSurface(t *testing.T, ri remoteIngest, slots int) (*Surface, *live.Service) {
	return proxyingSurfaceAt(t, ri, slots, nil)
}

// proxyingSurfaceAt is proxyingSurface with now the proxy's clock.
func proxyingSurfaceAt(t *testing.T, ri remoteIngest, slots int, now func() time.Time) (*Surface, *live.Service) {
	t.Helper()
	db := storetest.OpenSQLite(t)
	b := bus.NewLocal()
	t.Cleanup(func() { b.Close() })
	svc, err := live.New(context.Background(), live.Config{DataDir: t.TempDir(), ThumbnailEvery: time.Hour, Viewers: ri, Peers: ri,
		PeerKey: []byte("0123456789abcdef0123456789abcdef")}, db.Live(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Surface{d: Deps{Live: svc}, log: slog.New(slog.DiscardHandler), peer: newPeerHLS(slots, now)}, svc
}

// serve runs one of the surface's HLS handlers for target.
func serve(s *Surface, h func(*Surface, http.ResponseWriter, *http.Request, string), target string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", target, nil)
	r.SetPathValue("n", "0")
	r.SetPathValue("file", strings.TrimPrefix(target, "/hls/0/"))
	w := httptest.NewRecorder()
	h(s, w, r, s.stageID())
	return w
}
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
	held, hold := make(chan struct{}, 1), make(chan struct{})
	ingest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "/0/") {
			held <- struct{}{} // the master playlist: held until the test lets it go
			<-hold
		}
		mu.Lock()
		got = r.Clone(context.Background())
		code := status
		mu.Unlock()
		hlsHeaders(w, "application/x-mpegURL", "max-age=1")
		w.WriteHeader(code)
		_, _ = w.Write([]byte("#EXTM3U\n"))
	}))
	t.Cleanup(ingest.Close)
	s, svc := proxyingSurface(t, remoteIngest{url: ingest.URL}, 1)
	stage := svc.DefaultStageID()
	media := func() *httptest.ResponseRecorder {
		return serve(s, (*Surface).serveMedia, "/hls/0/stream.m3u8?_HLS_msn=5&_HLS_part=1&other=x")
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

	// The one slot is taken by a master playlist the ingest node holds.
	master := make(chan *httptest.ResponseRecorder)
	go func() {
		master <- serve(s, func(s *Surface, w http.ResponseWriter, r *http.Request, stage string) { s.serveMaster(w, r, stage) }, "/hls/stream.m3u8")
	}()
	<-held
	if w := media(); w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("with no slot left: %d %v", w.Code, w.Header())
	}
	close(hold)
	if w := <-master; w.Code != 200 {
		t.Fatalf("the held master playlist: %d", w.Code)
	}

	mu.Lock()
	status = http.StatusForbidden
	mu.Unlock()
	if w := media(); w.Code != 502 || strings.Contains(w.Body.String(), "EXTM3U") {
		t.Fatalf("refused by the ingest node: %d %q", w.Code, w.Body)
	}
}

// TestProxiedHLSShared: viewers asking at once for the same playlist (a
// blocking reload) or segment of a stream on another node cause one fetch
// from the ingest node, whose answer each of them gets; a different
// request is fetched on its own.
func TestProxiedHLSShared(t *testing.T) {
	t.Parallel()
	var fetches atomic.Int64
	hold := make(chan struct{})
	ingest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		<-hold
		hlsHeaders(w, "video/mp2t", "max-age=60")
		_, _ = w.Write([]byte(r.URL.Path + "?" + r.URL.Query().Get("_HLS_msn")))
	}))
	t.Cleanup(ingest.Close)
	s, svc := proxyingSurface(t, remoteIngest{url: ingest.URL}, 32)
	stage := svc.DefaultStageID()
	const viewers = 8
	type answer struct {
		target string
		w      *httptest.ResponseRecorder
	}
	out := make(chan answer, 2*viewers+1)
	var answered atomic.Int64
	ask := func(h func(*Surface, http.ResponseWriter, *http.Request, string), target string) {
		go func() {
			w := serve(s, h, target)
			answered.Add(1)
			out <- answer{target, w}
		}()
	}
	for range viewers {
		ask((*Surface).serveMedia, "/hls/0/stream.m3u8?_HLS_msn=7")
		ask((*Surface).serveSegment, "/hls/0/seg-3.ts")
	}
	// Each viewer's request has reached the ingest node, waits on a fetch
	// that has, or was answered otherwise (only a hang fails).
	asked := func(n int) {
		for s.peer.Waiting()+int(fetches.Load()+answered.Load()) != n {
			runtime.Gosched()
		}
	}
	asked(2 * viewers)
	ask((*Surface).serveMedia, "/hls/0/stream.m3u8?_HLS_msn=8") // another blocking reload: its own fetch
	asked(2*viewers + 1)
	close(hold)
	want := map[string]string{
		"/hls/0/stream.m3u8?_HLS_msn=7": "/hls/peer/" + stage + "/0/stream.m3u8?7",
		"/hls/0/seg-3.ts":               "/hls/peer/" + stage + "/0/seg-3.ts?",
		"/hls/0/stream.m3u8?_HLS_msn=8": "/hls/peer/" + stage + "/0/stream.m3u8?8",
	}
	for range 2*viewers + 1 {
		a := <-out
		if a.w.Code != 200 || a.w.Body.String() != want[a.target] || a.w.Header().Get("Cache-Control") != "max-age=60" {
			t.Errorf("%s: %d %v %q", a.target, a.w.Code, a.w.Header(), a.w.Body)
		}
	}
	if n := fetches.Load(); n != 3 {
		t.Fatalf("%d viewers of two requests and one other request: %d fetches from the ingest node, want 3", 2*viewers+1, n)
	}
}

// TestProxiedHLSKeepsSegments: viewers on another node asking one after
// another (not at once) for the same segment or LL-HLS part within a few
// seconds cause one fetch from the ingest node, each getting its answer;
// once the answer's time is up it is fetched again. Playlists, which
// change, are fetched for every request, and neither is an error answer
// kept. The proxy's clock is the test's, so no timing decides it.
func TestProxiedHLSKeepsSegments(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	fetches := map[string]int{}
	ingest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetches[r.URL.Path]++
		mu.Unlock()
		if strings.Contains(r.URL.Path, "missing") {
			http.NotFound(w, r)
			return
		}
		hlsHeaders(w, "video/mp2t", "max-age=60")
		_, _ = w.Write([]byte(r.URL.Path))
	}))
	t.Cleanup(ingest.Close)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	s, svc := proxyingSurfaceAt(t, remoteIngest{url: ingest.URL}, 32, func() time.Time { return time.Unix(0, clock.Load()) })
	peer := "/hls/peer/" + svc.DefaultStageID() + "/0/"
	const viewers = 10
	for range viewers {
		for _, target := range []string{"/hls/0/stream-ab-3.ts", "/hls/0/stream-ab-4.1.ts", "/hls/0/stream-ab-missing.ts"} {
			w := serve(s, (*Surface).serveSegment, target)
			if want := peer + strings.TrimPrefix(target, "/hls/0/"); !strings.Contains(target, "missing") &&
				(w.Code != 200 || w.Body.String() != want || w.Header().Get("Content-Type") != "video/mp2t") {
				t.Fatalf("%s: %d %v %q", target, w.Code, w.Header(), w.Body)
			}
		}
		if w := serve(s, (*Surface).serveMedia, "/hls/0/stream.m3u8"); w.Code != 200 {
			t.Fatalf("playlist: %d", w.Code)
		}
		clock.Add(int64(peerHLSKeep) / (2 * viewers)) // all within half of the time a segment is kept
	}
	clock.Add(int64(peerHLSKeep)) // past it: fetched again
	serve(s, (*Surface).serveSegment, "/hls/0/stream-ab-3.ts")
	mu.Lock()
	defer mu.Unlock()
	for name, want := range map[string]int{"stream-ab-3.ts": 2, "stream-ab-4.1.ts": 1, "stream-ab-missing.ts": viewers, "stream.m3u8": viewers} {
		if n := fetches[peer+name]; n != want {
			t.Errorf("%s: %d fetches from the ingest node for %d viewers, want %d", name, n, viewers, want)
		}
	}
}

// TestProxiedHLSIngestGone: a request that finds the ingest node gone (no
// one listens at its address: it crashed) is a 502 as before, but then
// the stage is offline on this node and served from it (its offline
// playlist) without trying that node again, until the node is heard from.
func TestProxiedHLSIngestGone(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // its address refuses connections now
	var heard atomic.Int64
	s, svc := proxyingSurface(t, remoteIngest{url: dead.URL, heard: &heard}, 4)
	stage := svc.DefaultStageID()
	ctx := context.Background()
	if st, err := svc.Status(ctx, stage); err != nil || !st.Online {
		t.Fatalf("the stage before: %+v %v", st, err)
	}
	if w := serve(s, (*Surface).serveMedia, "/hls/0/stream.m3u8"); w.Code != 502 {
		t.Fatalf("a playlist from the dead node: %d %q", w.Code, w.Body)
	}
	if st, err := svc.Status(ctx, stage); err != nil || st.Online {
		t.Fatalf("the stage once its node is found gone: online %v %v", st.Online, err)
	}
	if u, err := svc.IngestPeerURL(ctx, stage, "0/stream.m3u8"); err != nil || u != "" {
		t.Fatalf("the dead node is still tried: %q %v", u, err)
	}
	if w := serve(s, (*Surface).serveMedia, "/hls/0/stream.m3u8"); w.Code == 502 {
		t.Fatalf("a playlist after the node was found gone: %d %q", w.Code, w.Body)
	}
	heard.Store(time.Now().Add(time.Second).UnixNano()) // the node speaks again
	if st, err := svc.Status(ctx, stage); err != nil || !st.Online {
		t.Fatalf("the stage once its node is heard from: online %v %v", st.Online, err)
	}
	if u, err := svc.IngestPeerURL(ctx, stage, "0/stream.m3u8"); err != nil || u == "" {
		t.Fatalf("the node heard from again is not tried: %q %v", u, err)
	}
}
