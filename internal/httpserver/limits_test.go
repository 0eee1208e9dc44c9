package httpserver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func startServer(t *testing.T, cfg Config, setup func(s *Server)) *Server {
	t.Helper()
	cfg.Addr, cfg.ShutdownTimeout = "127.0.0.1:0", time.Second
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 1024
	}
	s, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return s
}

// waitFor polls cond until it holds; the minute is "it never happened",
// not a speed requirement.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s never happened", what)
		}
	}
}

// TestConnsPerIP: one address holds at most MaxConnsPerIP connections
// that are idle or in a request; the next is answered 503 and closed, a
// slot frees when a connection closes, and an upgraded socket stops
// counting at its upgrade.
func TestConnsPerIP(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{MaxConnsPerIP: 3}, func(s *Server) {
		s.limit.bounded = func(net.IP) bool { return true } // count loopback here
		s.HandleFunc("GET /hijack", func(w http.ResponseWriter, r *http.Request) {
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
			_ = brw.Flush()
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		})
	})
	addr := s.Addr().String()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// Two upgraded sockets: counted only until their upgrade.
	for range 2 {
		ws := dial()
		io.WriteString(ws, "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n")
		if line, err := bufio.NewReader(ws).ReadString('\n'); err != nil || !strings.Contains(line, "101") {
			t.Fatalf("upgrade: %q %v", line, err)
		}
	}
	waitFor(t, "upgraded sockets uncounted", func() bool { return s.limit.open("127.0.0.1") == 0 })
	// Two idle connections and one unfinished header.
	held := []net.Conn{dial(), dial(), dial()}
	io.WriteString(held[2], "GET / HTTP/1.1\r\n")
	waitFor(t, "three connections counted", func() bool { return s.limit.open("127.0.0.1") == 3 })

	extra := dial()
	b, _ := io.ReadAll(extra)
	if !strings.HasPrefix(string(b), "HTTP/1.1 503") || !strings.Contains(string(b), "too many open connections") {
		t.Fatalf("fourth connection: %q, want a 503 and close", b)
	}
	held[0].Close()
	waitFor(t, "the closed connection's slot freed", func() bool { return s.limit.open("127.0.0.1") == 2 })
	res, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(s.URL() + "/healthz")
	if err != nil {
		t.Fatalf("after a slot freed: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("after a slot freed: %d", res.StatusCode)
	}
}

// TestConnsPerIPSparesLoopback: loopback (a proxy or load tool on the same
// host) is not bounded by default.
func TestConnsPerIPSparesLoopback(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{MaxConnsPerIP: 1}, nil)
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	held := []net.Conn{}
	for range 3 {
		h, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		held = append(held, h)
	}
	res, err := c.Get(s.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || s.limit.open("127.0.0.1") != 0 {
		t.Fatalf("loopback beside %d idle connections: %d, counted %d", len(held), res.StatusCode, s.limit.open("127.0.0.1"))
	}
}

// TestSlowBody: a client that sends a request's headers and then stops
// sending the body it announced loses its connection once one read has
// waited BodyReadTimeout; a handler that takes its time between reads is
// not cut off.
func TestSlowBody(t *testing.T) {
	t.Parallel()
	readErr := make(chan error, 1)
	s := startServer(t, Config{BodyReadTimeout: 100 * time.Millisecond}, func(s *Server) {
		s.HandleFunc("POST /read", func(w http.ResponseWriter, r *http.Request) {
			_, err := io.ReadAll(r.Body)
			readErr <- err
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
		s.HandleFunc("POST /refuse", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusTooManyRequests) // answers without reading the body
		})
		s.HandleFunc("POST /slow-handler", func(w http.ResponseWriter, r *http.Request) {
			buf := make([]byte, 2)
			if _, err := io.ReadFull(r.Body, buf); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			time.Sleep(300 * time.Millisecond) // work between reads, past the read timeout
			if _, err := io.ReadAll(r.Body); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
	})
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("a body that never came was read without error")
		}
	case <-time.After(time.Minute):
		t.Fatal("a stalled body held its handler (it never gave up)")
	}
	answered := make(chan string, 1)
	go func() { b, _ := io.ReadAll(c); answered <- string(b) }()
	select {
	case b := <-answered:
		if !strings.HasPrefix(b, "HTTP/1.1 400") {
			t.Fatalf("stalled body: %q, want the handler's 400 and a close", b)
		}
	case <-time.After(time.Minute):
		t.Fatal("after its read timed out, the stalled request was never answered and closed")
	}

	// A handler that answers without reading: net/http then reads the rest
	// of the announced body before answering; that read is bounded too.
	c2, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	io.WriteString(c2, "POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
	got := make(chan string, 1)
	go func() { b, _ := io.ReadAll(c2); got <- string(b) }()
	select {
	case b := <-got:
		if !strings.HasPrefix(b, "HTTP/1.1 429") {
			t.Fatalf("refused request with a stalled body: %q", b)
		}
	case <-time.After(time.Minute):
		t.Fatal("a refused request with a stalled body was never answered and closed")
	}

	res, err := http.Post(s.URL()+"/slow-handler", "application/json", strings.NewReader("{}{}"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("slow handler with a prompt client: %d", res.StatusCode)
	}
}

// fakeListener hands out one end of a pipe per queued remote address.
type fakeListener struct {
	addrs chan net.Addr
}

func (f *fakeListener) Accept() (net.Conn, error) {
	a, ok := <-f.addrs
	if !ok {
		return nil, net.ErrClosed
	}
	c, peer := net.Pipe()
	go func() { _, _ = io.Copy(io.Discard, peer) }()
	return remoteConn{Conn: c, remote: a}, nil
}
func (f *fakeListener) Close() error   { return nil }
func (f *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv6loopback} }

type remoteConn struct {
	net.Conn
	remote net.Addr
}

func (c remoteConn) RemoteAddr() net.Addr { return c.remote }

// TestConnsPerIPCountsIPv6Prefix: the addresses of one IPv6 /64 share one
// count, so a client cannot multiply the bound by rotating through its
// prefix; another /64 and an IPv4 client keep their own.
func TestConnsPerIPCountsIPv6Prefix(t *testing.T) {
	t.Parallel()
	fl := &fakeListener{addrs: make(chan net.Addr, 8)}
	l := newIPLimitListener(fl, 2, true)
	for _, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3", "2001:db8:1:3::1", "192.0.2.7"} {
		fl.addrs <- &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}
	}
	close(fl.addrs)
	var got []string
	for {
		c, err := l.Accept()
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
		got = append(got, c.RemoteAddr().String())
	}
	want := []string{"[2001:db8:1:2::1]:40000", "[2001:db8:1:2::2]:40000", "[2001:db8:1:3::1]:40000", "192.0.2.7:40000"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("accepted %v, want %v (the third address of 2001:db8:1:2::/64 refused)", got, want)
	}
	if n := l.open("2001:db8:1:2:abcd::9"); n != 2 {
		t.Errorf("2001:db8:1:2::/64 counted %d, want 2", n)
	}
}

func TestManyRangesServeTheWholeFile(t *testing.T) {
	t.Parallel()
	file := bytes.Repeat([]byte("0123456789"), 2000)
	url := newTestServer(t, func(s *Server) {
		s.HandleFunc("GET /file", func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "f.txt", time.Time{}, bytes.NewReader(file))
		})
	})
	ranges := func(n int) string {
		rs := make([]string, n)
		for i := range rs {
			rs[i] = fmt.Sprintf("%d-%d", i*2, i*2)
		}
		return "bytes=" + strings.Join(rs, ",")
	}
	for _, tc := range []struct {
		n          int
		wantStatus int
		wantType   string
	}{
		{1, http.StatusPartialContent, "text/plain; charset=utf-8"},
		{2, http.StatusPartialContent, "multipart/byteranges"},
		{MaxRanges, http.StatusPartialContent, "multipart/byteranges"},
		{MaxRanges + 1, http.StatusOK, "text/plain; charset=utf-8"},
		{5000, http.StatusOK, "text/plain; charset=utf-8"},
	} {
		req, _ := http.NewRequest("GET", url+"/file", nil)
		req.Header.Set("Range", ranges(tc.n))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if ct := res.Header.Get("Content-Type"); res.StatusCode != tc.wantStatus || !strings.HasPrefix(ct, tc.wantType) {
			t.Errorf("%d ranges: %d %q, want %d %q", tc.n, res.StatusCode, ct, tc.wantStatus, tc.wantType)
		}
		if tc.wantStatus == http.StatusOK && !bytes.Equal(body, file) {
			t.Errorf("%d ranges: %d bytes, want the whole file (%d)", tc.n, len(body), len(file))
		}
	}
}
