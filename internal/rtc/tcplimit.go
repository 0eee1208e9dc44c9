package rtc

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// Bounds on the ICE-TCP listener (Config.MaxTCPConns, MaxTCPConnsPerAddr).
// A connection there needs no account: pion keeps one that has not sent its
// first STUN binding for 30 s, and one whose binding names a username no
// session has for another 30 s, buffering up to 64 packets (≈ 0.5 MiB) of it.
// A peer connection uses one ICE-TCP connection per candidate pair, and an
// address holds at most 32 WHEP sessions (live) plus its voice connections.
const (
	DefaultMaxTCPConns        = 2048
	DefaultMaxTCPConnsPerAddr = 64
)

// limitListener closes connections past max open ones in all, or past
// perAddr from one address (an IPv6 address counts by its /64, which one
// host is routinely given whole), and, with idle set, a connection that
// sends nothing for that long.
type limitListener struct {
	net.Listener
	max, perAddr int
	idle         time.Duration

	mu     sync.Mutex
	open   int
	byAddr map[netip.Addr]int
}

func newLimitListener(ln net.Listener, max, perAddr int) *limitListener {
	return &limitListener{Listener: ln, max: max, perAddr: perAddr, byAddr: map[netip.Addr]int{}}
}

// LimitListener bounds the connections ln accepts: at most max open at
// once, at most perAddr from one address (an IPv6 /64 counting as one),
// the rest closed as they arrive; with idle > 0, a read that waits longer
// than idle for the peer fails (its reader then closes the connection).
// For listeners of protocols that need no account before they hold a
// connection (ICE-TCP here, the embedded TURN server's TCP port).
func LimitListener(ln net.Listener, max, perAddr int, idle time.Duration) net.Listener {
	l := newLimitListener(ln, max, perAddr)
	l.idle = idle
	return l
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if lc := l.admit(c); lc != nil {
			return lc, nil
		}
	}
}

// admit counts c and returns it wrapped to give its place back on Close,
// or closes it and returns nil when a bound is reached.
func (l *limitListener) admit(c net.Conn) net.Conn {
	key := addrKey(c.RemoteAddr())
	l.mu.Lock()
	if l.open >= l.max || l.byAddr[key] >= l.perAddr {
		l.mu.Unlock()
		_ = c.Close()
		return nil
	}
	l.open++
	l.byAddr[key]++
	l.mu.Unlock()
	return &limitedConn{Conn: c, idle: l.idle, release: func() { l.release(key) }}
}

func (l *limitListener) release(key netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.byAddr[key]--; l.byAddr[key] <= 0 {
		delete(l.byAddr, key)
	}
}

// addrKey is what a connection counts under: its IPv4 address, or its IPv6
// address's /64.
func addrKey(a net.Addr) netip.Addr {
	var ip netip.Addr
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(ta.IP)
	} else if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		ip = ap.Addr()
	}
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return ip
}

type limitedConn struct {
	net.Conn
	idle    time.Duration
	once    sync.Once
	release func()
}

func (c *limitedConn) Read(p []byte) (int, error) {
	if c.idle > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	}
	return c.Conn.Read(p)
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
