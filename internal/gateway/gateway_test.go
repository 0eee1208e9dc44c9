package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		sub     Subscriber
		wantErr string
	}{
		{name: "zero config gets defaults", sub: nopSubscriber},
		{name: "nil subscriber", wantErr: "nil Subscriber"},
		{name: "negative ping interval", cfg: Config{PingInterval: -time.Second}, sub: nopSubscriber, wantErr: "PingInterval"},
		{name: "negative pong timeout", cfg: Config{PongTimeout: -1}, sub: nopSubscriber, wantErr: "PongTimeout"},
		{name: "negative idle timeout", cfg: Config{IdleTimeout: -1}, sub: nopSubscriber, wantErr: "IdleTimeout"},
		{name: "negative read limit", cfg: Config{ReadLimit: -1}, sub: nopSubscriber, wantErr: "ReadLimit"},
		{name: "negative queue messages", cfg: Config{SendQueueMessages: -1}, sub: nopSubscriber, wantErr: "SendQueueMessages"},
		{name: "negative queue bytes", cfg: Config{SendQueueBytes: -5}, sub: nopSubscriber, wantErr: "SendQueueBytes"},
		{name: "bad origin pattern", cfg: Config{OriginPatterns: []string{"[a-"}}, sub: nopSubscriber, wantErr: "bad pattern"},
		{name: "empty origin pattern", cfg: Config{OriginPatterns: []string{""}}, sub: nopSubscriber, wantErr: "empty pattern"},
		{name: "skip verify with patterns", cfg: Config{InsecureSkipVerify: true, OriginPatterns: []string{"a.example"}}, sub: nopSubscriber, wantErr: "mutually exclusive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := New(tt.cfg, tt.sub, nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				got := h.Config()
				if got.SendQueueMessages != DefaultSendQueueMessages || got.SendQueueBytes != DefaultSendQueueBytes ||
					got.PingInterval != DefaultPingInterval || got.ReadLimit != DefaultReadLimit {
					t.Fatalf("defaults not applied: %+v", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestSendReceive(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, serverOpts{})
	client := ts.dial(t, "", nil)
	sc := ts.accepted(t)

	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	for _, msg := range []string{"hello", `{"op":"HEARTBEAT"}`, "third"} {
		if err := client.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatalf("client write: %v", err)
		}
		if got := readText(t, client); got != msg {
			t.Fatalf("echo = %q, want %q", got, msg)
		}
	}
	if !sc.Send([]byte("pushed")) {
		t.Fatal("Send returned false on a healthy connection")
	}
	if got := readText(t, client); got != "pushed" {
		t.Fatalf("got %q, want pushed", got)
	}
	if err := client.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("client close: %v", err)
	}
	if err := ts.runErr(t); err != nil {
		t.Fatalf("Run after a client close = %v, want nil", err)
	}
	waitDone(t, sc)
	if sc.Send([]byte("late")) {
		t.Fatal("Send on a closed connection returned true")
	}
	st := ts.hub.Stats()
	if st.Connections != 0 || st.Accepted != 1 || st.MessagesSent != 4 {
		t.Fatalf("stats = %+v", st)
	}
}

// gatedCodec blocks its first Encode until released, so the test can queue
// several messages while the writer is busy, and records batch sizes.
type gatedCodec struct {
	inner   Codec
	entered chan struct{}
	release chan struct{}

	mu      sync.Mutex
	batches []int
}

func (g *gatedCodec) Encode(buf []byte, batch [][]byte, emit func(websocket.MessageType, []byte) error) ([]byte, error) {
	g.mu.Lock()
	g.batches = append(g.batches, len(batch))
	first := len(g.batches) == 1
	g.mu.Unlock()
	if first {
		close(g.entered)
		<-g.release
	}
	return g.inner.Encode(buf, batch, emit)
}

func TestCoalescedWrites(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		codec      Codec
		wantFrames []string
	}{
		{
			name:       "owncast newline batch",
			codec:      NewlineBatch{},
			wantFrames: []string{"m0", "m1\nm2\nm3\nm4\nm5"},
		},
		{
			name:       "newline batch split at max frame bytes",
			codec:      NewlineBatch{MaxFrameBytes: 8},
			wantFrames: []string{"m0", "m1\nm2\nm3", "m4\nm5"},
		},
		{
			name:       "one frame per message",
			codec:      MessagePerFrame{},
			wantFrames: []string{"m0", "m1", "m2", "m3", "m4", "m5"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := &gatedCodec{inner: tt.codec, entered: make(chan struct{}), release: make(chan struct{})}
			ts := newTestServer(t, serverOpts{conn: func(*http.Request) ConnOptions { return ConnOptions{Codec: g} }})
			client := ts.dial(t, "", nil)
			sc := ts.accepted(t)

			sc.Send([]byte("m0"))
			select {
			case <-g.entered:
			case <-time.After(guard):
				t.Fatal("writer never called the codec")
			}
			for i := 1; i < 6; i++ {
				if !sc.Send(fmt.Appendf(nil, "m%d", i)) {
					t.Fatalf("Send m%d failed", i)
				}
			}
			close(g.release)

			for _, want := range tt.wantFrames {
				if got := readText(t, client); got != want {
					t.Fatalf("frame = %q, want %q", got, want)
				}
			}
			g.mu.Lock()
			batches := append([]int(nil), g.batches...)
			g.mu.Unlock()
			if len(batches) != 2 || batches[0] != 1 || batches[1] != 5 {
				t.Fatalf("codec batches = %v, want [1 5]", batches)
			}
			if msgs, _ := sc.QueueHighWater(); msgs != 6 {
				t.Fatalf("queue high water = %d messages, want 6", msgs)
			}
			sc.Close(websocket.StatusNormalClosure, "")
			wantClose(t, client, websocket.StatusNormalClosure, "")
			waitDone(t, sc)
			st := ts.hub.Stats()
			if st.MessagesSent != 6 || st.FramesSent != uint64(len(tt.wantFrames)) {
				t.Fatalf("stats sent=%d frames=%d, want 6 and %d", st.MessagesSent, st.FramesSent, len(tt.wantFrames))
			}
		})
	}
}

// writeNotifier passes frames through and reports each completed write.
type writeNotifier struct{ written chan struct{} }

func (w writeNotifier) Encode(buf []byte, batch [][]byte, emit func(websocket.MessageType, []byte) error) ([]byte, error) {
	return MessagePerFrame{}.Encode(buf, batch, func(typ websocket.MessageType, p []byte) error {
		err := emit(typ, p)
		select {
		case w.written <- struct{}{}:
		default:
		}
		return err
	})
}

func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	const (
		maxMsgs  = 8
		maxBytes = 256 << 10
		msgSize  = 32 << 10
	)
	tests := []struct {
		name string
		// fillSocket first sends one message at a time until a write stops
		// completing (the client's receive and our send buffers are full),
		// so the overflow happens with the writer blocked on the socket;
		// otherwise a burst of Sends overflows the queue at once.
		fillSocket   bool
		writeTimeout time.Duration
		readsLate    bool
	}{
		// The client never reads: the blocked write times out and the
		// socket is dropped.
		{name: "burst, never reads", writeTimeout: 2 * time.Second},
		{name: "socket full, never reads", fillSocket: true, writeTimeout: 2 * time.Second},
		// The client stalls, then drains: it gets what was in flight and
		// then the 1008 close frame.
		{name: "burst, reads late", writeTimeout: guard, readsLate: true},
		{name: "socket full, reads late", fillSocket: true, writeTimeout: guard, readsLate: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			written := make(chan struct{}, 1)
			// A client that reads late must get the 1008 close frame
			// however long draining what was in flight takes it; 300 ms
			// is only for the clients that never read, where it bounds
			// how long the dropped socket lingers.
			closeTimeout := 300 * time.Millisecond
			if tt.readsLate {
				closeTimeout = guard
			}
			ts := newTestServer(t, serverOpts{
				cfg: Config{
					SendQueueMessages: maxMsgs,
					SendQueueBytes:    maxBytes,
					WriteTimeout:      tt.writeTimeout,
					CloseTimeout:      closeTimeout,
				},
				conn: func(*http.Request) ConnOptions { return ConnOptions{Codec: writeNotifier{written}} },
			})
			client := ts.dial(t, "", nil)
			sc := ts.accepted(t)

			msg := bytes.Repeat([]byte("x"), msgSize)
			sent := 0
			if tt.fillSocket {
				// Once a write blocks on a full socket it stays blocked
				// (nobody reads), so the 100 ms is a detector, not a sleep:
				// a write that is merely slow just leads to an earlier burst.
			fill:
				for ; sent < 100_000; sent++ {
					if !sc.Send(msg) {
						t.Fatalf("queue overflowed while paced, after %d messages", sent)
					}
					select {
					case <-written:
					case <-time.After(100 * time.Millisecond):
						sent++
						break fill
					}
				}
			}
			for sc.Send(msg) {
				sent++
				if sent > 100_000 {
					t.Fatal("queue never overflowed")
				}
			}
			if tt.readsLate {
				msgs, ce := readClose(t, client)
				if ce.Code != StatusSlowConsumer || ce.Reason != ReasonSlowConsumer {
					t.Fatalf("close = %d %q, want %d %q", ce.Code, ce.Reason, StatusSlowConsumer, ReasonSlowConsumer)
				}
				// What was already written or being written arrives; the
				// queued rest was dropped.
				if len(msgs) > sent || (tt.fillSocket && len(msgs) == 0) {
					t.Fatalf("client read %d messages of %d sent", len(msgs), sent)
				}
			}
			waitDone(t, sc)
			hwMsgs, hwBytes := sc.QueueHighWater()
			if hwMsgs > maxMsgs || hwBytes > maxBytes {
				t.Fatalf("queue high water %d msgs / %d bytes exceeds bound %d / %d", hwMsgs, hwBytes, maxMsgs, maxBytes)
			}
			if hwMsgs == 0 {
				t.Fatal("queue high water is zero")
			}
			if st := ts.hub.Stats(); st.SlowConsumers != 1 || st.Connections != 0 {
				t.Fatalf("stats = %+v, want one slow consumer and no connections", st)
			}
			if sc.Send(msg) {
				t.Fatal("Send after slow-consumer close returned true")
			}
			t.Logf("%d messages sent, high water %d msgs / %d bytes", sent, hwMsgs, hwBytes)
		})
	}
}

func TestOversizeMessageDropped(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, serverOpts{cfg: Config{SendQueueBytes: 1024}})
	client := ts.dial(t, "", nil)
	sc := ts.accepted(t)
	if sc.Send(make([]byte, 2048)) {
		t.Fatal("Send of a message larger than the queue returned true")
	}
	if !sc.Send([]byte("small")) {
		t.Fatal("connection closed after an oversize message")
	}
	if got := readText(t, client); got != "small" {
		t.Fatalf("got %q", got)
	}
	if st := ts.hub.Stats(); st.OversizeDropped != 1 || st.SlowConsumers != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	cfg := Config{PingInterval: 20 * time.Millisecond, PongTimeout: 200 * time.Millisecond, CloseTimeout: 200 * time.Millisecond}

	t.Run("unanswered ping closes", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t, serverOpts{cfg: cfg})
		// A coder/websocket client answers pings only while reading, so a
		// client that never reads never pongs.
		_ = ts.dial(t, "", nil)
		sc := ts.accepted(t)
		waitDone(t, sc)
		if st := ts.hub.Stats(); st.PingTimeouts != 1 {
			t.Fatalf("PingTimeouts = %d, want 1", st.PingTimeouts)
		}
		if err := ts.runErr(t); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	})

	t.Run("answered pings keep the socket", func(t *testing.T) {
		t.Parallel()
		pongs := make(chan struct{}, 64)
		// A generous pong deadline: this case checks that answered pings
		// keep the socket, and a loaded machine may take longer than the
		// other case's 200 ms to carry a ping and its pong.
		answered := cfg
		answered.PongTimeout = guard
		ts := newTestServer(t, serverOpts{cfg: answered, onPong: func(*Conn) {
			select {
			case pongs <- struct{}{}:
			default:
			}
		}})
		client := ts.dial(t, "", nil)
		client.CloseRead(context.Background())
		sc := ts.accepted(t)
		for i := range 5 {
			select {
			case <-pongs:
			case <-sc.Done():
				t.Fatalf("closed after %d pongs", i)
			case <-time.After(guard):
				t.Fatalf("only %d pongs", i)
			}
		}
		if st := ts.hub.Stats(); st.PingTimeouts != 0 {
			t.Fatalf("PingTimeouts = %d, want 0", st.PingTimeouts)
		}
	})
}

// TestPingAfterWriteDeadline: a batch write's deadline must not outlive the
// batch. A socket that received one message and then went quiet (a watch
// room between actions) was cut with 1006 by the next ping after
// WriteTimeout, which OpenTogetherTube's k6 average-load scenario showed.
func TestPingAfterWriteDeadline(t *testing.T) {
	t.Parallel()
	pongs := make(chan struct{}, 64)
	// The pong deadline is the hang guard: with 200 ms a loaded machine that
	// carried a ping and its pong more slowly closed the socket with "ping
	// timeout", which this test read as the bug. A ping written after a stale
	// write deadline still fails at once and closes the socket.
	ts := newTestServer(t, serverOpts{cfg: Config{PingInterval: 20 * time.Millisecond, PongTimeout: guard,
		WriteTimeout: 30 * time.Millisecond, CloseTimeout: 200 * time.Millisecond}, onPong: func(*Conn) {
		select {
		case pongs <- struct{}{}:
		default:
		}
	}})
	client := ts.dial(t, "", nil)
	sc := ts.accepted(t)
	if !sc.Send([]byte("hello")) {
		t.Fatal("Send refused")
	}
	if got := readText(t, client); got != "hello" {
		t.Fatalf("read %q", got)
	}
	go func() {
		for {
			if _, _, err := client.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	// Drop pongs from before the message arrived; the fifth ping after it
	// is at least four ping intervals (80 ms) past the batch's 30 ms deadline.
	for len(pongs) > 0 {
		<-pongs
	}
	for i := range 5 {
		select {
		case <-pongs:
		case <-sc.Done():
			t.Fatalf("closed after %d pongs following a write", i)
		case <-time.After(guard):
			t.Fatalf("only %d pongs following a write", i)
		}
	}
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, serverOpts{conn: func(*http.Request) ConnOptions {
		return ConnOptions{IdleTimeout: 100 * time.Millisecond}
	}})
	client := ts.dial(t, "", nil)
	sc := ts.accepted(t)
	// Reading answers pings but sends no data frame.
	wantClose(t, client, StatusIdleTimeout, ReasonIdleTimeout)
	waitDone(t, sc)
	if st := ts.hub.Stats(); st.IdleTimeouts != 1 {
		t.Fatalf("IdleTimeouts = %d, want 1", st.IdleTimeouts)
	}
}

// TestIdleTimeoutCountsPings: a client's ping is activity, as any inbound
// frame is for Together's gateway (its 300 s wait starts again on each): a
// bot whose WebSocket library pings but that sends no HEARTBEAT stays
// connected there, and was cut off every five minutes here. The check is
// run by hand on a socket whose last data frame is backdated past the
// timeout, so nothing depends on timing.
func TestIdleTimeoutCountsPings(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, serverOpts{conn: func(*http.Request) ConnOptions {
		return ConnOptions{IdleTimeout: time.Hour}
	}})
	client := ts.dial(t, "", nil)
	sc := ts.accepted(t)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	// An echo: Serve has started (and stored its first lastData).
	if err := client.Write(ctx, websocket.MessageText, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got := readText(t, client); got != "x" {
		t.Fatalf("read %q", got)
	}
	go func() { // reading sees the pong
		for {
			if _, _, err := client.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	sc.lastData.Store(time.Now().Add(-2 * time.Hour).UnixNano())
	if err := client.Ping(ctx); err != nil { // answered: the server has read it
		t.Fatalf("ping: %v", err)
	}
	sc.idleCheck()
	sc.qmu.Lock()
	closing := sc.closing
	sc.qmu.Unlock()
	if closing || ts.hub.Stats().IdleTimeouts != 0 {
		t.Fatal("a socket that pinged within the idle timeout was closed as idle")
	}
}

func TestReadLimit(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, serverOpts{cfg: Config{ReadLimit: 1024}})
	client := ts.dial(t, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := client.Write(ctx, websocket.MessageText, make([]byte, 1024)); err != nil {
		t.Fatalf("write: %v", err)
	}
	if got := readText(t, client); len(got) != 1024 {
		t.Fatalf("echo of a message at the limit has %d bytes", len(got))
	}
	if err := client.Write(ctx, websocket.MessageText, make([]byte, 1025)); err != nil {
		t.Fatalf("write: %v", err)
	}
	_, ce := readClose(t, client)
	if ce.Code != websocket.StatusMessageTooBig {
		t.Fatalf("close = %d %q, want 1009", ce.Code, ce.Reason)
	}
	if err := ts.runErr(t); !errors.Is(err, websocket.ErrMessageTooBig) {
		t.Fatalf("Run = %v, want ErrMessageTooBig", err)
	}
}

func TestHandlerError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		wantCode   websocket.StatusCode
		wantReason string
	}{
		{name: "close error chooses the code", err: fmt.Errorf("auth: %w", websocket.CloseError{Code: 4004, Reason: "missing token"}), wantCode: 4004, wantReason: "missing token"},
		{name: "other errors close with 1011", err: errors.New("boom"), wantCode: websocket.StatusInternalError, wantReason: "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, serverOpts{handle: func(c *Conn, _ websocket.MessageType, data []byte) error {
				c.Send([]byte("reply before close"))
				return tt.err
			}})
			client := ts.dial(t, "", nil)
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			if err := client.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
				t.Fatalf("write: %v", err)
			}
			msgs, ce := readClose(t, client)
			if len(msgs) != 1 || msgs[0] != "reply before close" {
				t.Fatalf("messages before close = %q", msgs)
			}
			if ce.Code != tt.wantCode || ce.Reason != tt.wantReason {
				t.Fatalf("close = %d %q, want %d %q", ce.Code, ce.Reason, tt.wantCode, tt.wantReason)
			}
			if err := ts.runErr(t); !errors.Is(err, tt.err) {
				t.Fatalf("Run = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestCloseDrainsQueue(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, serverOpts{})
	client := ts.dial(t, "", nil)
	sc := ts.accepted(t)
	// Owncast: one error frame, then close.
	sc.Send([]byte(`{"type":"ERROR_NEEDS_REGISTRATION"}`))
	sc.Close(4000, strings.Repeat("é", 100)) // reason longer than a close frame allows
	msgs, ce := readClose(t, client)
	if len(msgs) != 1 || msgs[0] != `{"type":"ERROR_NEEDS_REGISTRATION"}` {
		t.Fatalf("messages = %q", msgs)
	}
	if ce.Code != 4000 || len(ce.Reason) > 123 || !strings.HasPrefix(ce.Reason, "éé") {
		t.Fatalf("close = %d %q (%d bytes)", ce.Code, ce.Reason, len(ce.Reason))
	}
	waitDone(t, sc)
	if sc.Context().Err() == nil {
		t.Fatal("Context not cancelled after close")
	}
}

func TestRunContextCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	hub, err := New(Config{}, nopSubscriber, nil)
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	srv := newRawServer(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := hub.Accept(w, r, ConnOptions{})
		if err != nil {
			runErr <- err
			return
		}
		runErr <- c.Run(ctx, func(context.Context, websocket.MessageType, []byte) error { return nil })
	})
	client := dialRaw(t, srv)
	cancel()
	wantClose(t, client, websocket.StatusGoingAway, "")
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(guard):
		t.Fatal("Run did not return")
	}
}

func TestCloseAccountAndSession(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		close func(h *Hub) int
	}{
		{name: "account", close: func(h *Hub) int { return h.CloseAccount("alice", 4003, "account disabled") }},
		{name: "session", close: func(h *Hub) int { return h.CloseSession("s-alice", 4003, "account disabled") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, serverOpts{conn: func(r *http.Request) ConnOptions {
				acct := r.URL.Query().Get("acct")
				return ConnOptions{AccountID: acct, SessionID: "s-" + acct}
			}})
			alice1 := ts.dial(t, "?acct=alice", nil)
			alice2 := ts.dial(t, "?acct=alice", nil)
			bob := ts.dial(t, "?acct=bob", nil)
			var conns []*Conn
			for range 3 {
				conns = append(conns, ts.accepted(t))
			}

			if n := tt.close(ts.hub); n != 2 {
				t.Fatalf("closed %d sockets, want 2", n)
			}
			wantClose(t, alice1, 4003, "account disabled")
			wantClose(t, alice2, 4003, "account disabled")

			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			if err := bob.Write(ctx, websocket.MessageText, []byte("still here")); err != nil {
				t.Fatalf("bob write: %v", err)
			}
			if got := readText(t, bob); got != "still here" {
				t.Fatalf("bob got %q", got)
			}
			for _, c := range conns {
				if c.AccountID() == "alice" {
					waitDone(t, c)
				}
			}
			if n := tt.close(ts.hub); n != 0 {
				t.Fatalf("second close found %d sockets", n)
			}
			if st := ts.hub.Stats(); st.Connections != 1 {
				t.Fatalf("Connections = %d, want 1", st.Connections)
			}
		})
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	hub, err := New(Config{}, nopSubscriber, nil)
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan *Conn, 4)
	srv := newRawServer(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := hub.Accept(w, r, ConnOptions{})
		if err != nil {
			return
		}
		accepted <- c
		_ = c.Run(context.Background(), func(context.Context, websocket.MessageType, []byte) error { return nil })
	})
	c1, c2 := dialRaw(t, srv), dialRaw(t, srv)
	sc := <-accepted
	<-accepted
	sc.Send([]byte("last words"))

	closes := make(chan error, 2)
	for _, c := range []*websocket.Conn{c1, c2} {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			for {
				if _, _, err := c.Read(ctx); err != nil {
					closes <- err
					return
				}
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := hub.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for range 2 {
		if err := <-closes; websocket.CloseStatus(err) != websocket.StatusGoingAway {
			t.Fatalf("client saw %v, want close 1001", err)
		}
	}
	if st := hub.Stats(); st.Connections != 0 {
		t.Fatalf("Connections after Shutdown = %d", st.Connections)
	}

	dctx, dcancel := context.WithTimeout(context.Background(), guard)
	defer dcancel()
	_, resp, err := websocket.Dial(dctx, wsURL(srv), nil)
	if err == nil {
		t.Fatal("dial after Shutdown succeeded")
	}
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after Shutdown: resp=%v err=%v, want 503", resp, err)
	}
}

func TestShutdownDeadline(t *testing.T) {
	t.Parallel()
	hub, err := New(Config{CloseTimeout: guard}, nopSubscriber, nil)
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan *Conn, 1)
	srv := newRawServer(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := hub.Accept(w, r, ConnOptions{})
		if err != nil {
			return
		}
		accepted <- c
		_ = c.Run(context.Background(), func(context.Context, websocket.MessageType, []byte) error { return nil })
	})
	// The client never reads, so it never answers the close frame; the
	// handshake would wait CloseTimeout, but Shutdown's context ends first.
	_ = dialRaw(t, srv)
	sc := <-accepted
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := hub.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v, want context.Canceled", err)
	}
	waitDone(t, sc)
}

func TestOriginPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cfg    Config
		origin string
		want   int
	}{
		{name: "no origin header", origin: "", want: http.StatusSwitchingProtocols},
		{name: "foreign origin refused", origin: "https://evil.example", want: http.StatusForbidden},
		{name: "allowed pattern", cfg: Config{OriginPatterns: []string{"*.hearth.example"}}, origin: "https://app.hearth.example", want: http.StatusSwitchingProtocols},
		{name: "pattern does not match", cfg: Config{OriginPatterns: []string{"*.hearth.example"}}, origin: "https://hearth.example.evil", want: http.StatusForbidden},
		{name: "skip verify accepts any", cfg: Config{InsecureSkipVerify: true}, origin: "https://evil.example", want: http.StatusSwitchingProtocols},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, serverOpts{cfg: tt.cfg})
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, ts.url, &websocket.DialOptions{HTTPHeader: h})
			if c != nil {
				defer c.CloseNow()
			}
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d (err %v), want %d", resp.StatusCode, err, tt.want)
			}
		})
	}
}

func TestRunNilHandlerDiscards(t *testing.T) {
	t.Parallel()
	hub, err := New(Config{}, nopSubscriber, nil)
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan *Conn, 1)
	srv := newRawServer(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := hub.Accept(w, r, ConnOptions{})
		if err != nil {
			return
		}
		accepted <- c
		_ = c.Run(r.Context(), nil)
	})
	client := dialRaw(t, srv)
	sc := <-accepted
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := client.Write(ctx, websocket.MessageText, []byte("ignored")); err != nil {
		t.Fatal(err)
	}
	sc.Send([]byte("still alive"))
	if got := readText(t, client); got != "still alive" {
		t.Fatalf("got %q", got)
	}
	sc.Close(websocket.StatusNormalClosure, "")
	wantClose(t, client, websocket.StatusNormalClosure, "")
	waitDone(t, sc)
}
