package rtc

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"
)

// fakeConn is one end of a pipe that claims a remote address.
type fakeConn struct {
	net.Conn
	remote net.Addr
}

func (c fakeConn) RemoteAddr() net.Addr { return c.remote }

// conn makes a connection from ip; the returned peer sees it closed.
func conn(ip string) (net.Conn, net.Conn) {
	a, b := net.Pipe()
	return fakeConn{Conn: a, remote: &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}}, b
}

const hangGuard = 2 * time.Minute

// closed reports whether the server side of a pipe was closed.
func closed(t *testing.T, peer net.Conn) bool {
	t.Helper()
	_ = peer.SetReadDeadline(time.Now().Add(hangGuard))
	_, err := peer.Read(make([]byte, 1))
	return errors.Is(err, io.EOF)
}

// TestICETCPConnectionsBounded shows the ICE-TCP listener's bounds: past
// MaxTCPConnsPerAddr from one address (an IPv6 /64 counting as one) a
// connection is closed before pion sees it, others' addresses still get in
// up to MaxTCPConns, and closing a connection gives its place back.
func TestICETCPConnectionsBounded(t *testing.T) {
	t.Parallel()
	l := newLimitListener(nil, 4, 2)
	accept := func(ip string) (net.Conn, net.Conn) {
		t.Helper()
		c, peer := conn(ip)
		got := l.admit(c)
		if got == nil && !closed(t, peer) {
			t.Fatalf("a refused connection from %s was not closed", ip)
		}
		return got, peer
	}
	a1, _ := accept("198.51.100.1")
	a2, _ := accept("198.51.100.1")
	if a1 == nil || a2 == nil {
		t.Fatal("the first two connections of an address were refused")
	}
	if c, _ := accept("198.51.100.1"); c != nil {
		t.Fatal("a third connection from one address was let in with a bound of 2")
	}
	if c, _ := accept("2001:db8:1:2::1"); c == nil {
		t.Fatal("an IPv6 address was refused")
	}
	if c, _ := accept("2001:db8:1:2:ffff::9"); c == nil {
		t.Fatal("a second address of the /64 was refused with a bound of 2")
	}
	if c, _ := accept("2001:db8:1:2::77"); c != nil {
		t.Fatal("a third address of one /64 was let in with a bound of 2")
	}
	// Four open: nobody else gets in.
	if c, _ := accept("203.0.113.5"); c != nil {
		t.Fatal("a fifth connection was let in with a node bound of 4")
	}
	_ = a1.Close()
	if c, _ := accept("198.51.100.1"); c == nil {
		t.Fatal("a closed connection's place was not given back")
	}
}

// TestPlaneBoundsICETCP shows that the plane's ICE-TCP port applies the
// bound: with one connection allowed per address, a second from loopback
// is closed at once while the first stays open (pion itself would keep
// both until its 30 s wait for a STUN binding ran out, the first first).
func TestPlaneBoundsICETCP(t *testing.T) {
	t.Parallel()
	p, err := New(Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", MaxTCPConnsPerAddr: 1}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	first, err := net.Dial("tcp", p.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.Close() })
	second, err := net.Dial("tcp", p.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = second.Close() })
	if !closed(t, second) {
		t.Fatal("a second ICE-TCP connection from one address was not closed")
	}
	_ = first.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := first.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the first connection was closed too: %v", err)
	}
}

// TestLimitListenerIdle shows LimitListener's idle bound: a read on a
// connection whose peer sends nothing fails once idle has passed (the
// protocol's reader then closes it), where it would otherwise wait for
// good.
func TestLimitListenerIdle(t *testing.T) {
	t.Parallel()
	l := LimitListener(nil, 4, 4, 10*time.Millisecond).(*limitListener)
	c, peer := conn("198.51.100.1")
	t.Cleanup(func() { _ = peer.Close() })
	got := l.admit(c)
	if got == nil {
		t.Fatal("refused")
	}
	t.Cleanup(func() { _ = got.Close() })
	if _, err := got.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read from a silent peer: %v, want a deadline error", err)
	}
}
