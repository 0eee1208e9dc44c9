package identity_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// newLimited is a service with small sign-in limits on a fake clock, and
// accounts ann (admin, "ann-password") and bob, cat, dan, eve ("<name>-password").
func newLimited(t *testing.T, b budgetKind, lim identity.SignInLimits) (*identity.Service, *clock) {
	t.Helper()
	db := b.eng.Open(t)
	clk := &clock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	cfg := identity.Config{Argon2: fastArgon, Now: clk.now, SignIn: lim}
	if b.shared {
		cfg.SignInBudget = db.Identity()
	}
	s, err := identity.New(context.Background(), cfg, db.Identity(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"ann", "bob", "cat", "dan", "eve"} {
		if _, err := s.Register(context.Background(), identity.RegisterInput{Username: n, Email: n + "@example.org",
			Password: n + "-password", Admin: n == "ann"}); err != nil {
			t.Fatal(err)
		}
	}
	return s, clk
}

// budgetKind is where a test's sign-in buckets live: this node's memory, or
// the database (shared by nodes) on one engine.
type budgetKind struct {
	eng    storetest.Engine
	shared bool
}

// forBudgets runs f on the in-memory buckets and on the database's, on
// every engine under test.
func forBudgets(t *testing.T, f func(t *testing.T, b budgetKind)) {
	t.Parallel()
	kinds := map[string]budgetKind{"memory": {eng: storetest.Engines()[0]}}
	for _, eng := range storetest.Engines() {
		kinds["db-"+eng.Name] = budgetKind{eng: eng, shared: true}
	}
	for name, b := range kinds {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

// retryAfter returns the RetryAfter of a rate-limited error, failing the
// test for any other error.
func retryAfter(t *testing.T, what string, err error) time.Duration {
	t.Helper()
	var fe *fault.Error
	if !errors.Is(err, fault.RateLimited) || !errors.As(err, &fe) {
		t.Fatalf("%s: %v, want rate limited", what, err)
	}
	return fe.RetryAfter
}

// TestSignInLimitPerAccount: wrong passwords for one account from many
// addresses empty its bucket; then even the right password is refused,
// under its username and its email alike, on every kind of check, until
// RetryAfter has passed. Other accounts are untouched.
func TestSignInLimitPerAccount(t *testing.T) {
	forBudgets(t, func(t *testing.T, b budgetKind) {
		ctx := context.Background()
		s, clk := newLimited(t, b, identity.SignInLimits{AccountBurst: 3, AccountEvery: time.Minute, AddrBurst: 100, AddrEvery: time.Minute})
		for i, addr := range []string{"192.0.2.1", "192.0.2.2", "2001:db8::1"} {
			if _, err := s.CheckCredentials(ctx, "bob", "wrong", addr); !errors.Is(err, fault.Unauthorized) {
				t.Fatalf("wrong password %d: %v", i, err)
			}
		}
		bob, err := s.AccountByUsername(ctx, "bob")
		if err != nil {
			t.Fatal(err)
		}
		checks := map[string]func() error{
			"username": func() error { _, err := s.CheckCredentials(ctx, "bob", "bob-password", "198.51.100.7"); return err },
			"email": func() error {
				_, err := s.CheckCredentials(ctx, "BOB@example.org", "bob-password", "198.51.100.7")
				return err
			},
			"login":   func() error { _, _, err := s.Login(ctx, "Bob", "bob-password", "", "198.51.100.7"); return err },
			"verify":  func() error { return s.VerifyPassword(ctx, bob.ID, "bob-password", "198.51.100.7") },
			"no addr": func() error { _, err := s.CheckCredentials(ctx, "bob", "bob-password", ""); return err },
		}
		for name, check := range checks {
			if d := retryAfter(t, name, check()); d != time.Minute {
				t.Fatalf("%s: RetryAfter %s, want 1m (one failure refilled)", name, d)
			}
		}
		if _, err := s.CheckCredentials(ctx, "cat", "cat-password", "192.0.2.1"); err != nil {
			t.Fatalf("another account: %v", err)
		}
		clk.add(time.Minute)
		if _, err := s.CheckCredentials(ctx, "bob", "bob-password", "192.0.2.1"); err != nil {
			t.Fatalf("after RetryAfter: %v", err)
		}
		// The right password gave its token back: one more guess is allowed,
		// and then the account is limited again.
		if _, err := s.CheckCredentials(ctx, "bob", "wrong", "192.0.2.1"); !errors.Is(err, fault.Unauthorized) {
			t.Fatalf("guess after refill: %v", err)
		}
		retryAfter(t, "after the refill is spent", checks["username"]())
	})
}

// TestSignInLimitPerAddress: wrong passwords from one address, spread over
// accounts (existing or not), empty the address's bucket; then every check
// from it is refused, the right password of an untouched account included,
// while other addresses still sign in. An IPv6 client is one /64.
func TestSignInLimitPerAddress(t *testing.T) {
	forBudgets(t, func(t *testing.T, b budgetKind) {
		ctx := context.Background()
		s, _ := newLimited(t, b, identity.SignInLimits{AccountBurst: 100, AccountEvery: time.Minute, AddrBurst: 3, AddrEvery: time.Hour})
		for i, login := range []string{"bob", "nobody", "cat"} {
			if _, err := s.CheckCredentials(ctx, login, "wrong", "2001:db8:1:2::"+string(rune('a'+i))); !errors.Is(err, fault.Unauthorized) {
				t.Fatalf("guess %d: %v", i, err)
			}
		}
		if d := retryAfter(t, "same /64", func() error {
			_, err := s.CheckCredentials(ctx, "dan", "dan-password", "2001:db8:1:2:ffff::1")
			return err
		}()); d != time.Hour {
			t.Fatalf("RetryAfter %s, want 1h", d)
		}
		_, err := s.CheckAdminBasic(ctx, "admin", "ann-password", "2001:db8:1:2::1")
		retryAfter(t, "admin Basic from the same /64", err)
		if _, err := s.CheckCredentials(ctx, "dan", "dan-password", "2001:db8:1:3::1"); err != nil {
			t.Fatalf("another /64: %v", err)
		}
	})
}

// TestSignInSuccessDoesNotReset: an attacker who owns an account and
// interleaves its good sign-ins with guesses at others gains nothing: the
// address bucket runs out after as many guesses as without them, and then
// their own good sign-in is refused too.
func TestSignInSuccessDoesNotReset(t *testing.T) {
	forBudgets(t, func(t *testing.T, b budgetKind) {
		ctx := context.Background()
		s, _ := newLimited(t, b, identity.SignInLimits{AccountBurst: 100, AccountEvery: time.Minute, AddrBurst: 3, AddrEvery: time.Hour})
		const addr = "203.0.113.9"
		for i, victim := range []string{"bob", "cat", "dan"} {
			if _, err := s.CheckCredentials(ctx, "eve", "eve-password", addr); err != nil {
				t.Fatalf("own sign-in %d: %v", i, err)
			}
			if _, err := s.CheckCredentials(ctx, victim, "guess", addr); !errors.Is(err, fault.Unauthorized) {
				t.Fatalf("guess %d: %v", i, err)
			}
		}
		_, err := s.CheckCredentials(ctx, "ann", "guess", addr)
		retryAfter(t, "fourth guess", err)
		_, err = s.CheckCredentials(ctx, "eve", "eve-password", addr)
		retryAfter(t, "own sign-in while limited", err)
	})
}

// TestSignInLimitAdminBasic: Owncast's "admin" user name has its own
// account budget; guesses at it cannot open any admin while limited.
func TestSignInLimitAdminBasic(t *testing.T) {
	forBudgets(t, func(t *testing.T, b budgetKind) {
		ctx := context.Background()
		s, _ := newLimited(t, b, identity.SignInLimits{AccountBurst: 2, AccountEvery: time.Minute, AddrBurst: 100, AddrEvery: time.Minute})
		for i, addr := range []string{"192.0.2.1", "192.0.2.2"} {
			if _, err := s.CheckAdminBasic(ctx, "admin", "abc123", addr); !errors.Is(err, fault.Unauthorized) {
				t.Fatalf("guess %d: %v", i, err)
			}
		}
		_, err := s.CheckAdminBasic(ctx, "admin", "ann-password", "192.0.2.3")
		retryAfter(t, "admin with the right password", err)
		// ann's own name is another account key: she still signs in.
		if a, err := s.CheckAdminBasic(ctx, "ann", "ann-password", "192.0.2.3"); err != nil || !a.IsAdmin {
			t.Fatalf("ann: %v", err)
		}
	})
}

// TestSignInLimitsValidated: a partial policy is refused at start.
func TestSignInLimitsValidated(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	_, err := identity.New(context.Background(), identity.Config{Argon2: fastArgon, SignIn: identity.SignInLimits{AccountBurst: 1}}, db.Identity(), nil, nil)
	if err == nil {
		t.Fatal("a sign-in policy with zero fields was accepted")
	}
}

// TestSignInLimitConcurrent: attempts are charged before the hash is
// checked, so guesses sent at once cannot all slip past the limit while
// their hashes are computed: exactly the burst is checked.
func TestSignInLimitConcurrent(t *testing.T) {
	forBudgets(t, func(t *testing.T, b budgetKind) {
		ctx := context.Background()
		s, _ := newLimited(t, b, identity.SignInLimits{AccountBurst: 3, AccountEvery: time.Hour, AddrBurst: 100, AddrEvery: time.Hour})
		const n = 40
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				_, err := s.CheckCredentials(ctx, "bob", "wrong", "192.0.2.1")
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		checked := 0
		for err := range errs {
			switch {
			case errors.Is(err, fault.Unauthorized):
				checked++
			case errors.Is(err, fault.RateLimited):
			default:
				t.Fatalf("unexpected: %v", err)
			}
		}
		if checked != 3 {
			t.Fatalf("%d guesses checked, want 3", checked)
		}
	})
}

// TestSignInCrowdOfRightPasswords: more people than the address's burst
// sign in at once from one address (an office behind one NAT, a load test
// on loopback), every password right. Each must get in: an attempt is
// charged only once it holds a hashing slot, so the attempts charged and
// not yet refunded are never more than the slots. Charged while they
// queued for the slots, the crowd emptied the address's bucket and all but
// the first AddrBurst were refused "Too many failed sign-in attempts".
func TestSignInCrowdOfRightPasswords(t *testing.T) {
	forBudgets(t, func(t *testing.T, b budgetKind) {
		ctx := context.Background()
		s, _ := newLimited(t, b, identity.SignInLimits{AccountBurst: 3, AccountEvery: time.Hour, AddrBurst: 2, AddrEvery: time.Hour})
		names := []string{"ann", "bob", "cat", "dan", "eve"}
		release := identity.HoldHashSlots(s)
		errs := make(chan error, len(names))
		for _, n := range names {
			go func() {
				_, err := s.CheckCredentials(ctx, n, n+"-password", "192.0.2.1")
				errs <- err
			}()
		}
		// Every sign-in waits for a slot; none may have been turned away.
		for identity.HashSlotWaiters(s) < len(names) {
			select {
			case err := <-errs:
				release()
				t.Fatalf("a sign-in ended while every hashing slot was held: %v", err)
			case <-time.After(time.Millisecond):
			}
		}
		release()
		for range names {
			if err := <-errs; err != nil {
				t.Fatalf("right password refused: %v", err)
			}
		}
	})
}

// TestSignInBudgetSharedByNodes: two nodes on one PostgreSQL database (two
// connection pools, two services, as app builds them on PostgreSQL) charge
// one budget: wrong passwords spread over both run out at the same total as
// on one node, for the account and for the address alike. With per-node
// buckets each node would allow its own burst.
func TestSignInBudgetSharedByNodes(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t)
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	lim := identity.SignInLimits{AccountBurst: 4, AccountEvery: time.Hour, AddrBurst: 6, AddrEvery: time.Hour}
	var nodes [2]*identity.Service
	for i := range nodes {
		db, err := store.Open(ctx, dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		nodes[i], err = identity.New(ctx, identity.Config{Argon2: fastArgon, Now: clk.now, SignIn: lim, SignInBudget: db.Identity()}, db.Identity(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"bob", "cat"} {
		if _, err := nodes[0].Register(ctx, identity.RegisterInput{Username: n, Email: n + "@example.org", Password: n + "-password"}); err != nil {
			t.Fatal(err)
		}
	}
	// Account budget: 4 wrong passwords for bob, alternating nodes and
	// addresses; the 5th attempt is refused on either node.
	for i := range 4 {
		if _, err := nodes[i%2].CheckCredentials(ctx, "bob", "wrong", "192.0.2."+string(rune('1'+i))); !errors.Is(err, fault.Unauthorized) {
			t.Fatalf("guess %d on node %d: %v", i, i%2, err)
		}
	}
	for i, n := range nodes {
		_, err := n.CheckCredentials(ctx, "bob", "bob-password", "198.51.100.1")
		if d := retryAfter(t, "bob after the shared burst, node "+string(rune('0'+i)), err); d != time.Hour {
			t.Fatalf("node %d: RetryAfter %s, want 1h", i, d)
		}
	}
	// Address budget: 6 wrong passwords from one address over both nodes
	// and many names; then cat's right password from it is refused on both.
	const addr = "203.0.113.5"
	for i := range 6 {
		if _, err := nodes[i%2].CheckCredentials(ctx, "nobody"+string(rune('a'+i)), "wrong", addr); !errors.Is(err, fault.Unauthorized) {
			t.Fatalf("address guess %d: %v", i, err)
		}
	}
	for i, n := range nodes {
		_, err := n.CheckCredentials(ctx, "cat", "cat-password", addr)
		retryAfter(t, "cat from the spent address, node "+string(rune('0'+i)), err)
	}
	// A development reset on one node clears the address for both.
	if err := nodes[0].ForgetSignInAddr(ctx, addr); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[1].CheckCredentials(ctx, "cat", "cat-password", addr); err != nil {
		t.Fatalf("after reset: %v", err)
	}
}
