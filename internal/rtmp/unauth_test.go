package rtmp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// closedBeforeAnswer sends connect and reads until the server answers it
// (false) or closes the connection (true). A write that fails because
// the server already closed counts as closed.
func closedBeforeAnswer(t *testing.T, cl *Client) bool {
	t.Helper()
	if err := cl.command(3, 0, "connect", 1.0, Object{"app": "live"}); err != nil {
		return true
	}
	_ = cl.c.SetReadDeadline(time.Now().Add(hangGuard))
	for {
		m, err := cl.r.ReadMessage()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server neither answered nor closed")
			}
			return true
		}
		if m.Type == TypeSetChunkSize && len(m.Payload) >= 4 {
			if err := cl.r.SetChunkSize(binary.BigEndian.Uint32(m.Payload)); err != nil {
				t.Fatal(err)
			}
		}
		if m.Type == TypeCommandAMF0 {
			if vals, _ := DecodeAMF0(m.Payload); len(vals) > 0 && vals[0] == "_result" {
				return false
			}
		}
	}
}

// TestUnpublishedConnectionHoldsLittle: before a publish is accepted (the
// handshake needs no stream key) a connection may not make the server
// hold more than a few command messages' worth: a message announced
// larger than 64 KiB, or unfinished messages past 128 KiB together, close
// it. It used to be able to hold 64 MiB (60 chunk streams × 1 MiB, on 32
// connections: 2.2 GB of RSS).
func TestUnpublishedConnectionHoldsLittle(t *testing.T) {
	t.Parallel()
	// A stall is never taken for a close here.
	s := startServer(t, newRecorder(), Config{ReadTimeout: 10 * hangGuard})
	cases := []struct {
		name string
		raw  func() []byte
	}{
		{"a large message announced", func() []byte {
			var c chunks
			return c.fmt0(6, 0, 1<<20, TypeVideo, 1).fill(32<<10, 0x17).b // its first chunk
		}},
		{"small messages left unfinished", func() []byte {
			var c chunks
			for csid := uint32(4); csid < 9; csid++ { // 5 × 32 KiB held
				c.fmt0(csid, 0, 60<<10, TypeVideo, 1).fill(32<<10, 0x17)
			}
			return c.b
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl, err := Dial(context.Background(), s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			if err := cl.SetChunkSize(32 << 10); err != nil {
				t.Fatal(err)
			}
			_ = cl.c.SetWriteDeadline(time.Now().Add(hangGuard))
			if _, err := cl.c.Write(tc.raw()); err == nil && !closedBeforeAnswer(t, cl) {
				t.Fatal("the connection kept its unfinished messages and was answered")
			}
		})
	}
	// Commands as publishers send them are still answered.
	cl, err := Dial(context.Background(), s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if closedBeforeAnswer(t, cl) {
		t.Fatal("a plain connect was refused")
	}
}

// TestPublisherSendsLargeMessages: once the key is accepted the limits of
// an unpublished connection are lifted, so a keyframe of a megabyte
// arrives whole.
func TestPublisherSendsLargeMessages(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	s := startServer(t, rec, Config{})
	cl, err := Dial(context.Background(), s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Publish("live", "good"); err != nil {
		t.Fatal(err)
	}
	if err := cl.SetChunkSize(4096); err != nil {
		t.Fatal(err)
	}
	if err := cl.WriteMedia(TypeVideo, 0, bytes.Repeat([]byte{0x17}, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := cl.Unpublish(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-rec.closed:
		if err != nil {
			t.Fatalf("stream closed with %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("stream not closed")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.video != 1 || len(rec.keyTS) != 1 {
		t.Fatalf("got %d video messages", rec.video)
	}
}

// TestUnfinishedMessageEndsAtPublishTimeout: a connection that never
// publishes is closed at PublishTimeout even in the middle of a message
// (the read deadline used to be ReadTimeout from the message's start).
func TestUnfinishedMessageEndsAtPublishTimeout(t *testing.T) {
	t.Parallel()
	s := startServer(t, newRecorder(), Config{PublishTimeout: 200 * time.Millisecond, ReadTimeout: 10 * hangGuard})
	cl, err := Dial(context.Background(), s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var c chunks
	if _, err := cl.c.Write(c.fmt0(6, 0, 100, TypeVideo, 1).fill(10, 0).b); err != nil {
		t.Fatal(err)
	}
	_ = cl.c.SetReadDeadline(time.Now().Add(hangGuard))
	_, err = cl.c.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("unpublished connection still open: %v", err)
	}
}

// TestConnectionsCountByIPv6Prefix: the per-address bound counts an IPv6
// client by its /64, so a host cannot take every slot by dialling from 32
// of its addresses; IPv4 addresses (and IPv4-mapped ones) count alone.
func TestConnectionsCountByIPv6Prefix(t *testing.T) {
	t.Parallel()
	key := func(s string) string { return addrKey(net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s))) }
	if a, b := key("[2001:db8:1:2::1]:5000"), key("[2001:db8:1:2:ffff::9]:6000"); a != b {
		t.Fatalf("one /64 counted as %q and %q", a, b)
	}
	if a, b := key("[2001:db8:1:2::1]:5000"), key("[2001:db8:1:3::1]:5000"); a == b {
		t.Fatalf("two /64s counted as one: %q", a)
	}
	if a, b := key("192.0.2.1:5000"), key("[::ffff:192.0.2.1]:6000"); a != b || a != "192.0.2.1" {
		t.Fatalf("IPv4 counted as %q and %q", a, b)
	}
	if a, b := key("192.0.2.1:5000"), key("192.0.2.2:5000"); a == b {
		t.Fatal("two IPv4 addresses counted as one")
	}
}

// closedByServer reports whether the server closed c (a read error that
// is not a timeout); the deadline only stops a hang.
func closedByServer(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(hangGuard))
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
	}
}

// TestUnpublishedConnectionsMakeRoom: when every slot is taken, a new
// connection closes the oldest one that has not published and takes its
// slot, so connections that never publish (no stream key is needed to
// hold one) cannot keep a publisher out; publishers are never closed.
// Before, the newcomer was refused: 32 idle connections from 4 addresses,
// renewed every 30 s, kept every publisher out.
func TestUnpublishedConnectionsMakeRoom(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	s := startServer(t, rec, Config{MaxConns: 2, ReadTimeout: 10 * hangGuard})
	addr := s.Addr().String()
	idle := func() net.Conn {
		cl, err := Dial(context.Background(), addr) // handshaken: surely registered
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		return cl.c
	}
	a, b := idle(), idle()
	pub, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatalf("a publisher could not connect while idle connections held every slot: %v", err)
	}
	defer pub.Close()
	if err := pub.Publish("live", "good"); err != nil {
		t.Fatalf("publish while idle connections held every slot: %v", err)
	}
	if !closedByServer(a) {
		t.Fatal("the oldest idle connection was not closed")
	}
	// The slots: the publisher and b. Newcomers now close b, then each other.
	d := idle()
	if !closedByServer(b) {
		t.Fatal("the idle connection was not closed")
	}
	idle()
	if !closedByServer(d) {
		t.Fatal("the older newcomer was not closed")
	}
	if err := pub.WriteMedia(TypeVideo, 0, []byte{0x17, 1}); err != nil {
		t.Fatal(err)
	}
	if err := pub.Unpublish(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-rec.closed:
		if err != nil {
			t.Fatalf("the publisher was cut: %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("stream not closed")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.video != 1 {
		t.Fatalf("publisher's video: %d", rec.video)
	}
}
