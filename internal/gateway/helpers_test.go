package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// guard bounds every wait in these tests; it is a failure guard, never a
// synchronisation device.
const guard = hangGuard

// fakeBus is an in-test Subscriber with exact-match topics that counts
// Subscribe and cancel calls per pattern.
type fakeBus struct {
	mu         sync.Mutex
	next       int
	handlers   map[string]map[int]func(string, []byte)
	subscribes map[string]int
	cancels    map[string]int
}

func newFakeBus() *fakeBus {
	return &fakeBus{
		handlers:   make(map[string]map[int]func(string, []byte)),
		subscribes: make(map[string]int),
		cancels:    make(map[string]int),
	}
}

func (b *fakeBus) Subscribe(pattern string, h func(string, []byte)) (func() error, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	id := b.next
	if b.handlers[pattern] == nil {
		b.handlers[pattern] = make(map[int]func(string, []byte))
	}
	b.handlers[pattern][id] = h
	b.subscribes[pattern]++
	var once sync.Once
	return func() error {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			delete(b.handlers[pattern], id)
			b.cancels[pattern]++
		})
		return nil
	}, nil
}

// publish delivers synchronously, one handler at a time (as the bus does).
func (b *fakeBus) publish(topic string, data []byte) {
	b.mu.Lock()
	hs := make([]func(string, []byte), 0, len(b.handlers[topic]))
	for _, h := range b.handlers[topic] {
		hs = append(hs, h)
	}
	b.mu.Unlock()
	for _, h := range hs {
		h(topic, data)
	}
}

func (b *fakeBus) counts(pattern string) (subscribes, cancels int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.subscribes[pattern], b.cancels[pattern]
}

// nopSubscriber is a Subscriber for tests that do not use topics.
var nopSubscriber = SubscriberFunc(func(string, func(string, []byte)) (func() error, error) {
	return func() error { return nil }, nil
})

type testServer struct {
	hub     *Hub
	srv     *httptest.Server
	url     string
	conns   chan *Conn
	runErrs chan error
}

type serverOpts struct {
	cfg     Config
	sub     Subscriber
	conn    func(r *http.Request) ConnOptions
	handle  func(c *Conn, typ websocket.MessageType, data []byte) error
	onPong  func(*Conn)
	noClean bool
}

// newTestServer starts a Hub behind httptest. Accepted conns appear on
// ts.conns, and what Run returned on ts.runErrs. The default handler echoes.
func newTestServer(t testing.TB, o serverOpts) *testServer {
	t.Helper()
	if o.sub == nil {
		o.sub = nopSubscriber
	}
	hub, err := New(o.cfg, o.sub, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hub.onPong = o.onPong
	if o.handle == nil {
		o.handle = func(c *Conn, typ websocket.MessageType, data []byte) error {
			c.Send(data)
			return nil
		}
	}
	ts := &testServer{hub: hub, conns: make(chan *Conn, 2048), runErrs: make(chan error, 2048)}
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var opts ConnOptions
		if o.conn != nil {
			opts = o.conn(r)
		}
		c, err := hub.Accept(w, r, opts)
		if err != nil {
			return
		}
		ts.conns <- c
		ts.runErrs <- c.Run(context.Background(), func(_ context.Context, typ websocket.MessageType, data []byte) error {
			return o.handle(c, typ, data)
		})
	}))
	ts.url = "ws" + strings.TrimPrefix(ts.srv.URL, "http")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		ts.srv.Close()
	})
	return ts
}

// dial connects a client; path may carry a query string.
func (ts *testServer) dial(t testing.TB, path string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	c, _, err := websocket.Dial(ctx, ts.url+path, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(-1)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// accepted returns the server side of the next connection.
func (ts *testServer) accepted(t testing.TB) *Conn {
	t.Helper()
	select {
	case c := <-ts.conns:
		return c
	case <-time.After(guard):
		t.Fatal("no connection accepted")
		return nil
	}
}

func (ts *testServer) runErr(t testing.TB) error {
	t.Helper()
	select {
	case err := <-ts.runErrs:
		return err
	case <-time.After(guard):
		t.Fatal("Run did not return")
		return nil
	}
}

func waitDone(t testing.TB, c *Conn) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(guard):
		t.Fatal("connection did not close")
	}
}

func readText(t testing.TB, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("client read: %v", err)
	}
	return string(data)
}

// readClose reads until the connection ends and returns every message and
// the close status the server sent (-1 if none).
func readClose(t testing.TB, c *websocket.Conn) ([]string, websocket.CloseError) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	var msgs []string
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("no close within %v (got %d messages)", guard, len(msgs))
			}
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return msgs, ce
			}
			return msgs, websocket.CloseError{Code: -1, Reason: err.Error()}
		}
		msgs = append(msgs, string(data))
	}
}

func wantClose(t testing.TB, c *websocket.Conn, code websocket.StatusCode, reason string) {
	t.Helper()
	_, ce := readClose(t, c)
	if ce.Code != code || ce.Reason != reason {
		t.Fatalf("close = %d %q, want %d %q", ce.Code, ce.Reason, code, reason)
	}
}

// newRawServer serves handler on loopback; for tests that manage the Hub
// themselves.
func newRawServer(t testing.TB, handler http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

func wsURL(srv *httptest.Server) string { return "ws" + strings.TrimPrefix(srv.URL, "http") }

func dialRaw(t testing.TB, srv *httptest.Server) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}
