package live

import (
	"net/netip"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/ratelimit"
)

// Wrong stream keys one address may send, over RTMP and WHIP together: a
// burst of keyGuessBurst, then keyGuessPerMinute a minute. A stream key is
// the broadcaster's password, checked with no account, and an operator
// may choose a short one; without a bound one client tried about 5,000
// keys a second over WHIP. A right key gives its attempt back, so a
// broadcaster that reconnects never runs down its own bucket.
const (
	keyGuessBurst     = 20
	keyGuessPerMinute = 10
)

func newKeyGuard(now func() time.Time) (*ratelimit.Limiter, error) {
	return ratelimit.New(ratelimit.Config{Limit: keyGuessPerMinute, Interval: time.Minute, Burst: keyGuessBurst, Clock: now})
}

// keyAddr is the bucket key of a publisher's address: an "ip:port" (RTMP)
// or a bare address (WHIP), an IPv6 client by its /64.
func keyAddr(remote string) string {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ratelimit.AddrKey(ap.Addr().String())
	}
	return ratelimit.AddrKey(remote)
}

// errKeyGuesses refuses a publish from an address that sent too many
// wrong keys.
func errKeyGuesses(d ratelimit.Decision) error {
	return &fault.Error{Kind: fault.RateLimited, RetryAfter: d.RetryAfter,
		Msg: "too many wrong stream keys from this address: try again later"}
}

// guardKey runs check (a stream key's check) for remote's address when it
// has attempts left: a wrong key (fault.Unauthorized) spends one, anything
// else gives it back.
func (s *Service) guardKey(remote string, check func() error) error {
	addr := keyAddr(remote)
	d := s.keyFails.Allow(addr, 1)
	if !d.Allowed {
		return errKeyGuesses(d)
	}
	err := check()
	if fault.KindOf(err) != fault.Unauthorized {
		s.keyFails.Refund(addr, 1)
	}
	return err
}
