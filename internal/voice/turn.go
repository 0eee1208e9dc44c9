// Package voice holds what voice channels need besides signalling (which
// each surface carries itself): the selective forwarding unit (sfu.go,
// forward.go) that Hearth's web app uses instead of a mesh, and an
// embedded TURN server, so that voice works between peers behind NATs
// without running coturn next to Hearth.
package voice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/rtc"
	"github.com/pion/turn/v5"
)

// TURNConfig configures the embedded TURN server.
type TURNConfig struct {
	// Listen is the host:port of the UDP and TCP listeners (e.g. ":3478";
	// port 0 picks a free one, for tests).
	Listen string
	// PublicIP is the address clients reach this host at: it is in the
	// TURN URLs handed out and in every relayed address. Zero: Listen's
	// host, which must then be a specific address.
	PublicIP netip.Addr
	// Secret is the TURN REST shared secret (coturn's use-auth-secret):
	// usernames are "<expiry unix>:<name>", passwords
	// base64(HMAC-SHA1(secret, username)).
	Secret string
	// Realm defaults to "hearth".
	Realm string
	// MinPort and MaxPort bound the relay ports (both zero: 49152-65535).
	MinPort, MaxPort uint16
	// AllowPrivatePeers lets clients relay to loopback, private,
	// link-local and unspecified addresses. Off by default: a TURN relay
	// into the server's own network lets anyone with credentials reach
	// services that are not meant to be public.
	AllowPrivatePeers bool
	// MaxAllocations bounds the relays one user (the name in the REST
	// username) holds at once; more are refused with 486 Allocation Quota
	// Reached. 0: 64 (a voice channel in a full mesh needs one or two per
	// peer).
	MaxAllocations int
	// MaxTCPConnsPerAddr bounds the TCP connections one address (an IPv6
	// /64) holds open on the TURN port; more are closed as they arrive. 0:
	// DefaultTURNTCPConnsPerAddr.
	MaxTCPConnsPerAddr int
}

// Bounds on the TURN port's TCP side, where a connection needs no
// credentials to be held (pion/turn sets no deadline of its own): at most
// DefaultTURNTCPConnsPerAddr per address (a crowd behind one NAT, each a
// connection per relayed peer), TURNTCPConns in all, each closed after
// TURNTCPIdle without a byte (a live allocation carries ICE consent checks
// every few seconds, and a refresh within its lifetime).
const (
	DefaultTURNTCPConnsPerAddr = 256
	TURNTCPConns               = 4096
	TURNTCPIdle                = 2 * time.Minute
)

// TURN is a running TURN server (pion/turn) with UDP and TCP listeners,
// which it closes on Close.
type TURN struct {
	srv    *turn.Server
	public netip.AddrPort
}

// StartTURN listens and serves until Close; ctx bounds only the binding of
// its listeners (the server itself runs until Close).
func StartTURN(ctx context.Context, cfg TURNConfig, log *slog.Logger) (*TURN, error) {
	if len(cfg.Secret) < 32 {
		return nil, errors.New("voice: the TURN secret must be at least 32 characters")
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("voice: TURN listen address %q: %w", cfg.Listen, err)
	}
	public := cfg.PublicIP
	if !public.IsValid() {
		if a, err := netip.ParseAddr(host); err == nil && !a.IsUnspecified() {
			public = a
		} else {
			return nil, fmt.Errorf("voice: TURN listens on %q, which is no one address: set the public IP", cfg.Listen)
		}
	}
	if cfg.Realm == "" {
		cfg.Realm = "hearth"
	}
	if cfg.MinPort == 0 && cfg.MaxPort == 0 {
		cfg.MinPort, cfg.MaxPort = 49152, 65535
	}
	if cfg.MinPort == 0 || cfg.MaxPort < cfg.MinPort {
		return nil, fmt.Errorf("voice: TURN relay ports %d-%d: not a range", cfg.MinPort, cfg.MaxPort)
	}
	udp, tcp, port, err := listenBoth(ctx, &net.ListenConfig{}, host, cfg.Listen)
	if err != nil {
		return nil, err
	}
	if cfg.MaxTCPConnsPerAddr <= 0 {
		cfg.MaxTCPConnsPerAddr = DefaultTURNTCPConnsPerAddr
	}
	tcp = rtc.LimitListener(tcp, TURNTCPConns, cfg.MaxTCPConnsPerAddr, TURNTCPIdle)
	logs := rtc.LoggerFactory(log)
	permit := func(_ net.Addr, peer net.IP) bool {
		a, ok := netip.AddrFromSlice(peer)
		return ok && (cfg.AllowPrivatePeers || publicPeer(a.Unmap()))
	}
	relay := func() turn.RelayAddressGenerator {
		bind := host
		if bind == "" {
			bind = "0.0.0.0"
		}
		return &turn.RelayAddressGeneratorPortRange{RelayAddress: net.IP(public.AsSlice()), Address: bind,
			MinPort: cfg.MinPort, MaxPort: cfg.MaxPort}
	}
	if cfg.MaxAllocations <= 0 {
		cfg.MaxAllocations = 64
	}
	q := &quota{max: cfg.MaxAllocations, held: map[string]int{}}
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm:        cfg.Realm,
		QuotaHandler: q.allow,
		EventHandler: turn.EventHandler{
			OnAllocationCreated: func(_, _ net.Addr, _, user, _ string, _ net.Addr, _ int) { q.add(user, 1) },
			OnAllocationDeleted: func(_, _ net.Addr, _, user, _ string) { q.add(user, -1) },
		},
		AuthHandler:   turn.LongTermTURNRESTAuthHandler(cfg.Secret, logs.NewLogger("turn-auth")),
		LoggerFactory: logs,
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: udp, RelayAddressGenerator: relay(),
			PermissionHandler: permit}},
		ListenerConfigs: []turn.ListenerConfig{{Listener: tcp, RelayAddressGenerator: relay(), PermissionHandler: permit}},
	})
	if err != nil {
		_ = udp.Close()
		_ = tcp.Close()
		return nil, fmt.Errorf("voice: TURN: %w", err)
	}
	return &TURN{srv: srv, public: netip.AddrPortFrom(public, uint16(port))}, nil
}

// bindAttempts bounds how often listenBoth retries when the OS's choice of
// a UDP port is already taken for TCP.
const bindAttempts = 16

// listenBoth opens UDP and TCP listeners on one port. With a fixed port it
// binds both once. With port 0 the OS picks the UDP port and TCP binds the
// same number; when that number is already taken for TCP (another process
// holds it), it closes the UDP socket and lets the OS pick again, up to
// bindAttempts times.
func listenBoth(ctx context.Context, lc *net.ListenConfig, host, listen string) (net.PacketConn, net.Listener, int, error) {
	_, p, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("voice: TURN listen address %q: %w", listen, err)
	}
	attempts := 1
	if p == "0" || p == "" {
		attempts = bindAttempts
	}
	var last error
	for range attempts {
		udp, err := lc.ListenPacket(ctx, "udp", listen)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("voice: TURN: %w", err)
		}
		port := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err == nil {
			return udp, tcp, port, nil
		}
		_ = udp.Close()
		last = err
	}
	return nil, nil, 0, fmt.Errorf("voice: TURN: no port free for both UDP and TCP after %d tries: %w", attempts, last)
}

// quota counts each user's allocations. The count is raised when an
// allocation is made, after the check, so a burst of simultaneous requests
// can overshoot by a few; the bound is against hoarding, not exact.
type quota struct {
	max  int
	mu   sync.Mutex
	held map[string]int
}

func (q *quota) allow(user, _ string, _ net.Addr) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.held[user] < q.max
}

func (q *quota) add(user string, n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.held[user] += n; q.held[user] <= 0 {
		delete(q.held, user)
	}
}

// publicPeer reports whether a relay peer is an ordinary public address.
func publicPeer(a netip.Addr) bool {
	return !(a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsMulticast() || a.IsUnspecified() || a.IsInterfaceLocalMulticast())
}

// URLs are the TURN URLs clients use: UDP, then TCP (for networks that
// block UDP).
func (t *TURN) URLs() []string {
	hp := t.public.String()
	return []string{"turn:" + hp + "?transport=udp", "turn:" + hp + "?transport=tcp"}
}

// Addr is the address and port clients reach the server at.
func (t *TURN) Addr() netip.AddrPort { return t.public }

// Close stops the server and its listeners.
func (t *TURN) Close() error {
	if err := t.srv.Close(); err != nil {
		return fmt.Errorf("voice: close TURN: %w", err)
	}
	return nil
}
