package gateway

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// serveServer is a Hub behind httptest whose handler calls Serve and
// returns, as the surfaces do: the socket then lives on without the
// handler's goroutine.
func serveServer(t testing.TB, cfg Config, closed chan<- error) (*Hub, *httptest.Server, chan *Conn) {
	t.Helper()
	hub, err := New(cfg, nopSubscriber, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan *Conn, 1<<16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := hub.Accept(w, r, ConnOptions{})
		if err != nil {
			return
		}
		conns <- c
		_ = c.Serve(context.Background(), func(_ context.Context, _ websocket.MessageType, data []byte) error {
			c.Send(data)
			return nil
		}, func(err error) {
			if closed != nil {
				closed <- err
			}
		})
	}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		srv.Close()
	})
	return hub, srv, conns
}

// TestServeWithoutHandlerGoroutine: the handler returns right after Serve;
// the socket still echoes, answers pings, is pinged, and closes cleanly,
// and between frames it holds no buffer and no reading goroutine.
func TestServeWithoutHandlerGoroutine(t *testing.T) {
	t.Parallel()
	closed := make(chan error, 1)
	pongs := make(chan struct{}, 16)
	hub, srv, conns := serveServer(t, Config{PingInterval: 200 * time.Millisecond}, closed)
	hub.onPong = func(*Conn) {
		select {
		case pongs <- struct{}{}:
		default:
		}
	}
	client := dialRaw(t, srv)
	c := <-conns
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	// The client answers the server's pings only while it reads.
	go func() {
		for i := 0; i < 3; i++ {
			if err := client.Write(ctx, websocket.MessageText, []byte(fmt.Sprint("hello ", i))); err != nil {
				return
			}
		}
	}()
	for i := 0; i < 3; i++ {
		if got, want := readText(t, client), fmt.Sprint("hello ", i); got != want {
			t.Fatalf("echo %d = %q, want %q", i, got, want)
		}
	}
	readCtx, stopRead := context.WithCancel(ctx)
	go func() { _, _, _ = client.Read(readCtx) }() // reads, and so sees pongs and answers pings
	if err := client.Ping(ctx); err != nil {
		t.Fatalf("client ping: %v", err)
	}
	select {
	case <-pongs:
	case <-time.After(guard):
		t.Fatal("no pong for the server's ping")
	}
	// The client keeps reading through the idle check: cancelling a read
	// closes coder/websocket's connection, and a close that arrived before
	// the check saw an idle moment left the socket closing, never idle.
	defer stopRead()
	if runtime.GOOS == "linux" {
		deadline := time.Now().Add(guard)
		for {
			c.rd.mu.Lock()
			idle := c.rd.polled && !c.rd.busy && c.rd.partial == nil
			c.rd.mu.Unlock()
			c.qmu.Lock()
			idle = idle && !c.writer && c.wf.b == nil && c.ctrl.b == nil && c.carry == nil
			c.qmu.Unlock()
			if idle {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the idle socket still holds a reader or a buffer")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	c.Close(websocket.StatusNormalClosure, "bye")
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("onClose(%v), want nil", err)
		}
	case <-time.After(guard):
		t.Fatal("onClose not called")
	}
	waitDone(t, c)
}

// TestServeHandshakeBytes: frames sent in the same packet as the upgrade
// request (before any readiness is announced) are read.
func TestServeHandshakeBytes(t *testing.T) {
	t.Parallel()
	_, srv, _ := serveServer(t, Config{}, nil)
	addr := srv.Listener.Addr().String()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// A masked text frame "hi" (mask 1,2,3,4) right behind the request.
	frame := []byte{0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2}
	req := fmt.Sprintf("GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr)
	if _, err := nc.Write(append([]byte(req), frame...)); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(guard))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	got := make([]byte, 4)
	if _, err := readFull(br, got); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if string(got) != "\x81\x02hi" {
		t.Fatalf("echo = %q, want a text frame \"hi\"", got)
	}
}

func readFull(br *bufio.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := br.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// BenchmarkIdleSockets reports the memory one idle socket costs the
// process (server side and the in-process client's bare TCP socket): heap
// in use plus goroutine stacks, after a GC, divided by the sockets. "serve"
// is the handler returning after Serve (the surfaces); "run" keeps the
// handler's goroutine parked in Run.
func BenchmarkIdleSockets(b *testing.B) {
	const n = 2000
	for _, mode := range []string{"serve", "run"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				perSocket := idleSocketsCost(b, n, mode == "run")
				b.ReportMetric(perSocket, "B/socket")
				b.StartTimer()
			}
		})
	}
}

func idleSocketsCost(b *testing.B, n int, run bool) float64 {
	hub, err := New(Config{}, nopSubscriber, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	var accepted sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := hub.Accept(w, r, ConnOptions{})
		if err != nil {
			return
		}
		if run {
			accepted.Done()
			_ = c.Run(context.Background(), nil)
			return
		}
		_ = c.Serve(context.Background(), nil, nil)
		accepted.Done()
	}))
	defer srv.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		_ = hub.Shutdown(ctx)
	}()
	measure := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse + ms.StackInuse
	}
	addr := srv.Listener.Addr().String()
	req := []byte(fmt.Sprintf("GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr))
	before := measure()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, nc := range conns {
			_ = nc.Close()
		}
	}()
	resp := make([]byte, 4096)
	for range n {
		accepted.Add(1)
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, nc)
		if _, err := nc.Write(req); err != nil {
			b.Fatal(err)
		}
		_ = nc.SetReadDeadline(time.Now().Add(guard))
		// The 101 response fits one read on loopback.
		if _, err := nc.Read(resp); err != nil {
			b.Fatal(err)
		}
	}
	accepted.Wait()
	time.Sleep(100 * time.Millisecond) // let handlers return
	after := measure()
	return float64(int64(after)-int64(before)) / float64(n)
}

// TestServeOverTLS: a socket without a descriptor of its own (TLS, where
// hearth terminates it) is read on a goroutine instead of the poller, with
// the same framing, echo and close.
func TestServeOverTLS(t *testing.T) {
	t.Parallel()
	hub, err := New(Config{}, nopSubscriber, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := hub.Accept(w, r, ConnOptions{})
		if err != nil {
			return
		}
		if c.raw != nil {
			t.Error("a TLS socket got a raw descriptor")
		}
		_ = c.Serve(context.Background(), func(_ context.Context, _ websocket.MessageType, data []byte) error {
			c.Send(data)
			return nil
		}, func(err error) { closed <- err })
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	client, _, err := websocket.Dial(ctx, "wss"+srv.URL[len("https"):], &websocket.DialOptions{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer client.CloseNow()
	for i := range 3 {
		msg := fmt.Sprint("tls ", i)
		if err := client.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if got := readText(t, client); got != msg {
			t.Fatalf("echo = %q, want %q", got, msg)
		}
	}
	if err := client.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("client close: %v", err)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("onClose(%v), want nil", err)
		}
	case <-time.After(guard):
		t.Fatal("onClose not called")
	}
}

// rawUpgrade opens a socket to srv with a hand-written upgrade request,
// offering protos, and returns it with a reader positioned after the 101.
func rawUpgrade(t *testing.T, srv *httptest.Server, protos string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	addr := srv.Listener.Addr().String()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	extra := ""
	if protos != "" {
		extra = "Sec-WebSocket-Protocol: " + protos + "\r\n"
	}
	fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n", addr, extra)
	_ = nc.SetDeadline(time.Now().Add(guard))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return nc, br, resp
}

// maskedFrame builds a client frame (masked with 1,2,3,4).
func maskedFrame(first byte, payload string) []byte {
	mask := [4]byte{1, 2, 3, 4}
	b := []byte{first, 0x80 | byte(len(payload)), 1, 2, 3, 4}
	for i := range len(payload) {
		b = append(b, payload[i]^mask[i%4])
	}
	return b
}

// TestFramingEdges: a fragmented message with a ping between its
// fragments is answered with a pong and echoed whole; an unmasked client
// frame fails the connection with 1002.
func TestFramingEdges(t *testing.T) {
	t.Parallel()
	_, srv, _ := serveServer(t, Config{}, nil)
	nc, br, _ := rawUpgrade(t, srv, "")
	var out []byte
	out = append(out, maskedFrame(0x01, "hel")...) // text, not final
	out = append(out, maskedFrame(0x89, "p")...)   // ping
	out = append(out, maskedFrame(0x80, "lo")...)  // continuation, final
	if _, err := nc.Write(out); err != nil {
		t.Fatal(err)
	}
	want := "\x8a\x01p" + "\x81\x05hello"
	got := make([]byte, len(want))
	if _, err := readFull(br, got); err != nil || string(got) != want {
		t.Fatalf("got %q (%v), want pong then echo %q", got, err, want)
	}
	if _, err := nc.Write([]byte{0x81, 0x02, 'h', 'i'}); err != nil { // unmasked
		t.Fatal(err)
	}
	hdr := make([]byte, 4)
	if _, err := readFull(br, hdr); err != nil {
		t.Fatalf("no close frame: %v", err)
	}
	if hdr[0] != 0x88 || int(hdr[2])<<8|int(hdr[3]) != 1002 {
		t.Fatalf("got % x, want a close frame with 1002", hdr)
	}
}

// TestSubprotocolNegotiation: the first of the server's subprotocols that
// the client offers wins, in the client's spelling; none offered, none
// chosen.
func TestSubprotocolNegotiation(t *testing.T) {
	t.Parallel()
	hub, err := New(Config{}, nopSubscriber, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := hub.Accept(w, r, ConnOptions{Subprotocols: []string{"v2", "v1"}})
		if err != nil {
			return
		}
		got <- c.Subprotocol()
		_ = c.Serve(context.Background(), nil, nil)
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct{ offer, want string }{
		{"v1, V2", "V2"},
		{"v1", "v1"},
		{"other", ""},
		{"", ""},
	} {
		_, _, resp := rawUpgrade(t, srv, tc.offer)
		if h := resp.Header.Get("Sec-WebSocket-Protocol"); h != tc.want {
			t.Errorf("offer %q: header %q, want %q", tc.offer, h, tc.want)
		}
		if p := <-got; p != tc.want {
			t.Errorf("offer %q: Subprotocol() = %q, want %q", tc.offer, p, tc.want)
		}
	}
}

// TestHandshakeRefusals: requests that are not a valid upgrade get the
// statuses coder/websocket gave them (clients and the surfaces' tests rely
// on them), and no socket.
func TestHandshakeRefusals(t *testing.T) {
	t.Parallel()
	_, srv, conns := serveServer(t, Config{}, nil)
	ws := map[string]string{"Upgrade": "websocket", "Connection": "Upgrade",
		"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}
	for _, tc := range []struct {
		name   string
		method string
		edit   func(h http.Header)
		want   int
	}{
		{"plain GET", http.MethodGet, func(h http.Header) { h.Del("Upgrade"); h.Del("Connection") }, http.StatusUpgradeRequired},
		{"POST", http.MethodPost, func(http.Header) {}, http.StatusMethodNotAllowed},
		{"version 12", http.MethodGet, func(h http.Header) { h.Set("Sec-WebSocket-Version", "12") }, http.StatusBadRequest},
		{"no key", http.MethodGet, func(h http.Header) { h.Del("Sec-WebSocket-Key") }, http.StatusBadRequest},
	} {
		req, err := http.NewRequest(tc.method, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range ws {
			req.Header.Set(k, v)
		}
		tc.edit(req.Header)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	select {
	case <-conns:
		t.Fatal("a refused request produced a socket")
	default:
	}
}
