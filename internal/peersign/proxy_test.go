package peersign_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/peersign"
)

// TestProxySharedBounds: a shared fetch holds its answer in memory, within
// MaxBuffered (past it the fetch fails Busy) and MaxBody (TooLarge); the
// memory of an answer every request has written is given back, so the
// next fetch fits again. A fetch alone streams, with the answer headers
// the config names and no others.
func TestProxySharedBounds(t *testing.T) {
	t.Parallel()
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Other", "kept there")
		_, _ = w.Write([]byte(strings.Repeat("x", len(r.URL.Path)*100)))
	}))
	t.Cleanup(peer.Close)
	p := peersign.NewProxy(peersign.ProxyConfig{MaxAtOnce: 4, MaxBody: 1000, MaxBuffered: 1024, Answer: []string{"Content-Type"}})
	small := peersign.NewProxy(peersign.ProxyConfig{MaxAtOnce: 4, MaxBuffered: 100})
	fetch := func(p *peersign.Proxy, path, key string) (*httptest.ResponseRecorder, peersign.Failure) {
		var failed peersign.Failure
		w := httptest.NewRecorder()
		p.Serve(w, httptest.NewRequest("GET", "/", nil), peersign.Fetch{URL: peer.URL + path + "?exp=1&sig=00", Key: key,
			Fail: func(w http.ResponseWriter, f peersign.Failure, _ error) { failed = f; w.WriteHeader(599) }})
		return w, failed
	}
	for i := range 3 { // the memory of each is given back
		if w, f := fetch(p, "/abcd", "k"); f != 0 || w.Code != 200 || w.Body.Len() != 500 || w.Header().Get("X-Other") != "" ||
			w.Header().Get("Content-Type") != "text/plain" {
			t.Fatalf("shared fetch %d: %d %v %d bytes, failure %d", i, w.Code, w.Header(), w.Body.Len(), f)
		}
	}
	if _, f := fetch(p, "/abcdefghijk", "k2"); f != peersign.TooLarge {
		t.Fatalf("a shared answer over MaxBody: failure %d", f)
	}
	if _, f := fetch(small, "/abcd", "k"); f != peersign.Busy {
		t.Fatalf("a shared answer over MaxBuffered: failure %d", f)
	}
	if w, f := fetch(small, "/abcd", ""); f != 0 || w.Body.Len() != 500 {
		t.Fatalf("the same answer fetched alone: %d bytes, failure %d", w.Body.Len(), f)
	}
}

// TestProxyKeptAnswersGiveWay: an answer kept for later requests
// (Fetch.Keep) counts within MaxBuffered, and a fetch that needs its room
// gets it: the kept answer is dropped (and fetched again when next asked
// for) rather than the fetch failing Busy. An answer not asked to be kept
// is fetched for each request.
func TestProxyKeptAnswersGiveWay(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	fetches := map[string]int{}
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetches[r.URL.Path]++
		mu.Unlock()
		_, _ = w.Write([]byte(strings.Repeat("x", len(r.URL.Path)*100)))
	}))
	t.Cleanup(peer.Close)
	now := time.Now()
	p := peersign.NewProxy(peersign.ProxyConfig{MaxAtOnce: 4, MaxBuffered: 1024, Now: func() time.Time { return now }})
	fetch := func(path string, keep time.Duration) {
		t.Helper()
		var failed peersign.Failure
		w := httptest.NewRecorder()
		p.Serve(w, httptest.NewRequest("GET", "/", nil), peersign.Fetch{URL: peer.URL + path + "?exp=1&sig=00", Key: path, Keep: keep,
			Fail: func(w http.ResponseWriter, f peersign.Failure, _ error) { failed = f; w.WriteHeader(599) }})
		if failed != 0 || w.Code != 200 || w.Body.Len() != len(path)*100 {
			t.Fatalf("%s: %d, %d bytes, failure %d", path, w.Code, w.Body.Len(), failed)
		}
	}
	fetch("/abcd", time.Minute)    // 400 bytes kept
	fetch("/abcd", time.Minute)    // from memory
	fetch("/abcdefg", time.Minute) // 700 more do not fit beside it: it gives way
	fetch("/abcd", 0)
	fetch("/abcd", 0)
	mu.Lock()
	defer mu.Unlock()
	if fetches["/abcd"] != 3 || fetches["/abcdefg"] != 1 {
		t.Fatalf("fetches %v, want /abcd 3 (once kept, then dropped for /abcdefg's room, then not kept) and /abcdefg 1", fetches)
	}
}

// TestProxyRangesAndHead: a range request passes on and its 206 (or 416)
// comes back with its Content-Range; a HEAD is asked of the peer as a
// HEAD, so the file is not fetched to be thrown away, and a shared HEAD
// never answers a GET of the same thing with its empty body.
func TestProxyRangesAndHead(t *testing.T) {
	t.Parallel()
	file := strings.Repeat("0123456789", 100)
	var mu sync.Mutex
	var methods []string
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		methods = append(methods, r.Method)
		mu.Unlock()
		http.ServeContent(w, r, "", time.Unix(1e9, 0), strings.NewReader(file))
	}))
	t.Cleanup(peer.Close)
	p := peersign.NewProxy(peersign.ProxyConfig{MaxAtOnce: 4, Request: []string{"Range"},
		Answer: []string{"Content-Length", "Content-Range", "Accept-Ranges"}})
	fetch := func(method, key string, hdr ...string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, "/", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		p.Serve(w, r, peersign.Fetch{URL: peer.URL + "/f?exp=1&sig=00", Key: key, Keep: time.Minute,
			Fail: func(w http.ResponseWriter, f peersign.Failure, err error) {
				t.Errorf("failure %d: %v", f, err)
				w.WriteHeader(599)
			}})
		return w
	}
	for _, key := range []string{"", "shared"} {
		if w := fetch("GET", key, "Range", "bytes=10-19"); w.Code != 206 || w.Body.String() != file[10:20] ||
			w.Header().Get("Content-Range") != "bytes 10-19/1000" {
			t.Fatalf("key %q: a range: %d %v %q", key, w.Code, w.Header(), w.Body)
		}
		if w := fetch("GET", key, "Range", "bytes=1000-"); w.Code != 416 || w.Header().Get("Content-Range") != "bytes */1000" {
			t.Fatalf("key %q: a range past the end: %d %v", key, w.Code, w.Header())
		}
		mu.Lock()
		methods = nil
		mu.Unlock()
		if w := fetch("HEAD", key); w.Code != 200 || w.Header().Get("Content-Length") != "1000" || w.Header().Get("Accept-Ranges") != "bytes" {
			t.Fatalf("key %q: HEAD: %d %v", key, w.Code, w.Header())
		}
		mu.Lock()
		got := strings.Join(methods, ",")
		mu.Unlock()
		if got != "HEAD" {
			t.Fatalf("key %q: the peer was asked %q for a HEAD, want HEAD", key, got)
		}
		if w := fetch("GET", key); w.Code != 200 || w.Body.String() != file {
			t.Fatalf("key %q: a GET after a HEAD: %d, %d bytes", key, w.Code, w.Body.Len())
		}
	}
}

// TestProxyCountsBufferCapacity: what counts within MaxBuffered is the
// capacity of the buffers a shared fetch holds, not the bytes kept in
// them. An answer of unknown length (chunked) starts in 512 bytes and
// grows by doubling, the old buffer counting beside the new one while it
// is copied: 600 bytes need 512 + 1,024 at the growth, so they fit in
// 1,536 and not in 1,535, and once read they hold 1,024, which is what a
// kept answer weighs when a later fetch needs room.
func TestProxyCountsBufferCapacity(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	fetches := map[string]int{}
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetches[r.URL.Path]++
		mu.Unlock()
		switch r.URL.Path {
		case "/chunked": // 600 bytes, no Content-Length
			_, _ = w.Write([]byte(strings.Repeat("c", 300)))
			w.(http.Flusher).Flush()
			_, _ = w.Write([]byte(strings.Repeat("c", 300)))
		default: // 1,100 bytes with their length: a 1,101-byte buffer
			w.Header().Set("Content-Length", "1100")
			_, _ = w.Write([]byte(strings.Repeat("l", 1100)))
		}
	}))
	t.Cleanup(peer.Close)
	fetch := func(p *peersign.Proxy, path string, keep time.Duration) (int, peersign.Failure) {
		var failed peersign.Failure
		w := httptest.NewRecorder()
		p.Serve(w, httptest.NewRequest("GET", "/", nil), peersign.Fetch{URL: peer.URL + path + "?exp=1&sig=00", Key: path, Keep: keep,
			Fail: func(w http.ResponseWriter, f peersign.Failure, _ error) { failed = f; w.WriteHeader(599) }})
		return w.Body.Len(), failed
	}
	if n, f := fetch(peersign.NewProxy(peersign.ProxyConfig{MaxBuffered: 1536}), "/chunked", 0); f != 0 || n != 600 {
		t.Fatalf("600 chunked bytes in 1,536: %d bytes, failure %d", n, f)
	}
	if _, f := fetch(peersign.NewProxy(peersign.ProxyConfig{MaxBuffered: 1535}), "/chunked", 0); f != peersign.Busy {
		t.Fatalf("600 chunked bytes in 1,535 (512 + 1,024 held at the growth): failure %d, want Busy", f)
	}
	now := time.Now()
	p := peersign.NewProxy(peersign.ProxyConfig{MaxBuffered: 2048, Now: func() time.Time { return now }})
	for _, path := range []string{"/chunked", "/length", "/chunked"} {
		if _, f := fetch(p, path, time.Minute); f != 0 {
			t.Fatalf("%s: failure %d", path, f)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fetches["/chunked"] != 4 || fetches["/length"] != 1 {
		t.Fatalf("fetches %v, want /chunked 4 (the last two: kept in 1,024 bytes, dropped for /length's 1,101, fetched again)", fetches)
	}
}

// TestProxyPerCaller: one caller whose answers are held open (a client
// reading a little now and then, or a peer still sending) runs at most
// PerCaller unshared fetches: its next fails Busy at once, reaching no
// peer, while another caller's is fetched. Before the share, one client
// could hold every fetch (MaxAtOnce) and every other caller got Busy.
func TestProxyPerCaller(t *testing.T) {
	t.Parallel()
	entered := make(chan string, 8)
	release := make(chan struct{})
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/held" {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			entered <- r.URL.RawQuery
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(peer.Close)
	t.Cleanup(func() { close(release) })
	p := peersign.NewProxy(peersign.ProxyConfig{MaxAtOnce: 4, PerCaller: 1})
	fetch := func(path, caller string) peersign.Failure {
		var failed peersign.Failure
		w := httptest.NewRecorder()
		p.Serve(w, httptest.NewRequest("GET", "/", nil), peersign.Fetch{URL: peer.URL + path + "?exp=1&sig=00", Caller: caller,
			Fail: func(w http.ResponseWriter, f peersign.Failure, _ error) { failed = f; w.WriteHeader(599) }})
		return failed
	}
	go fetch("/held", "addr 203.0.113.7")
	<-entered
	second := make(chan peersign.Failure, 1)
	go func() { second <- fetch("/held", "addr 203.0.113.7") }()
	select {
	case <-entered:
		t.Fatal("one caller's second fetch reached the peer past its share: its held answers can take every fetch")
	case f := <-second:
		if f != peersign.Busy {
			t.Fatalf("one caller's second fetch: failure %d, want Busy", f)
		}
	}
	if f := fetch("/other", "addr 198.51.100.9"); f != 0 {
		t.Fatalf("another caller's fetch: failure %d", f)
	}
}

// TestProxyFailures: what the peer answers sorts the failure the same way
// for a request fetching on its own and for one sharing a fetch: its 503
// is PeerBusy, its 403 Refused (only with ForbiddenFails; else passed
// back), another 5xx Failed, nothing listening NoAnswer.
func TestProxyFailures(t *testing.T) {
	t.Parallel()
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/busy":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/refused":
			w.WriteHeader(http.StatusForbidden)
		case "/broken":
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(peer.Close)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	strict := peersign.NewProxy(peersign.ProxyConfig{ForbiddenFails: true})
	open := peersign.NewProxy(peersign.ProxyConfig{})
	fetch := func(p *peersign.Proxy, base, path, key string) (int, peersign.Failure, error) {
		var failed peersign.Failure
		var cause error
		w := httptest.NewRecorder()
		p.Serve(w, httptest.NewRequest("GET", "/", nil), peersign.Fetch{URL: base + path + "?exp=1&sig=00", Key: key,
			Fail: func(w http.ResponseWriter, f peersign.Failure, err error) { failed, cause = f, err; w.WriteHeader(599) }})
		return w.Code, failed, cause
	}
	for _, key := range []string{"", "shared"} {
		for path, want := range map[string]peersign.Failure{"/busy": peersign.PeerBusy, "/refused": peersign.Refused,
			"/broken": peersign.Failed} {
			if code, f, cause := fetch(strict, peer.URL, path, key+path); f != want || code != 599 || cause == nil {
				t.Errorf("key %q %s: %d, failure %d (%v), want %d", key, path, code, f, cause, want)
			}
		}
		if code, f, _ := fetch(open, peer.URL, "/refused", key); code != http.StatusForbidden || f != 0 {
			t.Errorf("key %q: without ForbiddenFails the peer's 403 is %d, failure %d, want it passed back", key, code, f)
		}
		if _, f, cause := fetch(strict, gone.URL, "/x", key); f != peersign.NoAnswer || !peersign.Unreachable(cause) {
			t.Errorf("key %q: a peer not listening is failure %d (%v), want NoAnswer, unreachable", key, f, cause)
		}
	}
}
