package together_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// hungUpAccounts holds the next account update once armed: it tells the
// test it was reached, waits for the test's word that the client hung up,
// then gives the request's context a moment to be cancelled before it
// writes with it.
type hungUpAccounts struct {
	identity.Store
	armed   *atomic.Bool
	reached chan struct{}
	hungUp  chan struct{}
}

func (s hungUpAccounts) SetPasswordHash(ctx context.Context, id, hash string, now time.Time) error {
	if s.armed.CompareAndSwap(true, false) {
		close(s.reached)
		<-s.hungUp
		select {
		case <-ctx.Done(): // the hang-up cancelled the request (the bug)
		case <-time.After(2 * time.Second):
		}
	}
	return s.Store.SetPasswordHash(ctx, id, hash, now)
}

// TestChangePasswordOutlastsHangUp: a password change whose client hangs up
// while it is being made is made whole: the new password holds and the
// account's other sessions are signed out. Before, the request's context
// was cancelled with the client and the change was lost halfway.
func TestChangePasswordOutlastsHangUp(t *testing.T) {
	t.Parallel()
	db := storetest.Engines()[0].Open(t)
	held := hungUpAccounts{Store: db.Identity(), armed: &atomic.Bool{}, reached: make(chan struct{}), hungUp: make(chan struct{})}
	e := newNodeOver(t, db, bus.NewLocal(), held, db.Community())
	ann := e.register("ann")
	other := obj2(e, "ann")

	held.armed.Store(true)
	c, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"current_password": "password123", "new_password": "password456"})
	req, _ := http.NewRequest("POST", e.url+"/auth/change-password", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+ann.access)
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	<-held.reached
	c.Close()
	close(held.hungUp)

	// The change ends by signing out the other sessions; then the new
	// password is tried once (failed sign-ins count toward a limit).
	status := func(method, path, auth string, body any) int {
		code, _, _ := e.call(method, path, auth, body)
		return code
	}
	deadline := time.Now().Add(hangGuard)
	for status("GET", "/users/@me", other, nil) != 401 {
		if time.Now().After(deadline) {
			t.Fatal("the account's other session is still signed in: the change was lost with its client")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := status("POST", "/auth/login", "", map[string]string{"username": "ann", "password": "password456"}); code != 200 {
		t.Fatalf("the new password does not sign in: %d", code)
	}
}
