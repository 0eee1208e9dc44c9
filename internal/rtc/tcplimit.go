package rtc

import (
	"net"
	"net/netip"
	"sync"
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
// host is routinely given whole).
type limitListener struct {
	net.Listener
	max, perAddr int

	mu     sync.Mutex
	open   int
	byAddr map[netip.Addr]int
}

func newLimitListener(ln net.Listener, max, perAddr int) *limitListener {
	return &limitListener{Listener: ln, max: max, perAddr: perAddr, byAddr: map[netip.Addr]int{}}
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
	return &limitedConn{Conn: c, release: func() { l.release(key) }}
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
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
