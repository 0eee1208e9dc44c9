package voice_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/turn/v5"

	"github.com/hearth-community/hearth/internal/voice"
)

const secret = "0123456789abcdef0123456789abcdef"

func startTURN(t *testing.T, allowPrivate bool) *voice.TURN {
	t.Helper()
	srv, err := voice.StartTURN(context.Background(), voice.TURNConfig{Listen: "127.0.0.1:0", Secret: secret, MinPort: 40000, MaxPort: 49999,
		AllowPrivatePeers: allowPrivate}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// allocate signs in to srv over conn with REST credentials and returns
// the relayed socket (or the error).
func allocate(t *testing.T, srv *voice.TURN, conn net.PacketConn, user, pass string) (net.PacketConn, error) {
	t.Helper()
	c, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: srv.Addr().String(), STUNServerAddr: srv.Addr().String(),
		Conn: conn, Username: user, Password: pass, Realm: "hearth", RTO: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err == nil {
		t.Cleanup(func() { _ = relay.Close() })
	}
	return relay, err
}

func udpConn(t *testing.T) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// exchange checks that a datagram goes from relay to peer and back.
func exchange(t *testing.T, relay, peer net.PacketConn) {
	t.Helper()
	if _, err := relay.WriteTo([]byte("hello peer"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	_ = peer.SetReadDeadline(time.Now().Add(hangGuard))
	n, from, err := peer.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "hello peer" {
		t.Fatalf("peer read %q %v", buf[:n], err)
	}
	if from.String() != relay.LocalAddr().String() {
		t.Fatalf("datagram came from %s, not the relayed address %s", from, relay.LocalAddr())
	}
	if _, err := peer.WriteTo([]byte("hello client"), from); err != nil {
		t.Fatal(err)
	}
	_ = relay.SetReadDeadline(time.Now().Add(hangGuard))
	n, _, err = relay.ReadFrom(buf)
	if err != nil || !bytes.Equal(buf[:n], []byte("hello client")) {
		t.Fatalf("relay read %q %v", buf[:n], err)
	}
}

// TestTURNRelays: REST credentials (as /ice-servers hands them out)
// allocate a relay over UDP and over TCP, and datagrams flow both ways
// between the client and a peer through it; the relayed address is the
// advertised public IP.
func TestTURNRelays(t *testing.T) {
	t.Parallel()
	srv := startTURN(t, true)
	if got := srv.URLs(); len(got) != 2 || got[0] != "turn:"+srv.Addr().String()+"?transport=udp" || !strings.HasSuffix(got[1], "?transport=tcp") {
		t.Fatalf("urls %v", got)
	}
	user, pass, err := turn.GenerateLongTermTURNRESTCredentials(secret, "alice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	relay, err := allocate(t, srv, udpConn(t), user, pass)
	if err != nil {
		t.Fatal(err)
	}
	if a := relay.LocalAddr().(*net.UDPAddr); a.IP.String() != "127.0.0.1" || a.Port < 40000 || a.Port > 49999 {
		t.Fatalf("relayed address %s", a)
	}
	exchange(t, relay, udpConn(t))

	tc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tc.Close() })
	relay, err = allocate(t, srv, turn.NewSTUNConn(tc), user, pass)
	if err != nil {
		t.Fatalf("allocate over TCP: %v", err)
	}
	exchange(t, relay, udpConn(t))
}

// TestTURNRefuses: a wrong password, an expired username, or a secret
// other than the server's get no allocation; without AllowPrivatePeers a
// relay to a loopback peer carries nothing.
func TestTURNRefuses(t *testing.T) {
	t.Parallel()
	srv := startTURN(t, false)
	user, pass, _ := turn.GenerateLongTermTURNRESTCredentials(secret, "alice", time.Hour)
	expired, expiredPass, _ := turn.GenerateLongTermTURNRESTCredentials(secret, "alice", -time.Minute)
	otherUser, otherPass, _ := turn.GenerateLongTermTURNRESTCredentials(strings.Repeat("x", 32), "alice", time.Hour)
	for _, c := range []struct{ name, user, pass string }{
		{"wrong password", user, "nope"},
		{"expired", expired, expiredPass},
		{"other secret", otherUser, otherPass},
		{"no expiry", "alice", pass},
	} {
		if _, err := allocate(t, srv, udpConn(t), c.user, c.pass); err == nil {
			t.Errorf("%s: allocated", c.name)
		}
	}

	relay, err := allocate(t, srv, udpConn(t), user, pass)
	if err != nil {
		t.Fatal(err)
	}
	peer := udpConn(t)
	_, _ = relay.WriteTo([]byte("into the server's network"), peer.LocalAddr())
	_ = peer.SetReadDeadline(time.Now().Add(time.Second))
	if n, _, err := peer.ReadFrom(make([]byte, 1500)); err == nil {
		t.Fatalf("a loopback peer received %d bytes through the relay", n)
	}
}

// TestTURNRefusesSpecialPeers: without AllowPrivatePeers the relay grants
// no permission for a peer the egress client would not dial either (SSRF
// sweep, session 31): besides loopback and the private ranges, the shared
// address space 100.64.0.0/10 (Tailscale's MagicDNS at 100.100.100.100,
// Alibaba Cloud's metadata at 100.100.100.200), the IETF block holding
// Oracle Cloud's metadata (192.0.0.192), "this network" 0.0.0.0/8,
// benchmarking and reserved space. A public peer is still granted.
func TestTURNRefusesSpecialPeers(t *testing.T) {
	t.Parallel()
	srv := startTURN(t, false)
	user, pass, _ := turn.GenerateLongTermTURNRESTCredentials(secret, "alice", time.Hour)
	c, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: srv.Addr().String(), STUNServerAddr: srv.Addr().String(),
		Conn: udpConn(t), Username: user, Password: pass, Realm: "hearth", RTO: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	for _, peer := range []string{"127.0.0.1", "10.0.0.1", "169.254.169.254", "100.64.0.1", "100.100.100.100",
		"100.100.100.200", "192.0.0.192", "0.1.2.3", "198.18.0.1", "240.0.0.1", "255.255.255.255", "224.0.0.1"} {
		if err := c.CreatePermission(&net.UDPAddr{IP: net.ParseIP(peer), Port: 53}); err == nil {
			t.Errorf("the relay granted a permission for %s", peer)
		}
	}
	if err := c.CreatePermission(&net.UDPAddr{IP: net.ParseIP("8.8.8.8"), Port: 53}); err != nil {
		t.Errorf("a public peer: %v", err)
	}
}

// TestTURNQuota: a user holds at most MaxAllocations relays at once; a
// released one frees its place, and other users are not affected.
func TestTURNQuota(t *testing.T) {
	t.Parallel()
	srv, err := voice.StartTURN(context.Background(), voice.TURNConfig{Listen: "127.0.0.1:0", Secret: secret, MaxAllocations: 1}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	alice, alicePass, _ := turn.GenerateLongTermTURNRESTCredentials(secret, "alice", time.Hour)
	bob, bobPass, _ := turn.GenerateLongTermTURNRESTCredentials(secret, "bob", time.Hour)
	first, err := allocate(t, srv, udpConn(t), alice, alicePass)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := allocate(t, srv, udpConn(t), alice, alicePass); err == nil {
		t.Fatal("a second allocation over the quota succeeded")
	}
	if _, err := allocate(t, srv, udpConn(t), bob, bobPass); err != nil {
		t.Fatalf("another user: %v", err)
	}
	_ = first.Close() // deallocates (a Refresh with lifetime 0)
	var again error
	for deadline := time.Now().Add(hangGuard); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, again = allocate(t, srv, udpConn(t), alice, alicePass); again == nil {
			break
		}
	}
	if again != nil {
		t.Fatalf("after releasing: %v", again)
	}
}

func TestStartTURNRejects(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	for _, c := range []struct {
		name string
		cfg  voice.TURNConfig
	}{
		{"short secret", voice.TURNConfig{Listen: "127.0.0.1:0", Secret: "short"}},
		{"no public ip", voice.TURNConfig{Listen: ":0", Secret: secret}},
		{"bad address", voice.TURNConfig{Listen: "nope", Secret: secret}},
		{"bad ports", voice.TURNConfig{Listen: "127.0.0.1:0", Secret: secret, MinPort: 5000, MaxPort: 4000}},
	} {
		if s, err := voice.StartTURN(context.Background(), c.cfg, log); err == nil {
			_ = s.Close()
			t.Errorf("%s: started", c.name)
		}
	}
	// A wildcard listener with a public IP starts and advertises that IP.
	s, err := voice.StartTURN(context.Background(), voice.TURNConfig{Listen: "127.0.0.1:0", Secret: secret, PublicIP: netip.MustParseAddr("203.0.113.7")}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Addr().Addr().String() != "203.0.113.7" {
		t.Fatalf("advertised %s", s.Addr())
	}
}

// TestTURNTCPConnectionsBounded shows the TURN port's TCP side bounds what
// one address holds: pion/turn keeps a TCP connection that never
// authenticates for good, so with one allowed per address a second from
// loopback is closed at once while the first stays open.
func TestTURNTCPConnectionsBounded(t *testing.T) {
	t.Parallel()
	srv, err := voice.StartTURN(context.Background(), voice.TURNConfig{Listen: "127.0.0.1:0", Secret: secret, MaxTCPConnsPerAddr: 1},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	dial := func() net.Conn {
		c, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	first, second := dial(), dial()
	_ = second.SetReadDeadline(time.Now().Add(hangGuard))
	if _, err := second.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("a second TCP connection from one address: read %v, want it closed", err)
	}
	_ = first.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := first.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the first connection was closed too: %v", err)
	}
}

// TestTURNAsksAllow: with Allow set, a credential is good while Allow says
// its account and grant are (a session not signed out, an account not
// disabled), and refused from the first request after Forget once Allow
// says no; a name Hearth did not make (a plain name, one whose MAC does not
// match, or one claiming another account) is refused without asking Allow.
// The quota counts per account, whatever the grant.
func TestTURNAsksAllow(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		live  = map[string]bool{"acct-a/s1": true, "acct-a/s2": true, "acct-b/": true}
		asked []string
	)
	srv, err := voice.StartTURN(context.Background(), voice.TURNConfig{Listen: "127.0.0.1:0", Secret: secret, MaxAllocations: 2,
		Allow: func(_ context.Context, account, grant string) bool {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, account+"/"+grant)
			return live[account+"/"+grant]
		}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	cred := func(name string) (string, string) {
		u, p, err := turn.GenerateLongTermTURNRESTCredentials(secret, name, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return u, p
	}
	a1, a1p := cred(voice.TURNName(secret, "acct-a", "s1"))
	a2, a2p := cred(voice.TURNName(secret, "acct-a", "s2"))
	b, bp := cred(voice.TURNName(secret, "acct-b", ""))
	if _, err := allocate(t, srv, udpConn(t), a1, a1p); err != nil {
		t.Fatalf("a live session: %v", err)
	}
	if _, err := allocate(t, srv, udpConn(t), b, bp); err != nil {
		t.Fatalf("a live account: %v", err)
	}

	mu.Lock()
	before := len(asked)
	mu.Unlock()
	forged := strings.Replace(voice.TURNName(secret, "acct-a", "s1"), "acct-a", "acct-b", 1)
	otherSecret := voice.TURNName(strings.Repeat("x", 32), "acct-a", "s1")
	for _, name := range []string{"alice", forged, otherSecret, "acct-a.s1.", "acct-a"} {
		u, p := cred(name)
		if _, err := allocate(t, srv, udpConn(t), u, p); err == nil {
			t.Errorf("name %q allocated", name)
		}
	}
	mu.Lock()
	if len(asked) != before {
		t.Errorf("Allow asked about names it did not make: %v", asked[before:])
	}
	mu.Unlock()

	// Signed out: refused from the next request once forgotten.
	mu.Lock()
	live["acct-a/s1"] = false
	mu.Unlock()
	srv.Forget("", "s1")
	if _, err := allocate(t, srv, udpConn(t), a1, a1p); err == nil {
		t.Fatal("a signed-out session's credential allocated")
	}
	// The account's other session is untouched; its quota is the
	// account's (one held by s1 already, so one more).
	if _, err := allocate(t, srv, udpConn(t), a2, a2p); err != nil {
		t.Fatalf("the other session: %v", err)
	}
	if _, err := allocate(t, srv, udpConn(t), a2, a2p); err == nil {
		t.Fatal("the account's quota counted per session")
	}
	// Disabled: every grant of the account.
	mu.Lock()
	live["acct-b/"] = false
	mu.Unlock()
	srv.Forget("acct-b", "")
	if _, err := allocate(t, srv, udpConn(t), b, bp); err == nil {
		t.Fatal("a disabled account's credential allocated")
	}
}
