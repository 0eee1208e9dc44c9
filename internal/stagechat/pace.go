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
// block after a violation) kept per account in this node's memory. On a
// cluster (Config.Limits) each node tells the others of every post it lets
// through and every block it starts, and charges theirs to its own buckets
// (ClusterCharge), so an account spread over several nodes keeps one pace
// (give or take the notice's trip between nodes).
type pace struct {
	rate  float64
	block time.Duration
	now   func() time.Time // the service's clock, for other nodes' charges

	mu    sync.Mutex
	by    map[string]*Flood
	sweep time.Time // when idle accounts are next dropped
}

func newPace(rate float64, block time.Duration, now func() time.Time) *pace {
	if rate <= 0 {
		return nil
	}
	if block <= 0 {
		block = DefaultFloodBlock
	}
	return &pace{rate: rate, block: block, now: now, by: map[string]*Flood{}}
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
	f := p.bucket(account, now)
	if f.Check(now) == Allowed {
		return nil
	}
	return &fault.Error{Kind: fault.RateLimited, Msg: FloodNotice, Err: ErrFlooded, RetryAfter: f.blocked.Sub(now)}
}

// bucket is account's bucket, made when it has none; idle accounts are
// forgotten first, once a paceSweep. Both this node's posts and the other
// nodes' charges come here, so the accounts a cluster's other nodes charge
// are forgotten too on a node nobody posts through. p.mu is held.
func (p *pace) bucket(account string, now time.Time) *Flood {
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
	return f
}

// ClusterCharge is ratelimit.Sharer's: another node let a post by account
// through (cost > 0), or started a block of -cost milliseconds (cost < 0).
func (p *pace) ClusterCharge(account string, cost int) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.bucket(account, now)
	if cost < 0 {
		f.Hold(now.Add(time.Duration(-cost) * time.Millisecond))
		return
	}
	f.Consume(now)
}

// wait is how long account must wait at now before a post passes here.
func (p *pace) wait(account string, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.by[account]
	if f == nil {
		return 0
	}
	return max(f.next.Sub(now), f.blocked.Sub(now), 0)
}

// PaceWait is how long account must wait before its next post passes this
// node's pace (0: it may post now; always 0 without a pace).
func (s *Service) PaceWait(account string) time.Duration {
	if s.pace == nil {
		return 0
	}
	return s.pace.wait(account, s.now())
}

// paceName is the pace's name among a cluster's shared limits.
const paceName = "stagechat.pace"

// sharePace tells the other nodes of a post by account this node let
// through (err nil) or refused (err: the block's RetryAfter).
func (s *Service) sharePace(account string, err error) {
	cost := 1
	var fe *fault.Error
	if errors.As(err, &fe) {
		cost = -int(max(fe.RetryAfter.Milliseconds(), 1))
	}
	s.cfg.Limits.Tell(paceName, account, cost)
}
