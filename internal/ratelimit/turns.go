package ratelimit

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrNoTurn is Turns.Take's answer when no turn came free within the wait.
var ErrNoTurn = errors.New("ratelimit: no turn came free in time")

// ErrOwnTurns is Turns.TakeAs's answer, at once, when the caller's key
// already holds or awaits its share of the turns (Turns.PerKey).
var ErrOwnTurns = errors.New("ratelimit: this caller already holds its share of the turns")

// Turns lets at most n of one kind of work run at once on a node (an
// ffmpeg per download, a probe of a stranger's file, a fetch of a page):
// a caller waits a little for a turn and is then refused, so a burst of
// requests cannot each hold memory or a process at the same time.
type Turns struct {
	slots chan struct{}
	wait  time.Duration

	shares *Shares // what one key may hold or await at once (nil: no bound)
}

// PerKey bounds the turns one key (an account, say) may hold or await at
// once through TakeAs to m, so that one caller queueing many requests
// cannot take every turn and starve the others; it returns t.
func (t *Turns) PerKey(m int) *Turns {
	t.shares = NewShares(max(m, 1))
	return t
}

// TakeAs is Take for the caller key: ErrOwnTurns at once when key already
// holds or awaits its PerKey share of the turns.
func (t *Turns) TakeAs(ctx context.Context, key string) (release func(), err error) {
	if t.shares == nil {
		return t.Take(ctx)
	}
	if !t.shares.Enter(key) {
		return nil, ErrOwnTurns
	}
	rel, err := t.Take(ctx)
	if err != nil {
		t.shares.Leave(key)
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { rel(); t.shares.Leave(key) }) }, nil
}

// Shares bounds how much of a shared pool one key (a caller: an account,
// an address) holds at once; it counts, the pool is the caller's.
type Shares struct {
	per  int
	mu   sync.Mutex
	held map[string]int // key → what it holds; a key at 0 is removed
}

// NewShares allows each key per at once; per <= 0 answers nil, which
// bounds nothing (a nil *Shares lets every key in).
func NewShares(per int) *Shares {
	if per <= 0 {
		return nil
	}
	return &Shares{per: per, held: map[string]int{}}
}

// Enter counts one more for key, false (counting nothing) when key holds
// its share already. Leave ends what Enter counted.
func (s *Shares) Enter(key string) bool {
	if s == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[key] >= s.per {
		return false
	}
	s.held[key]++
	return true
}

// Leave ends one of key's Enters.
func (s *Shares) Leave(key string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[key]--; s.held[key] <= 0 {
		delete(s.held, key)
	}
}

// NewTurns allows n at once (at least 1), each caller waiting up to wait.
func NewTurns(n int, wait time.Duration) *Turns {
	return &Turns{slots: make(chan struct{}, max(n, 1)), wait: wait}
}

// Take waits up to the wait for a turn: ErrNoTurn when none came free, ctx's
// error when the caller gave up first. The caller runs release when done.
func (t *Turns) Take(ctx context.Context) (release func(), err error) {
	select {
	case t.slots <- struct{}{}:
		return t.give, nil
	default:
	}
	tm := time.NewTimer(t.wait)
	defer tm.Stop()
	select {
	case t.slots <- struct{}{}:
		return t.give, nil
	case <-tm.C:
		return nil, ErrNoTurn
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (t *Turns) give() { <-t.slots }

type turnKey struct{}

// WithTurnKey returns ctx naming the caller (an address, say) whose share
// of a PerKey bound TakeFor counts against: a surface that knows who asks
// names them for a domain that takes the turn without knowing.
func WithTurnKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, turnKey{}, key)
}

// AddrTurnKey is the turn key (WithTurnKey) of a client address, given
// as its AddrKey: one address holds one share whichever surface names it.
func AddrTurnKey(addrKey string) string { return "addr " + addrKey }

// TakeFor is TakeAs for the caller ctx names (WithTurnKey), or Take when
// it names none.
func (t *Turns) TakeFor(ctx context.Context) (release func(), err error) {
	if k, ok := ctx.Value(turnKey{}).(string); ok {
		return t.TakeAs(ctx, k)
	}
	return t.Take(ctx)
}
