package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrNoReply is Pending.Call's error when no reply came within its timeout.
var ErrNoReply = errors.New("bus: no reply")

// ErrNotSent wraps the send function's error in Pending.Call's result: the
// request never left, so no reply will come.
var ErrNotSent = errors.New("bus: request not sent")

// Pending matches the replies a node receives over the bus to the requests
// it sent, by request id: the request/reply shape the cluster code of the
// domain services (voice, watch) uses between nodes. The caller owns the wire
// format and the topics: it sends the request (carrying the id and a topic to
// answer on) and hands each decoded reply to Deliver. The zero value is ready
// to use.
type Pending[R any] struct {
	mu sync.Mutex
	m  map[string]chan R
}

// Deliver hands r to the Call waiting for id. A reply nobody waits for (its
// Call gave up, or a duplicate) is dropped; Deliver never blocks.
func (p *Pending[R]) Deliver(id string, r R) {
	p.mu.Lock()
	ch := p.m[id]
	delete(p.m, id)
	p.mu.Unlock()
	if ch != nil {
		ch <- r // buffered, and only one Deliver finds ch
	}
}

// Call registers id, runs send, and waits for the reply Deliver gives for
// id. It returns send's error wrapped in ErrNotSent, ErrNoReply after
// timeout, or ctx's error when ctx ends first. id must be unique among the
// calls in flight.
func (p *Pending[R]) Call(ctx context.Context, id string, timeout time.Duration, send func() error) (R, error) {
	var zero R
	ch := make(chan R, 1)
	p.mu.Lock()
	if p.m == nil {
		p.m = map[string]chan R{}
	}
	p.m[id] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.m, id)
		p.mu.Unlock()
	}()
	if err := send(); err != nil {
		return zero, fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r, nil
	case <-t.C:
		return zero, ErrNoReply
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// Len is the number of calls waiting for a reply.
func (p *Pending[R]) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}
