package gateway

import (
	"context"
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
	budget := NewSockets(3)
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
