package voice

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/turn/v5"
)

// TestTURNRelayKeepsOffOwnServices: the relay sends to this host's own
// public address only at the media plane's ports and its own relay range
// (SSRF sweep, session 31). A permission names an address, and the host's
// public address is public, so before this any credential reached every
// service the host runs on any interface (the database, the bus, a
// profiling port), coming from the host itself. The host's address is
// played here by loopback, marked as its own.
func TestTURNRelayKeepsOffOwnServices(t *testing.T) {
	t.Parallel()
	listen := func(network string) (net.Listener, net.PacketConn, uint16) {
		if network == "tcp" {
			l, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = l.Close() })
			return l, nil, uint16(l.Addr().(*net.TCPAddr).Port)
		}
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return nil, c, uint16(c.LocalAddr().(*net.UDPAddr).Port)
	}
	// The relay range is below the ephemeral ports the stand-ins get.
	_, media, mediaPort := listen("udp")
	_, service, _ := listen("udp")
	mediaTCP, _, mediaTCPPort := listen("tcp")
	serviceTCP, _, _ := listen("tcp")
	g := &selfGuard{own: map[netip.Addr]bool{netip.MustParseAddr("127.0.0.1"): true}, udp: mediaPort, tcp: mediaTCPPort,
		lo: 20000, hi: 20999}
	gen := guardedRelay{RelayAddressGenerator: &turn.RelayAddressGeneratorPortRange{RelayAddress: net.IPv4(127, 0, 0, 1),
		Address: "127.0.0.1", MinPort: 20000, MaxPort: 20999}, g: g}
	if err := gen.Validate(); err != nil {
		t.Fatal(err)
	}
	relay, _, err := gen.AllocatePacketConn(turn.AllocateListenerConfig{Network: "udp4"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	received := func(c net.PacketConn) bool {
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, _, err := c.ReadFrom(make([]byte, 64))
		return err == nil
	}
	if _, err := relay.WriteTo([]byte("to the SFU"), media.LocalAddr()); err != nil || !received(media) {
		t.Errorf("the media port received nothing through the relay (%v)", err)
	}
	if _, err := relay.WriteTo([]byte("to a database"), service.LocalAddr()); err != nil || received(service) {
		t.Errorf("another UDP port of the host received a datagram through the relay (%v)", err)
	}
	// Another host's address is not this guard's business.
	if !g.allows(netip.MustParseAddrPort("8.8.8.8:22"), true) || !g.allows(netip.MustParseAddrPort("127.0.0.1:20500"), false) {
		t.Error("a public peer or the relay range refused")
	}

	conn, err := gen.AllocateConn(turn.AllocateConnConfig{Network: "tcp4", RemoteAddr: mediaTCP.Addr()})
	if err != nil {
		t.Errorf("the ICE-TCP port refused: %v", err)
	} else {
		_ = conn.Close()
	}
	if conn, err := gen.AllocateConn(turn.AllocateConnConfig{Network: "tcp4", RemoteAddr: serviceTCP.Addr()}); !errors.Is(err, errSelfPeer) {
		if conn != nil {
			_ = conn.Close()
		}
		t.Errorf("a TCP connection to another port of the host: %v", err)
	}
}

// TestSelfGuardOwnAddresses: the guard covers the advertised address when
// it is public, never a loopback or private one (the permission rule
// refuses those already), and there is none for a host with no public
// address.
func TestSelfGuardOwnAddresses(t *testing.T) {
	t.Parallel()
	g := newSelfGuard(TURNConfig{MinPort: 40000, MaxPort: 49999}, netip.MustParseAddr("203.0.114.7"))
	if g == nil || !g.own[netip.MustParseAddr("203.0.114.7")] {
		t.Fatalf("the advertised public address is not guarded: %+v", g)
	}
	for a := range g.own {
		if a.IsLoopback() || a.IsPrivate() {
			t.Errorf("guarding %s", a)
		}
	}
	if g.allows(netip.MustParseAddrPort("203.0.114.7:5432"), true) || !g.allows(netip.MustParseAddrPort("203.0.114.7:40000"), false) {
		t.Error("the advertised address's ports")
	}
}
