package httpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type pinger func(context.Context) error

func (p pinger) Ping(ctx context.Context) error { return p(ctx) }

func newTestServer(t *testing.T, setup func(s *Server)) string {
	t.Helper()
	s, err := New(Config{Addr: "127.0.0.1:0", MaxBodyBytes: 1024, ShutdownTimeout: time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	setup(s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return s.URL()
}

func get(t *testing.T, url string, hdr map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestServer(t *testing.T) {
	t.Parallel()
	var dbDown atomic.Bool
	url := newTestServer(t, func(s *Server) {
		s.Check("database", pinger(func(context.Context) error {
			if dbDown.Load() {
				return errors.New("down")
			}
			return nil
		}))
		s.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
		s.Handle("GET /surface-boom", Recover(slog.New(slog.DiscardHandler), func(w http.ResponseWriter, _ *http.Request, status int, msg string) {
			w.WriteHeader(status)
			io.WriteString(w, "surface:"+msg)
		}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })))
		s.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.ReadAll(r.Body); err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					w.WriteHeader(http.StatusRequestEntityTooLarge)
					return
				}
			}
			w.WriteHeader(http.StatusNoContent)
		})
		s.HandleWhen("GET /shared", func(r *http.Request) bool { return r.URL.Query().Has("a") },
			http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "A") }))
		s.HandleWhen("GET /shared", nil, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "fallback") }))
		s.HandleWhen("GET /shared", func(r *http.Request) bool { return r.Header.Get("X-B") != "" },
			http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "B") }))
		// Owned: the owner answers what nothing matched, unless a fallback
		// is registered for the pattern.
		s.HandleOwned("GET /owned", func(r *http.Request) bool { return r.URL.Query().Has("a") },
			http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "owner") }))
		s.HandleOwned("GET /owned-shared", func(r *http.Request) bool { return r.URL.Query().Has("a") },
			http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "owner") }))
		s.HandleWhen("GET /owned-shared", nil, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "fallback") }))
		s.HandleWhen("GET /matched-only", func(r *http.Request) bool { return r.URL.Query().Has("a") },
			http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "A") }))
	})

	if code, body := get(t, url+"/healthz", nil); code != 200 || !strings.Contains(body, `"database":"ok"`) {
		t.Fatalf("healthz: %d %s", code, body)
	}
	dbDown.Store(true)
	if code, body := get(t, url+"/healthz", nil); code != 503 || !strings.Contains(body, "error: down") {
		t.Fatalf("healthz with db down: %d %s", code, body)
	}
	dbDown.Store(false)
	if code, body := get(t, url+"/boom", nil); code != 500 || !strings.Contains(body, `"error"`) {
		t.Fatalf("panic: %d %s", code, body)
	}
	if code, body := get(t, url+"/surface-boom", nil); code != 500 || body != "surface:Internal server error" {
		t.Fatalf("surface panic: %d %s", code, body)
	}
	for _, tc := range []struct {
		size int
		want int
	}{{1024, 204}, {1025, 413}} {
		res, err := http.Post(url+"/echo", "application/json", strings.NewReader(strings.Repeat("x", tc.size)))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Fatalf("body of %d bytes: %d, want %d", tc.size, res.StatusCode, tc.want)
		}
	}
	for _, tc := range []struct {
		q    string
		hdr  map[string]string
		want string
	}{{"?a=1", nil, "A"}, {"", map[string]string{"X-B": "1"}, "B"}, {"", nil, "fallback"}} {
		if _, body := get(t, url+"/shared"+tc.q, tc.hdr); body != tc.want {
			t.Fatalf("shared %q: %s, want %s", tc.q, body, tc.want)
		}
	}
	for _, tc := range []struct {
		path, want string
		code       int
	}{{"/owned?a=1", "owner", 200}, {"/owned", "owner", 200}, {"/owned-shared?a=1", "owner", 200}, {"/owned-shared", "fallback", 200}, {"/matched-only", "404 page not found\n", 404}} {
		if code, body := get(t, url+tc.path, nil); code != tc.code || body != tc.want {
			t.Fatalf("%s: %d %q, want %d %q", tc.path, code, body, tc.code, tc.want)
		}
	}
	if code, body := get(t, url+"/metrics", nil); code != 200 || !strings.Contains(body, `hearth_http_requests_total{code="500",pattern="GET /boom"} 1`) {
		t.Fatalf("metrics: %d\n%s", code, body)
	}
}

func TestListeningLine(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		addr, want string
	}{
		{"127.0.0.1:0", "hearth listening"},
		{":0", "hearth listening on all interfaces"},
	} {
		s, err := New(Config{Addr: c.addr, MaxBodyBytes: 1024, ShutdownTimeout: time.Second}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		got := s.listeningLine()
		if !strings.HasPrefix(got, c.want) || (c.addr == "127.0.0.1:0" && got != c.want) {
			t.Errorf("%s: line = %q, want %q…", c.addr, got, c.want)
		}
		if c.addr == ":0" && !strings.Contains(s.URL(), "localhost") {
			t.Errorf("%s: url = %q, want a localhost URL to open", c.addr, s.URL())
		}
		s.ln.Close()
	}
}

// TestBodyCapIgnoresContentType: the server-wide body cap holds whatever
// Content-Type the client claims (a "multipart/form-data" header once lifted
// it from every JSON route), and only a route that calls SetBodyLimit reads
// more.
func TestBodyCapIgnoresContentType(t *testing.T) {
	t.Parallel()
	read := func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}
	url := newTestServer(t, func(s *Server) {
		s.HandleFunc("POST /json", read)
		s.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
			SetBodyLimit(w, r, 4096)
			read(w, r)
		})
	})
	for _, tc := range []struct {
		path, ctype string
		size, want  int
	}{
		{"/json", "application/json", 1025, 413},
		{"/json", "multipart/form-data; boundary=x", 1025, 413},
		{"/json", "Multipart/Form-Data; boundary=x", 1025, 413},
		{"/json", "multipart/form-data; boundary=x", 1024, 204},
		{"/upload", "multipart/form-data; boundary=x", 4096, 204},
		{"/upload", "application/json", 4096, 204},
		{"/upload", "multipart/form-data; boundary=x", 4097, 413},
	} {
		res, err := http.Post(url+tc.path, tc.ctype, strings.NewReader(strings.Repeat("x", tc.size)))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("%s %q, %d bytes: %d, want %d", tc.path, tc.ctype, tc.size, res.StatusCode, tc.want)
		}
	}
}

// TestHeadersBounded: a request's line and headers stop at MaxHeaderBytes
// (431 past it) instead of Go's 1 MiB, since a request still arriving holds
// what it has sent until the header timeout, and one address may keep
// hundreds of them.
func TestHeadersBounded(t *testing.T) {
	t.Parallel()
	url := newTestServer(t, func(s *Server) {
		s.HandleFunc("GET /x", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	})
	for _, tc := range []struct {
		size, want int
	}{{MaxHeaderBytes / 2, 204}, {2 * MaxHeaderBytes, 431}, {512 << 10, 431}} {
		req, _ := http.NewRequest("GET", url+"/x", nil)
		for i := 0; i < tc.size/4096; i++ {
			req.Header.Set(fmt.Sprintf("X-Pad-%d", i), strings.Repeat("a", 4000))
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("%d bytes of headers: %d, want %d", tc.size, res.StatusCode, tc.want)
		}
	}
}
