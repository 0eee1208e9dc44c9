package stagechat

import (
	"errors"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
)

// ErrFlooded refuses a post into the chat from an account past the chat's
// pace (Config.FloodRate): its sender is blocked for Config.FloodBlock. The
// error CheckPost returns wraps it and carries, as RetryAfter, how long the
// block has left; its message is Owncast's notice.
var ErrFlooded = errors.New("stagechat: flooding")

// DefaultFloodBlock is how long a flooding account is blocked (Owncast's
// 10 s) when Config.FloodBlock is unset.
const DefaultFloodBlock = 10 * time.Second

// pace is the chat's flood limit per author account, whichever surface it
// writes through: Flood's bucket (one message per interval, burst one, a
// block after a violation) kept per account in this node's memory. A
// cluster's nodes each keep their own, so an account spread over n nodes
// may post n times the rate.
type pace struct {
	rate  float64
	block time.Duration

	mu    sync.Mutex
	by    map[string]*Flood
	sweep time.Time // when idle accounts are next dropped
}

func newPace(rate float64, block time.Duration) *pace {
	if rate <= 0 {
		return nil
	}
	if block <= 0 {
		block = DefaultFloodBlock
	}
	return &pace{rate: rate, block: block, by: map[string]*Flood{}}
}

// paceSweep is how often accounts whose bucket is full again and whose
// block is over are forgotten (a fresh bucket is the same).
const paceSweep = time.Minute

// paceSlack bounds the account pace's slack over a socket's (check).
const paceSlack = 50 * time.Millisecond

// check charges one post by account at now; nil when it may be stored,
// else a RateLimited error wrapping ErrFlooded.
func (p *pace) check(account string, now time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !now.Before(p.sweep) {
		for id, f := range p.by {
			if !now.Before(f.next) && !now.Before(f.blocked) {
				delete(p.by, id)
			}
		}
		p.sweep = now.Add(paceSweep)
	}
	f := p.by[account]
	if f == nil {
		f = NewFlood(p.rate, p.block)
		// A tenth of the interval (at most paceSlack) of slack: a client
		// sending at the limit on one socket passes that socket's own check
		// at the frame's arrival, and this one a moment later; jitter in
		// between must not refuse what the socket let through.
		f.Interval -= min(paceSlack, f.Interval/10)
		p.by[account] = f
	}
	if f.Check(now) == Allowed {
		return nil
	}
	return &fault.Error{Kind: fault.RateLimited, Msg: FloodNotice, Err: ErrFlooded, RetryAfter: f.blocked.Sub(now)}
}
