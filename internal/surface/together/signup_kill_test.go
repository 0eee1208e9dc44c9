package together_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// killedSignUps stops the next account creation once armed, as a kill of
// the process there would: the account made first when made is set, the
// test told it was reached, and the request held (and then failed, so it
// writes nothing more) until the test ends. What the test reads meanwhile
// is what a kill leaves.
type killedSignUps struct {
	identity.Store
	armed, made *atomic.Bool
	reached     chan struct{}
	release     chan struct{}
}

func (s killedSignUps) CreateAccount(ctx context.Context, a *identity.Account) error {
	if !s.armed.CompareAndSwap(true, false) {
		return s.Store.CreateAccount(ctx, a)
	}
	if s.made.Load() {
		if err := s.Store.CreateAccount(ctx, a); err != nil {
			return err
		}
	}
	s.reached <- struct{}{}
	<-s.release
	return errors.New("killed")
}

// TestSignUpKilledKeepsTheInvite: under invite_only registration, a sign-up
// whose node is killed as it makes the account leaves the invite's use
// there. Before, the use was taken before the account was made (and given
// back only by the request that took it), so a kill in between left a
// one-use invite used up with no account: the invitee's retry was refused
// ("Invalid or expired invite code") for good. Now the use is spent with
// the new account's join: killed before the account, the retry signs up
// with the invite; killed after it, the account signs in and accepts the
// invite.
func TestSignUpKilledKeepsTheInvite(t *testing.T) {
	t.Parallel()
	db := storetest.Engines()[0].Open(t)
	held := killedSignUps{Store: db.Identity(), armed: &atomic.Bool{}, made: &atomic.Bool{},
		reached: make(chan struct{}), release: make(chan struct{})}
	e := newNodeOver(t, db, bus.NewLocal(), held, db.Community())
	t.Cleanup(func() { close(held.release) })
	ann, root := e.register("ann"), e.register("root")
	e.inviteOnly(root)
	sid, _ := e.serverWithChannel(ann, "general")
	signUp := func(code, name string) {
		go func() {
			_, _, _ = e.call("POST", "/auth/register", "", map[string]string{"username": name, "password": "password123", "invite_code": code})
		}()
		<-held.reached
	}
	uses := func(code string) float64 {
		t.Helper()
		_, _, invs := e.call("GET", "/servers/"+sid+"/invites", ann.access, nil)
		for _, x := range invs {
			if inv := x.(map[string]any); inv["code"] == code {
				return inv["uses"].(float64)
			}
		}
		t.Fatalf("invite %s not listed", code)
		return 0
	}

	// Killed before the account exists: the use is still there, and the
	// retry signs up with it.
	inv, _ := e.must(201, "POST", "/servers/"+sid+"/invites", ann.access, map[string]any{"max_uses": 1})
	code := inv["code"].(string)
	held.armed.Store(true)
	signUp(code, "first")
	if n := uses(code); n != 0 {
		t.Fatalf("killed before its account, the sign-up left the invite with %v uses spent (no account made)", n)
	}
	e.must(201, "POST", "/auth/register", "", map[string]string{"username": "first2", "password": "password123", "invite_code": code})
	if n := uses(code); n != 1 {
		t.Fatalf("the retry left %v uses", n)
	}

	// Killed after the account, before the join: the account signs in
	// and accepts the invite, whose use is still there.
	inv, _ = e.must(201, "POST", "/servers/"+sid+"/invites", ann.access, map[string]any{"max_uses": 1})
	code = inv["code"].(string)
	held.made.Store(true)
	held.armed.Store(true)
	signUp(code, "second")
	if n := uses(code); n != 0 {
		t.Fatalf("killed after its account, the sign-up left the invite with %v uses spent", n)
	}
	second := obj2(e, "second")
	e.must(201, "POST", "/invites/"+code+"/accept", second, nil)
	if n := uses(code); n != 1 {
		t.Fatalf("the accept left %v uses", n)
	}
}
