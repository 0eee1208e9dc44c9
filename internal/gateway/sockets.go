package gateway

import (
	"errors"
	"sync/atomic"
)

// ErrTooManySockets is returned by Accept when the hub's Sockets budget is
// spent; the client got 503 with Retry-After.
var ErrTooManySockets = errors.New("gateway: too many open sockets")

// Sockets bounds the WebSockets open at once across the hubs that share it
// (a node's surfaces). Each socket holds a file descriptor for as long as
// it lives, and a process that has run out of them can no longer accept a
// request, open a database connection or serve a file: a crowd of sockets
// (guest tokens are free on the Owncast and OTT surfaces) would take the
// whole node down, not just its sockets. With a budget below the
// open-file limit the node refuses further sockets with 503 and keeps the
// rest for everything else. A nil *Sockets, or one with max ≤ 0, bounds
// nothing.
type Sockets struct {
	max     int64
	open    atomic.Int64
	refused atomic.Uint64
}

// NewSockets is a budget of max sockets.
func NewSockets(max int) *Sockets { return &Sockets{max: int64(max)} }

// Max is the budget (0: none).
func (s *Sockets) Max() int {
	if s == nil || s.max <= 0 {
		return 0
	}
	return int(s.max)
}

// Open is how many sockets hold a place now.
func (s *Sockets) Open() int {
	if s == nil {
		return 0
	}
	return int(s.open.Load())
}

// Refused is how many sockets were refused because the budget was spent.
func (s *Sockets) Refused() uint64 {
	if s == nil {
		return 0
	}
	return s.refused.Load()
}

// take holds a place; false (counted as refused) when the budget is spent.
func (s *Sockets) take() bool {
	if s == nil || s.max <= 0 {
		return true
	}
	if s.open.Add(1) > s.max {
		s.open.Add(-1)
		s.refused.Add(1)
		return false
	}
	return true
}

// put gives a place back.
func (s *Sockets) put() {
	if s != nil && s.max > 0 {
		s.open.Add(-1)
	}
}
