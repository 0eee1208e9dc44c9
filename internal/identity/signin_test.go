package identity_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// newLimited is a service with small sign-in limits on a fake clock, and
// accounts ann (admin, "ann-password") and bob, cat, dan, eve ("<name>-password").
func newLimited(t *testing.T, lim identity.SignInLimits) (*identity.Service, *clock) {
	t.Helper()
	db := storetest.OpenSQLite(t)
	clk := &clock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	s, err := identity.New(context.Background(), identity.Config{Argon2: fastArgon, Now: clk.now, SignIn: lim}, db.Identity(), nil, nil)
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
	t.Parallel()
	ctx := context.Background()
	s, clk := newLimited(t, identity.SignInLimits{AccountBurst: 3, AccountEvery: time.Minute, AddrBurst: 100, AddrEvery: time.Minute})
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
}

// TestSignInLimitPerAddress: wrong passwords from one address, spread over
// accounts (existing or not), empty the address's bucket; then every check
// from it is refused, the right password of an untouched account included,
// while other addresses still sign in. An IPv6 client is one /64.
func TestSignInLimitPerAddress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newLimited(t, identity.SignInLimits{AccountBurst: 100, AccountEvery: time.Minute, AddrBurst: 3, AddrEvery: time.Hour})
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
}

// TestSignInSuccessDoesNotReset: an attacker who owns an account and
// interleaves its good sign-ins with guesses at others gains nothing: the
// address bucket runs out after as many guesses as without them, and then
// their own good sign-in is refused too.
func TestSignInSuccessDoesNotReset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newLimited(t, identity.SignInLimits{AccountBurst: 100, AccountEvery: time.Minute, AddrBurst: 3, AddrEvery: time.Hour})
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
}

// TestSignInLimitAdminBasic: Owncast's "admin" user name has its own
// account budget; guesses at it cannot open any admin while limited.
func TestSignInLimitAdminBasic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newLimited(t, identity.SignInLimits{AccountBurst: 2, AccountEvery: time.Minute, AddrBurst: 100, AddrEvery: time.Minute})
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
	t.Parallel()
	ctx := context.Background()
	s, _ := newLimited(t, identity.SignInLimits{AccountBurst: 3, AccountEvery: time.Hour, AddrBurst: 100, AddrEvery: time.Hour})
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
}
