package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/ratelimit"
)

// Sign-in limits.
//
// Every check of a password (or of any secret a person chose) goes through
// one limiter here, whatever surface asked: Together's and the web app's
// login, OpenTogetherTube's login and its change of password, Owncast's
// admin Basic auth and the admin UI behind it. One account signs in on all
// three surfaces, so a limit one surface lacked would be a limit none had.
//
// Each attempt is charged to two token buckets before the password is
// checked: one for the account it names and one for the client's address
// (an IPv4 address, or an IPv6 /64). Either bucket empty means the attempt
// is refused with fault.RateLimited and a RetryAfter, before any hash is
// computed, whether or not the password is right. An attempt whose password
// turns out right gets its own token back; a wrong one keeps it spent.
//
// A correct sign-in therefore refunds only what it cost and never resets a
// bucket. Were it to reset the address bucket, an attacker could interleave
// sign-ins to an account of their own with guesses at other accounts and
// guess forever; with a refund, their good sign-ins buy nothing and every
// wrong guess from the address still counts.
//
// The account bucket is keyed by the account's id when the login names an
// account (so its username and its email share one budget) and by the
// lower-cased login otherwise, so that guessing at names that do not exist
// is limited too and costs the same. The account limit lets a stranger lock
// an account's password sign-in for as long as they keep failing at it; that
// is the price of stopping guesses spread over many addresses, and sessions
// already open are untouched.
//
// The buckets live in this node's memory (package ratelimit) unless
// Config.SignInBudget is set: app sets it to the database on PostgreSQL, so
// that every node charges one shared budget and N nodes behind a balancer
// give an attacker no more guesses than one. SQLite is one node, and keeps
// the in-memory buckets (no write per attempt).

// SignInBudget is a token-bucket store shared by the nodes of a deployment
// (the database on PostgreSQL). A bucket of burst tokens refilling one every
// every is kept as the single instant at which it would be full again ("theoretical
// arrival time", GCRA), so a charge is one atomic update.
type SignInBudget interface {
	// TakeSignIn charges one token to key at now. When the bucket is empty
	// it charges nothing and returns false and how long until a token is
	// back.
	TakeSignIn(ctx context.Context, key string, burst int, every time.Duration, now time.Time) (ok bool, retry time.Duration, err error)
	// RefundSignIn gives one token back to key (never above burst).
	RefundSignIn(ctx context.Context, key string, every time.Duration, now time.Time) error
	// ForgetSignIn empties key's failures.
	ForgetSignIn(ctx context.Context, key string) error
}

// memBudget is the one-node budget: two in-memory limiters.
type memBudget struct {
	account, addr *ratelimit.Limiter
}

func (m *memBudget) limiter(key string) *ratelimit.Limiter {
	if strings.HasPrefix(key, addrPrefix) {
		return m.addr
	}
	return m.account
}

func (m *memBudget) TakeSignIn(_ context.Context, key string, _ int, _ time.Duration, _ time.Time) (bool, time.Duration, error) {
	d := m.limiter(key).Allow(key, 1)
	return d.Allowed, d.RetryAfter, nil
}

func (m *memBudget) RefundSignIn(_ context.Context, key string, _ time.Duration, _ time.Time) error {
	m.limiter(key).Refund(key, 1)
	return nil
}

func (m *memBudget) ForgetSignIn(_ context.Context, key string) error {
	m.limiter(key).Forget(key)
	return nil
}

const addrPrefix = "addr:"

// SignInLimits is the policy of the sign-in limiter: a burst of failures,
// then one more failure every Every, per account and per client address.
type SignInLimits struct {
	AccountBurst int
	AccountEvery time.Duration
	AddrBurst    int
	AddrEvery    time.Duration
}

// DefaultSignInLimits allows 10 wrong passwords in a row for an account,
// then one every 5 minutes (288 a day); and 30 from an address, then one a
// minute (1,440 a day), enough for a household or an office behind one
// address to mistype.
var DefaultSignInLimits = SignInLimits{AccountBurst: 10, AccountEvery: 5 * time.Minute, AddrBurst: 30, AddrEvery: time.Minute}

type signInLimiter struct {
	lim    SignInLimits
	budget SignInBudget
	now    func() time.Time
	log    *slog.Logger
}

func newSignInLimiter(lim SignInLimits, shared SignInBudget, now func() time.Time) (*signInLimiter, error) {
	if lim.AccountBurst <= 0 || lim.AccountEvery <= 0 || lim.AddrBurst <= 0 || lim.AddrEvery <= 0 {
		return nil, errors.New("identity: sign-in limits must be positive")
	}
	if shared != nil {
		return &signInLimiter{lim: lim, budget: shared, now: now}, nil
	}
	account, err := ratelimit.New(ratelimit.Config{Limit: 1, Interval: lim.AccountEvery, Burst: lim.AccountBurst, Clock: now})
	if err != nil {
		return nil, fmt.Errorf("identity: sign-in limiter: %w", err)
	}
	addr, err := ratelimit.New(ratelimit.Config{Limit: 1, Interval: lim.AddrEvery, Burst: lim.AddrBurst, Clock: now})
	if err != nil {
		return nil, fmt.Errorf("identity: sign-in limiter: %w", err)
	}
	return &signInLimiter{lim: lim, budget: &memBudget{account: account, addr: addr}, now: now}, nil
}

// errSignInLimited is the message of every refused attempt.
const signInLimitedMsg = "Too many failed sign-in attempts. Try again later."

// begin charges one attempt to the account key and to addr. It returns a
// function that settles the attempt with the check's error: anything but
// errBadLogin (the password was right, or nothing was checked) refunds it.
// An empty addr (a caller with no client, such as a CLI) charges only the
// account.
func (l *signInLimiter) begin(ctx context.Context, accountKey, addr string) (settle func(error), err error) {
	now := l.now()
	ok, retry, err := l.budget.TakeSignIn(ctx, accountKey, l.lim.AccountBurst, l.lim.AccountEvery, now)
	if err != nil {
		return nil, fmt.Errorf("identity: sign-in budget: %w", err)
	}
	if !ok {
		return nil, limited(retry)
	}
	addrKey := ""
	if addr != "" {
		addrKey = addrPrefix + ratelimit.AddrKey(addr)
		ok, retry, err := l.budget.TakeSignIn(ctx, addrKey, l.lim.AddrBurst, l.lim.AddrEvery, now)
		if err == nil && !ok {
			err = limited(retry)
		} else if err != nil {
			err = fmt.Errorf("identity: sign-in budget: %w", err)
		}
		if err != nil {
			l.refund(ctx, accountKey, l.lim.AccountEvery)
			return nil, err
		}
	}
	return func(err error) {
		if errors.Is(err, errBadLogin) {
			return
		}
		l.refund(ctx, accountKey, l.lim.AccountEvery)
		if addrKey != "" {
			l.refund(ctx, addrKey, l.lim.AddrEvery)
		}
	}, nil
}

// beginAttempt starts one sign-in attempt: it waits for a hashing slot,
// then charges the attempt (signInLimiter.begin), and returns the context
// to check the secret under (the slot is held there, see hashSlot) and the
// settle that refunds a right password and frees the slot.
//
// The slot comes first so that the attempts charged and not yet settled on
// a node are at most its hashing slots (max(2, GOMAXPROCS)), not every
// sign-in waiting for one. Charged first, a crowd of right passwords from
// one address (an office behind one NAT; 1,000 load-test users on
// loopback) drained the address's 30 tokens while they queued for the two
// slots, and the 31st right password was refused "Too many failed sign-in
// attempts" though none had failed. Wrong passwords cost exactly what they
// did: each is charged before its hash is computed and never refunded.
func (s *Service) beginAttempt(ctx context.Context, accountKey, addr string) (context.Context, func(error), error) {
	release, err := s.hashSlot(ctx)
	if err != nil {
		return ctx, nil, err
	}
	settle, err := s.signin.begin(ctx, accountKey, addr)
	if err != nil {
		release()
		return ctx, nil, err
	}
	return context.WithValue(ctx, slotHeld{}, true), func(err error) {
		settle(err)
		release()
	}, nil
}

// refund gives a token back. A refund that fails leaves the attempt
// counted as a failure, the safe side; it is logged.
func (l *signInLimiter) refund(ctx context.Context, key string, every time.Duration) {
	if err := l.budget.RefundSignIn(context.WithoutCancel(ctx), key, every, l.now()); err != nil && l.log != nil {
		l.log.Warn("sign-in budget: refund", "err", err)
	}
}

func limited(retry time.Duration) error {
	return &fault.Error{Kind: fault.RateLimited, Msg: signInLimitedMsg, RetryAfter: max(retry, time.Second)}
}

func accountKey(a *Account, login string) string {
	if a != nil {
		return "id:" + a.ID
	}
	return "login:" + strings.ToLower(strings.TrimSpace(login))
}

// lookupLogin finds the account a login names, by username or else by
// email; nil with no error when there is none.
func (s *Service) lookupLogin(ctx context.Context, login string) (*Account, error) {
	a, err := s.st.AccountByUsername(ctx, login)
	if errors.Is(err, fault.NotFound) && strings.Contains(login, "@") {
		a, err = s.st.AccountByEmail(ctx, login)
	}
	if errors.Is(err, fault.NotFound) {
		return nil, nil
	}
	return a, err
}

// VerifyPassword checks an account's current password, as a change of
// password or of email re-asks it, under the sign-in limits. It returns nil
// when it matches, an error of kind fault.Unauthorized when it does not,
// and fault.RateLimited while the account or addr is limited. An account
// with no password never matches.
func (s *Service) VerifyPassword(ctx context.Context, accountID, password, addr string) error {
	a, err := s.st.AccountByID(ctx, accountID)
	if err != nil {
		return err
	}
	ctx, settle, err := s.beginAttempt(ctx, accountKey(a, ""), addr)
	if err != nil {
		return err
	}
	err = s.verifyPassword(ctx, a, password)
	settle(err)
	return err
}

func (s *Service) verifyPassword(ctx context.Context, a *Account, password string) error {
	if a.PasswordHash == "" {
		return errBadLogin
	}
	ok, err := s.checkPassword(ctx, password, a.PasswordHash)
	if err != nil {
		return err
	}
	if !ok {
		return errBadLogin
	}
	return nil
}

// ForgetSignInAddr empties the sign-in failures counted against a client
// address (a development reset; OTT's /api/dev routes).
func (s *Service) ForgetSignInAddr(ctx context.Context, addr string) error {
	return s.signin.budget.ForgetSignIn(ctx, addrPrefix+ratelimit.AddrKey(addr))
}
