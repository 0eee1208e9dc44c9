package gateway

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/coder/websocket"
)

// TestSocketsBudgetSharedByHubs: two hubs sharing a budget of three hold
// three sockets between them; the fourth, on either hub, is refused with
// 503 and Retry-After before the upgrade, and a socket that closes gives
// its place back.
func TestSocketsBudgetSharedByHubs(t *testing.T) {
	t.Parallel()
	budget := NewSockets(3, 0, false)
	a := newTestServer(t, serverOpts{cfg: Config{Sockets: budget}})
	b := newTestServer(t, serverOpts{cfg: Config{Sockets: budget}})
	a1, a2 := a.dial(t, "/", nil), a.dial(t, "/", nil)
	s1, s2 := a.accepted(t), a.accepted(t)
	b.dial(t, "/", nil)
	b.accepted(t)
	if budget.Open() != 3 {
		t.Fatalf("open %d, want 3", budget.Open())
	}
	refused := func(ts *testServer) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, ts.url+"/", nil)
		if err == nil {
			_ = c.CloseNow()
			t.Fatal("a socket over the budget was accepted")
		}
		if resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("over the budget: %v %v, want 503 with Retry-After", resp, err)
		}
	}
	refused(a)
	refused(b)
	if got := budget.Refused(); got != 2 {
		t.Errorf("refused %d, want 2", got)
	}
	_ = a1.Close(websocket.StatusNormalClosure, "")
	_ = a2.CloseNow()
	waitDone(t, s1) // unregistered, so its place is back
	waitDone(t, s2)
	if budget.Open() != 1 {
		t.Fatalf("open %d after two closed, want 1", budget.Open())
	}
	b.dial(t, "/", nil)
	b.accepted(t)
	a.dial(t, "/", nil)
	a.accepted(t)
	refused(b)
}

// TestSocketsBoundedPerAccount: with ConnOptions.MaxPerAccount an account
// holds that many sockets on the hub; the next is answered 429 with
// Retry-After, another account is not affected, and a closed socket
// gives its place back.
func TestSocketsBoundedPerAccount(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, serverOpts{conn: func(r *http.Request) ConnOptions {
		return ConnOptions{AccountID: r.URL.Query().Get("a"), MaxPerAccount: 2}
	}})
	a1 := ts.dial(t, "/?a=ann", nil)
	s1 := ts.accepted(t)
	ts.dial(t, "/?a=ann", nil)
	ts.accepted(t)
	refused := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, ts.url+"/?a=ann", nil)
		if err == nil {
			_ = c.CloseNow()
			t.Fatal("a socket past the account's bound was accepted")
		}
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("past the bound: %v %v, want 429 with Retry-After", resp, err)
		}
	}
	refused()
	ts.dial(t, "/?a=bob", nil)
	ts.accepted(t)
	_ = a1.Close(websocket.StatusNormalClosure, "")
	waitDone(t, s1) // unregistered, so its place is back
	ts.dial(t, "/?a=ann", nil)
	ts.accepted(t)
	refused()
}

// TestSocketsBoundedPerAddress: one address holds at most a sixteenth of
// the shared budget across hubs (an OTT room socket needs no token until
// its first frame, so nothing else bounds what one client opens); past it
// an upgrade is answered 429 with Retry-After, whatever X-Forwarded-For
// says when no proxy is trusted, while another address is unaffected and
// a closed socket gives its place back. With a trusted proxy the address
// is the one the proxy appended, and an IPv6 client counts by its /64.
func TestSocketsBoundedPerAddress(t *testing.T) {
	t.Parallel()
	dialFrom := func(t *testing.T, ts *testServer, local string, xff string) (*websocket.Conn, *http.Response, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		opts := &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}}
		if xff != "" {
			opts.HTTPHeader = http.Header{"X-Forwarded-For": {xff}}
		}
		c, resp, err := websocket.Dial(ctx, ts.url+"/", opts)
		if err == nil {
			t.Cleanup(func() { _ = c.CloseNow() })
		}
		return c, resp, err
	}
	refused := func(t *testing.T, resp *http.Response, err error) {
		t.Helper()
		if err == nil {
			t.Fatal("a socket past the address's share was accepted")
		}
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("past the share: %v %v, want 429 with Retry-After", resp, err)
		}
	}
	t.Run("peer address", func(t *testing.T) {
		t.Parallel()
		budget := NewSockets(32, 0, false) // 2 per address
		budget.bounded = func(net.IP) bool { return true }
		a := newTestServer(t, serverOpts{cfg: Config{Sockets: budget}})
		b := newTestServer(t, serverOpts{cfg: Config{Sockets: budget}})
		if got := budget.PerAddress(); got != 2 {
			t.Fatalf("PerAddress %d, want 2", got)
		}
		c1, _, err := dialFrom(t, a, "127.0.0.1", "")
		if err != nil {
			t.Fatal(err)
		}
		s1 := a.accepted(t)
		if _, _, err := dialFrom(t, b, "127.0.0.1", ""); err != nil {
			t.Fatal(err)
		}
		b.accepted(t)
		_, resp, err := dialFrom(t, a, "127.0.0.1", "")
		refused(t, resp, err)
		_, resp, err = dialFrom(t, b, "127.0.0.1", "198.51.100.7") // not believed
		refused(t, resp, err)
		if _, _, err := dialFrom(t, a, "127.0.0.2", ""); err != nil {
			t.Fatalf("another address: %v", err)
		}
		a.accepted(t)
		_ = c1.Close(websocket.StatusNormalClosure, "")
		waitDone(t, s1)
		if _, _, err := dialFrom(t, b, "127.0.0.1", ""); err != nil {
			t.Fatalf("after a close: %v", err)
		}
		b.accepted(t)
		_, resp, err = dialFrom(t, b, "127.0.0.1", "")
		refused(t, resp, err)
		if got := budget.Refused(); got != 3 {
			t.Errorf("refused %d, want 3", got)
		}
	})
	t.Run("trusted proxy", func(t *testing.T) {
		t.Parallel()
		budget := NewSockets(32, 0, true)
		ts := newTestServer(t, serverOpts{cfg: Config{Sockets: budget}})
		for _, xff := range []string{"203.0.113.5", "10.9.9.9, 203.0.113.5", "2001:db8::1", "2001:db8::2"} {
			if _, _, err := dialFrom(t, ts, "127.0.0.1", xff); err != nil {
				t.Fatalf("%s: %v", xff, err)
			}
			ts.accepted(t)
		}
		_, resp, err := dialFrom(t, ts, "127.0.0.1", "203.0.113.5")
		refused(t, resp, err)
		_, resp, err = dialFrom(t, ts, "127.0.0.1", "2001:db8::ffff")
		refused(t, resp, err)
		if _, _, err := dialFrom(t, ts, "127.0.0.1", "203.0.113.6"); err != nil {
			t.Fatalf("another address: %v", err)
		}
		ts.accepted(t)
	})
}

// TestSocketsPerAddressSetting: --max-sockets-per-ip picks the share (0:
// a sixteenth of the budget; a negative number or one past the budget:
// the budget, for a load test from one host).
func TestSocketsPerAddressSetting(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ max, per, want int }{
		{18000, 0, 1125}, {18000, 5000, 5000}, {18000, -1, 18000}, {18000, 90000, 18000}, {8, 0, 1},
	} {
		if got := NewSockets(c.max, c.per, false).PerAddress(); got != c.want {
			t.Errorf("NewSockets(%d, %d).PerAddress() = %d, want %d", c.max, c.per, got, c.want)
		}
	}
}
