// Package voice holds what voice channels need besides signalling (which
// each surface carries itself): the selective forwarding unit (sfu.go,
// forward.go) that Hearth's web app uses instead of a mesh, and an
// embedded TURN server, so that voice works between peers behind NATs
// without running coturn next to Hearth.
package voice

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/egress"
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
	// link-local, unspecified and the other special-purpose addresses the
	// egress client refuses. Off by default: a TURN relay into the
	// server's own network lets anyone with credentials reach services
	// that are not meant to be public.
	AllowPrivatePeers bool
	// MediaUDPPort and MediaTCPPort are the ports of this host's WebRTC
	// media plane (--rtc-udp-addr, --rtc-tcp-addr: the SFU, WHIP and
	// WHEP), which a relayed client reaches at this host's own public
	// address; the relay reaches no other port there but its own range
	// (turnself.go). 0: none.
	MediaUDPPort, MediaTCPPort uint16
	// MaxAllocations bounds the relays one user (the name in the REST
	// username) holds at once; more are refused with 486 Allocation Quota
	// Reached. 0: 64 (a voice channel in a full mesh needs one or two per
	// peer).
	MaxAllocations int
	// MaxTCPConnsPerAddr bounds the TCP connections one address (an IPv6
	// /64) holds open on the TURN port; more are closed as they arrive. 0:
	// DefaultTURNTCPConnsPerAddr.
	MaxTCPConnsPerAddr int
	// Allow, when set, is asked on every authenticated request (allocate,
	// refresh, permission, channel bind) whether the account and grant a
	// credential was made for (TURNName) may still use the relay: an
	// account disabled or deleted, or a session signed out, is refused
	// from then on, not when the credential expires. A username Hearth did
	// not make (no TURNName under Secret) is then refused without asking.
	// An answer is kept for at most TURNGrantCache, less once Forget names
	// it.
	Allow func(ctx context.Context, account, grant string) bool
}

// TURNGrantCache is how long the embedded server keeps Allow's answer for
// a credential: the TURN requests of one client come in bursts (a
// permission and a channel bind per peer), and an account could otherwise
// make the node query its database at the rate it sends packets.
const TURNGrantCache = time.Second

// TURNName is the name in the TURN REST username ("<expiry>:<name>") that
// Hearth hands out: the account, the grant the credential was made for
// ("s" and a session id, "t" and a token id, or "" for neither) and a MAC
// of both under the TURN secret, so that the server asks Allow only about
// names it made. coturn (--turn-url) treats it as any other name.
func TURNName(secret, account, grant string) string {
	return account + "." + grant + "." + turnNameMAC(secret, account, grant)
}

func turnNameMAC(secret, account, grant string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("hearth turn name\x00" + account + "\x00" + grant))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}

// parseTURNName is TURNName's inverse; ok only for a name made under secret.
func parseTURNName(secret, name string) (account, grant string, ok bool) {
	account, rest, ok1 := strings.Cut(name, ".")
	grant, mac, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || account == "" {
		return "", "", false
	}
	return account, grant, hmac.Equal([]byte(mac), []byte(turnNameMAC(secret, account, grant)))
}

// grants keeps Allow's answers for TURNGrantCache.
type grants struct {
	allow func(ctx context.Context, account, grant string) bool
	mu    sync.Mutex
	seen  map[[2]string]grantAnswer
}

type grantAnswer struct {
	ok    bool
	until time.Time
}

// maxGrants bounds the answers kept; past it they are all dropped.
const maxGrants = 4096

func (g *grants) allowed(account, grant string) bool {
	k, now := [2]string{account, grant}, time.Now()
	g.mu.Lock()
	a, hit := g.seen[k]
	g.mu.Unlock()
	if hit && now.Before(a.until) {
		return a.ok
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	ok := g.allow(ctx, account, grant)
	cancel()
	g.mu.Lock()
	if len(g.seen) >= maxGrants {
		clear(g.seen)
	}
	g.seen[k] = grantAnswer{ok: ok, until: now.Add(TURNGrantCache)}
	g.mu.Unlock()
	return ok
}

// forget drops the answers about an account, or a grant.
func (g *grants) forget(account, grant string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k := range g.seen {
		if (account != "" && k[0] == account) || (grant != "" && k[1] == grant) {
			delete(g.seen, k)
		}
	}
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
	grants *grants // nil without TURNConfig.Allow
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
	var self *selfGuard
	if !cfg.AllowPrivatePeers {
		self = newSelfGuard(cfg, public)
	}
	relay := func() turn.RelayAddressGenerator {
		bind := host
		if bind == "" {
			bind = "0.0.0.0"
		}
		var g turn.RelayAddressGenerator = &turn.RelayAddressGeneratorPortRange{RelayAddress: net.IP(public.AsSlice()), Address: bind,
			MinPort: cfg.MinPort, MaxPort: cfg.MaxPort}
		if self != nil {
			g = guardedRelay{RelayAddressGenerator: g, g: self}
		}
		return g
	}
	if cfg.MaxAllocations <= 0 {
		cfg.MaxAllocations = 64
	}
	q := &quota{max: cfg.MaxAllocations, held: map[string]int{}}
	authh := turn.LongTermTURNRESTAuthHandler(cfg.Secret, logs.NewLogger("turn-auth"))
	var g *grants
	if cfg.Allow != nil {
		g = &grants{allow: cfg.Allow, seen: map[[2]string]grantAnswer{}}
		rest := authh
		authh = func(ra *turn.RequestAttributes) (string, []byte, bool) {
			name, key, ok := rest(ra) // the expiry, and the password's key
			if !ok {
				return "", nil, false
			}
			account, grant, ok := parseTURNName(cfg.Secret, name)
			if !ok || !g.allowed(account, grant) {
				return "", nil, false
			}
			return account, key, true // quotas count per account
		}
	}
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm:        cfg.Realm,
		QuotaHandler: q.allow,
		EventHandler: turn.EventHandler{
			OnAllocationCreated: func(_, _ net.Addr, _, user, _ string, _ net.Addr, _ int) { q.add(user, 1) },
			OnAllocationDeleted: func(_, _ net.Addr, _, user, _ string) { q.add(user, -1) },
		},
		AuthHandler:   authh,
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
	return &TURN{srv: srv, public: netip.AddrPortFrom(public, uint16(port)), grants: g}, nil
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

// publicPeer reports whether a relay peer is an address the node's other
// outbound traffic may reach: the egress client's rule, so the relay is no
// way round it. Go's IsPrivate and IsLoopback alone let through the shared
// address space 100.64.0.0/10 (Tailscale's resolver, Alibaba Cloud's
// metadata), 192.0.0.0/24 (Oracle Cloud's metadata), 0.0.0.0/8,
// benchmarking, reserved and broadcast addresses.
func publicPeer(a netip.Addr) bool {
	return egress.CheckAddr(a, false) == nil
}

// URLs are the TURN URLs clients use: UDP, then TCP (for networks that
// block UDP).
func (t *TURN) URLs() []string {
	hp := t.public.String()
	return []string{"turn:" + hp + "?transport=udp", "turn:" + hp + "?transport=tcp"}
}

// Forget drops what the server keeps of Allow's answers about an account,
// or a session or token, once it was disabled or signed out, so that its
// next request is asked about at once.
func (t *TURN) Forget(account, grant string) {
	if t.grants != nil {
		t.grants.forget(account, grant)
	}
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
