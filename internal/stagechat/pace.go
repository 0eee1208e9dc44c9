package stagechat

import (
	"context"
	"encoding/json"
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
// cluster (Config.SharePace) each node tells the others of every post it
// lets through and every block it starts (PaceTopic), and charges theirs
// to its own buckets (observe), so an account spread over several nodes
// keeps one pace (give or take the notice's trip between nodes).
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
	f := p.bucket(account)
	if f.Check(now) == Allowed {
		return nil
	}
	return &fault.Error{Kind: fault.RateLimited, Msg: FloodNotice, Err: ErrFlooded, RetryAfter: f.blocked.Sub(now)}
}

// bucket is account's bucket, made when it has none. p.mu is held.
func (p *pace) bucket(account string) *Flood {
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

// observe charges what another node did at now: a post by account it let
// through, or, with block > 0, a block it started for that long.
func (p *pace) observe(account string, now time.Time, block time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.bucket(account)
	if block > 0 {
		f.Hold(now.Add(block))
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

// PaceTopic carries each node's pace charges to the others (Config.SharePace).
const PaceTopic = "stagechat-pace"

// paceNotice is one charge on PaceTopic: origin is the node's Service
// (its own notices come back and are skipped), block the milliseconds of a
// block it started (0: a post it let through).
type paceNotice struct {
	Origin  string `json:"o"`
	Account string `json:"a"`
	Block   int64  `json:"b,omitempty"`
}

// sharePace tells the other nodes of a post by account this node let
// through (err nil) or refused (err: the block's RetryAfter).
func (s *Service) sharePace(account string, err error) {
	if !s.cfg.SharePace || s.pub == nil {
		return
	}
	n := paceNotice{Origin: s.origin, Account: account}
	var fe *fault.Error
	if errors.As(err, &fe) {
		n.Block = max(fe.RetryAfter.Milliseconds(), 1)
	}
	data, _ := json.Marshal(n)
	perr := s.pub.Publish(context.WithoutCancel(s.cfg.Life), PaceTopic, data)
	if now := time.Now().Unix(); perr != nil && now-s.paceWarned.Load() >= 60 {
		s.paceWarned.Store(now) // one line a minute: it fails per message
		s.log.Warn("publish a chat pace charge: the other nodes do not see this node's", "err", perr)
	}
}

// PaceNotice charges another node's notice (PaceTopic) to this node's pace.
func (s *Service) PaceNotice(data []byte) {
	var n paceNotice
	if s.pace == nil || json.Unmarshal(data, &n) != nil || n.Origin == s.origin || n.Account == "" {
		return
	}
	s.pace.observe(n.Account, s.now(), time.Duration(n.Block)*time.Millisecond)
}
