package gateway

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"
)

// TestPingFloodKeepsOnePong shows that a client which sends pings and does
// not read what it is sent cannot make the server hold a pong per ping: the
// writer is held (as a socket whose peer reads nothing holds it), 2,000
// pings of 125 bytes arrive, and only the pong for the latest waits (RFC
// 6455 §5.5.3 allows answering only the most recent ping). Once the writer
// is free the client gets that one pong.
func TestPingFloodKeepsOnePong(t *testing.T) {
	t.Parallel()
	got := make(chan struct{}, 1)
	ts := newTestServer(t, serverOpts{handle: func(c *Conn, typ websocket.MessageType, data []byte) error {
		got <- struct{}{}
		return nil
	}})
	addr := ts.srv.Listener.Addr().String()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	c := ts.accepted(t)

	// Hold the writer's token: nothing is written until it is given back.
	c.qmu.Lock()
	c.writing = true
	c.qmu.Unlock()
	release := func() {
		c.qmu.Lock()
		c.writing = false
		c.writable.Broadcast()
		c.qmu.Unlock()
	}
	t.Cleanup(release)

	const pings = 2000
	payload := func(i int) []byte { return fmt.Appendf(nil, "%0125d", i) }
	bw := bufio.NewWriterSize(nc, 64<<10)
	for i := range pings {
		f := ws.MaskFrameInPlace(ws.NewPingFrame(payload(i)))
		if err := ws.WriteFrame(bw, f); err != nil {
			t.Fatal(err)
		}
	}
	// A data frame after the pings: once the handler has it, every ping
	// before it has been read and answered.
	if err := ws.WriteFrame(bw, ws.MaskFrameInPlace(ws.NewTextFrame([]byte("x")))); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(guard):
		t.Fatal("the data frame after the pings was not handled")
	}

	c.qmu.Lock()
	pending := len(c.ctrl.b)
	c.qmu.Unlock()
	if pending > 2+125 {
		t.Fatalf("%d bytes of control frames wait for the writer after %d pings; want one pong (%d bytes)", pending, pings, 2+125)
	}

	release()
	c.qmu.Lock()
	kick := c.kickLocked()
	c.qmu.Unlock()
	if kick {
		c.hub.flush.schedule(c)
	}
	_ = nc.SetReadDeadline(time.Now().Add(guard))
	h, err := ws.ReadHeader(br)
	if err != nil {
		t.Fatal(err)
	}
	if h.OpCode != ws.OpPong {
		t.Fatalf("first frame %v, want a pong", h.OpCode)
	}
	p := make([]byte, h.Length)
	if _, err := br.Read(p); err != nil {
		t.Fatal(err)
	}
	if want := payload(pings - 1); string(p) != string(want) {
		t.Fatalf("pong payload %q, want the latest ping's %q", p, want)
	}
}
