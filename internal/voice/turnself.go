package voice

import (
	"errors"
	"net"
	"net/netip"

	"github.com/pion/turn/v5"

	"github.com/hearth-community/hearth/internal/egress"
)

// The relay and this host's own addresses. A peer at one of the host's
// public addresses passes the address rule (it is public), and what it
// reaches there is every service the host runs on any interface: the
// database, the bus, a metrics or profiling port, Hearth's own HTTP,
// coming from the host itself, which a host firewall lets through where it
// refuses the same connection from outside (Linux delivers it on the
// loopback interface). TURN permissions name an address, not a port, so
// this is a check of each datagram and connection the relay sends to the
// host itself: it goes through only to the ports voice needs there, the
// media plane's (the SFU's, WHIP's and WHEP's UDP and ICE-TCP ports, which
// a client that needs the relay reaches through it) and the relay's own
// port range (two relayed clients of one server reach each other there).

// errSelfPeer refuses a relayed TCP connection to a port of this host
// outside selfGuard's.
var errSelfPeer = errors.New("voice: the relay does not connect to this host's own services")

// selfGuard decides which of the host's own addresses and ports the relay
// may send to.
type selfGuard struct {
	own      map[netip.Addr]bool
	udp, tcp uint16 // the media plane's ports (0: none)
	lo, hi   uint16 // the relay port range
}

// newSelfGuard returns the guard over the host's public addresses (the
// advertised one and the interfaces'); nil when there is none, as on a
// host reached only through private or loopback addresses, which the
// permission rule refuses already.
func newSelfGuard(cfg TURNConfig, public netip.Addr) *selfGuard {
	g := &selfGuard{own: map[netip.Addr]bool{}, udp: cfg.MediaUDPPort, tcp: cfg.MediaTCPPort, lo: cfg.MinPort, hi: cfg.MaxPort}
	addrs := []netip.Addr{public}
	if ifs, err := net.InterfaceAddrs(); err == nil {
		for _, ia := range ifs {
			if p, err := netip.ParsePrefix(ia.String()); err == nil {
				addrs = append(addrs, p.Addr())
			}
		}
	}
	for _, a := range addrs {
		if a = a.Unmap(); a.IsValid() && egress.CheckAddr(a, false) == nil {
			g.own[a] = true
		}
	}
	if len(g.own) == 0 {
		return nil
	}
	return g
}

// allows reports whether the relay may send to ap over tcp or UDP.
func (g *selfGuard) allows(ap netip.AddrPort, tcp bool) bool {
	if !g.own[ap.Addr().Unmap()] {
		return true
	}
	p := ap.Port()
	media := g.udp
	if tcp {
		media = g.tcp
	}
	return (media != 0 && p == media) || (p >= g.lo && p <= g.hi)
}

func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort()
	case *net.TCPAddr:
		return a.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// guardedRelay hands out relays that keep to g.
type guardedRelay struct {
	turn.RelayAddressGenerator
	g *selfGuard
}

func (r guardedRelay) AllocatePacketConn(c turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	pc, addr, err := r.RelayAddressGenerator.AllocatePacketConn(c)
	if err != nil {
		return nil, nil, err
	}
	return &guardedPacketConn{PacketConn: pc, g: r.g}, addr, nil
}

func (r guardedRelay) AllocateConn(c turn.AllocateConnConfig) (net.Conn, error) {
	if !r.g.allows(addrPort(c.RemoteAddr), true) {
		return nil, errSelfPeer
	}
	return r.RelayAddressGenerator.AllocateConn(c)
}

// guardedPacketConn drops a datagram for a port of this host outside g's,
// as the relay drops one for a peer without a permission.
type guardedPacketConn struct {
	net.PacketConn
	g *selfGuard
}

func (c *guardedPacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if !c.g.allows(addrPort(addr), false) {
		return len(p), nil
	}
	return c.PacketConn.WriteTo(p, addr)
}
