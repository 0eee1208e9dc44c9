package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"
)

// countingConn records each Write that reaches the "socket".
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes []string
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

// TestConcurrentChurn publishes on several topics while connections
// subscribe, unsubscribe, send directly and close, to let the race detector
// and the lock ordering (fan-out vs. unsubscribe vs. teardown) be exercised.
// Every connection must finish closing and every bus subscription must end.
func TestConcurrentChurn(t *testing.T) {
	t.Parallel()
	bus := newFakeBus()
	ts := newTestServer(t, serverOpts{sub: bus, cfg: Config{SendQueueMessages: 16}})
	const conns = 20
	topics := []string{"t.0", "t.1", "t.2"}

	var servers []*Conn
	for range conns {
		client := ts.dial(t, "", nil)
		go func() { // read and discard until closed
			for {
				if _, _, err := client.Read(context.Background()); err != nil {
					return
				}
			}
		}()
		servers = append(servers, ts.accepted(t))
	}

	var pubs sync.WaitGroup
	for _, topic := range topics {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			for i := range 300 {
				bus.publish(topic, fmt.Appendf(nil, "%s-%d", topic, i))
			}
		}()
	}

	var workers sync.WaitGroup
	for i, sc := range servers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for round := range 30 {
				topic := topics[(i+round)%len(topics)]
				_ = sc.Subscribe(topic, func(_ string, data []byte) ([]byte, bool) {
					return data, round%2 == 0
				})
				sc.Send([]byte("direct"))
				if round%3 == 0 {
					_ = sc.Unsubscribe(topic)
				}
			}
			if i%2 == 0 {
				sc.Close(websocket.StatusNormalClosure, "")
			}
		}()
	}
	workers.Wait()
	pubs.Wait()
	ts.hub.CloseAccount("", 4000, "no-op") // empty account matches nothing
	for _, sc := range servers {
		sc.Close(websocket.StatusNormalClosure, "")
	}
	for _, sc := range servers {
		waitDone(t, sc)
	}
	if st := ts.hub.Stats(); st.Topics != 0 || st.Connections != 0 {
		t.Fatalf("after churn: %+v", st)
	}
	for _, topic := range topics {
		if subs, cancels := bus.counts(topic); subs != cancels {
			t.Fatalf("%s: %d subscribes, %d cancels", topic, subs, cancels)
		}
	}
}

// TestFrameLengths: the gateway frames data messages itself; a standard
// client must read every length class of RFC 6455 §5.2 (7-bit, 16-bit and
// 64-bit lengths, and their edges) and both opcodes intact.
func TestFrameLengths(t *testing.T) {
	t.Parallel()
	sizes := []int{0, 1, 125, 126, 127, 65535, 65536, 200_000}
	for _, binary := range []bool{false, true} {
		ts := newTestServer(t, serverOpts{
			cfg:  Config{SendQueueBytes: 1 << 20, ReadLimit: 1 << 20},
			conn: func(*http.Request) ConnOptions { return ConnOptions{Codec: MessagePerFrame{Binary: binary}} },
		})
		client := ts.dial(t, "", nil)
		client.SetReadLimit(1 << 20)
		sc := ts.accepted(t)
		for _, n := range sizes {
			if !sc.Send(bytes.Repeat([]byte{'a' + byte(n%26)}, n)) {
				t.Fatalf("Send of %d bytes refused", n)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		for _, n := range sizes {
			typ, got, err := client.Read(ctx)
			if err != nil {
				t.Fatalf("read the %d-byte message: %v", n, err)
			}
			want := websocket.MessageText
			if binary {
				want = websocket.MessageBinary
			}
			if typ != want || !bytes.Equal(got, bytes.Repeat([]byte{'a' + byte(n%26)}, n)) {
				t.Fatalf("the %d-byte message arrived as %v with %d bytes", n, typ, len(got))
			}
		}
		cancel()
	}
}

// deadlineConn counts write-deadline changes.
type deadlineConn struct {
	countingConn
	deadlines int
}

func (c *deadlineConn) SetWriteDeadline(time.Time) error {
	c.deadlines++
	return nil
}

// TestWriteDeadlineRefreshedLazily: a busy socket does not pay two deadline
// changes per batch; the deadline moves only when half of it is used up.
func TestWriteDeadlineRefreshedLazily(t *testing.T) {
	t.Parallel()
	under := &deadlineConn{}
	c := &Conn{hub: &Hub{cfg: Config{WriteTimeout: time.Hour}}, nc: under}
	for range 200 {
		if err := c.writeAll([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if under.deadlines != 1 || len(under.writes) != 200 {
		t.Fatalf("%d deadline changes for %d writes, want 1 for 200", under.deadlines, len(under.writes))
	}
	// Past half the timeout, the next write moves the deadline again.
	c.wdeadline = time.Now().Add(time.Hour/2 - time.Second)
	if err := c.writeAll([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if under.deadlines != 2 {
		t.Fatalf("%d deadline changes, want 2 after half the timeout", under.deadlines)
	}
}

// TestDirectWritesKeepOrder: Reply writes straight to the socket while it
// can, and hands the rest of a frame the kernel did not take, and whatever
// follows, to the writer. A client that does not read at first fills the
// socket, so all three paths (direct, a frame's leftover, the queue) run,
// with Send and Reply interleaved; every message must arrive whole and in
// order, with a close frame after the last.
//
// The client reads nothing until every message is handed over, so the
// writer stays blocked on the full socket for as long as building and
// sending the 800 messages takes, and then for as long as the client needs
// to read about 28 MB. On a loaded machine that passed the default
// WriteTimeout (10 s) and CloseTimeout (2 s) and the socket was cut
// mid-frame ("unexpected EOF"); those limits are not what this test is
// about, so here they only catch a write that never completes.
func TestDirectWritesKeepOrder(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, serverOpts{cfg: Config{SendQueueMessages: 1 << 20, SendQueueBytes: 256 << 20,
		WriteTimeout: guard, CloseTimeout: guard}})
	client := ts.dial(t, "", nil)
	sc := ts.accepted(t)
	const n = 800
	msg := func(i int) []byte {
		// sizes cross the 125-byte and 64 KiB frame-length classes
		return append([]byte(fmt.Sprintf("%06d:", i)), bytes.Repeat([]byte{'a' + byte(i%26)}, (i*7919)%70_000)...)
	}
	for i := range n {
		send := sc.Reply
		if i%5 == 4 {
			send = sc.Send
		}
		if !send(msg(i)) {
			t.Fatalf("message %d refused", i)
		}
	}
	sc.Close(websocket.StatusNormalClosure, "done")
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	for i := range n {
		_, got, err := client.Read(ctx)
		if err != nil {
			t.Fatalf("read message %d: %v", i, err)
		}
		if !bytes.Equal(got, msg(i)) {
			t.Fatalf("message %d arrived as %.12q (%d bytes)", i, got, len(got))
		}
	}
	_, _, err := client.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("after the last message: %v, want the close frame", err)
	}
	st := ts.hub.Stats()
	if st.DirectWrites == 0 || st.DirectWrites == n {
		t.Fatalf("%d of %d messages written directly; want some direct and some through the writer", st.DirectWrites, n)
	}
	if st.MessagesSent != n {
		t.Fatalf("%d messages sent, want %d", st.MessagesSent, n)
	}
	t.Logf("%d of %d written by Reply directly", st.DirectWrites, n)
}

// TestDirectWriteAfterWriteDeadline: direct writes keep the socket's write
// deadline fresh too. The descriptor refuses even a non-blocking write once
// its deadline has passed, and a socket whose last blocking write (the
// writer goroutine's, which sets the deadline) lay more than WriteTimeout
// back was cut at its next direct write.
//
// The test puts the socket in that state at once instead of waiting
// WriteTimeout out: holding the writing token, as a writer does, it moves
// the deadline in force (the descriptor's and the one the connection
// remembers) into the past. Pings, which would refresh the deadline
// themselves, are not sent within the hang guard, and WriteTimeout is the
// hang guard, so nothing here depends on the machine's speed.
func TestDirectWriteAfterWriteDeadline(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, serverOpts{cfg: Config{WriteTimeout: guard, PingInterval: guard, PongTimeout: guard}})
	client := ts.dial(t, "", nil)
	sc := ts.accepted(t)
	if !sc.Reply([]byte("m0")) {
		t.Fatal("Reply refused")
	}
	if got := readText(t, client); got != "m0" {
		t.Fatalf("got %q", got)
	}

	sc.qmu.Lock()
	for sc.writing {
		sc.writable.Wait()
	}
	sc.writing = true
	sc.qmu.Unlock()
	past := time.Now().Add(-time.Second)
	sc.wdeadline = past
	err := sc.nc.SetWriteDeadline(past)
	sc.qmu.Lock()
	sc.writing = false
	sc.writable.Broadcast()
	sc.qmu.Unlock()
	if err != nil {
		t.Fatal(err)
	}

	direct := ts.hub.Stats().DirectWrites
	if !sc.Reply([]byte("m1")) {
		t.Fatal("Reply after the deadline refused")
	}
	if got := readText(t, client); got != "m1" {
		t.Fatalf("got %q", got)
	}
	if ts.hub.Stats().DirectWrites == direct {
		t.Fatal("the reply after the deadline was not written directly")
	}
}

// TestSendAllKeepsOrder: a fan-out large enough to take several flusher
// workers still delivers every message to every socket, in order, and goes
// through the sockets' queues, never written by the caller (DirectWrites
// stays 0): a message queued behind one not yet written joins its write.
//
// The clients read only after all 300 have connected and every message is
// sent; on a loaded machine that took past the default ping interval (30 s)
// plus pong deadline (15 s), and the sockets dialled first were closed with
// "ping timeout" before their messages were read. Pings are not what this
// test is about, so none is sent within the hang guard.
func TestSendAllKeepsOrder(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, serverOpts{cfg: Config{PingInterval: guard, PongTimeout: guard}})
	const sockets, msgs = 300, 10
	clients := make([]*websocket.Conn, sockets)
	conns := make([]*Conn, sockets)
	for i := range sockets {
		clients[i] = ts.dial(t, "", nil)
		conns[i] = ts.accepted(t)
	}
	for m := range msgs {
		SendAll(conns, []byte(fmt.Sprint("m", m)))
	}
	for i, cl := range clients {
		for m := range msgs {
			if got := readText(t, cl); got != fmt.Sprint("m", m) {
				t.Fatalf("socket %d: message %d is %q", i, m, got)
			}
		}
	}
	if st := ts.hub.Stats(); st.MessagesSent != sockets*msgs || st.DirectWrites != 0 {
		t.Fatalf("stats = %+v, want %d sent, none by SendAll's caller", st, sockets*msgs)
	}
}

// TestAppendFrameHeader checks the hand-appended frame header against the
// WebSocket library's own header writer and reader at every length-encoding
// boundary (7-bit, 16-bit, 64-bit) and for each opcode the gateway sends.
func TestAppendFrameHeader(t *testing.T) {
	t.Parallel()
	ops := []ws.OpCode{ws.OpText, ws.OpBinary, ws.OpClose, ws.OpPing, ws.OpPong}
	lengths := []int{0, 1, 125, 126, 127, 0xfffe, 0xffff, 0x10000, 1 << 20, 1<<31 + 5}
	for _, op := range ops {
		for _, n := range lengths {
			t.Run(fmt.Sprintf("op=%d/n=%d", op, n), func(t *testing.T) {
				t.Parallel()
				h := ws.Header{Fin: true, OpCode: op, Length: int64(n)}
				var want bytes.Buffer
				if err := ws.WriteHeader(&want, h); err != nil {
					t.Fatal(err)
				}
				got := appendFrameHeader([]byte("x"), op, n)
				if !bytes.Equal(got[1:], want.Bytes()) || got[0] != 'x' {
					t.Fatalf("header % x, want % x (after the prefix)", got[1:], want.Bytes())
				}
				back, err := ws.ReadHeader(bytes.NewReader(got[1:]))
				if err != nil || back != h {
					t.Fatalf("read back %+v, %v; want %+v", back, err, h)
				}
			})
		}
	}
}
