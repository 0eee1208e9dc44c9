package ratelimit

import (
	"context"
	"errors"
	"time"
)

// ErrNoTurn is Turns.Take's answer when no turn came free within the wait.
var ErrNoTurn = errors.New("ratelimit: no turn came free in time")

// Turns lets at most n of one kind of work run at once on a node (an
// ffmpeg per download, a probe of a stranger's file, a fetch of a page):
// a caller waits a little for a turn and is then refused, so a burst of
// requests cannot each hold memory or a process at the same time.
type Turns struct {
	slots chan struct{}
	wait  time.Duration
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
