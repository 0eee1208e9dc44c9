package gateway

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/hearth-community/hearth/internal/ratelimit"
)

// ErrTooManySockets is returned by Accept when the hub's Sockets budget is
// spent; the client got 503 with Retry-After.
var ErrTooManySockets = errors.New("gateway: too many open sockets")

// ErrTooManyForAddress is returned by Accept when the client's address
// holds its share of the Sockets budget; the client got 429 with
// Retry-After.
var ErrTooManyForAddress = errors.New("gateway: too many open sockets from this address")

// addressShare is the part of the budget one address may hold: a
// sixteenth (1,125 of 18,000 on a node allowed 20,000 open files).
const addressShare = 16

// Sockets bounds the WebSockets open at once across the hubs that share it
// (a node's surfaces). Each socket holds a file descriptor for as long as
// it lives, and a process that has run out of them can no longer accept a
// request, open a database connection or serve a file: a crowd of sockets
// (guest tokens are free on the Owncast and OTT surfaces) would take the
// whole node down, not just its sockets. With a budget below the
// open-file limit the node refuses further sockets with 503 and keeps the
// rest for everything else. A nil *Sockets, or one with max ≤ 0, bounds
// nothing.
//
// One address (an IPv6 /64) holds at most a sixteenth of the budget, so
// that one client cannot spend it all: an OTT room socket needs no token
// until its first frame, and the HTTP listener's per-address bound stops
// counting a connection at its upgrade. Loopback is not bounded (a proxy
// on the same host without --trust-proxy); with trustProxy the address is
// the one the proxy appended to X-Forwarded-For.
type Sockets struct {
	max, perAddr int64
	trustProxy   bool
	open         atomic.Int64
	refused      atomic.Uint64

	// bounded says whether an address is counted without a trusted
	// proxy: all but loopback (tests count loopback too).
	bounded func(net.IP) bool

	mu     sync.Mutex
	byAddr map[string]int64
}

// NewSockets is a budget of max sockets, of which one address holds at
// most perAddr: 0 means max/16 (at least one), a negative number no bound
// but the budget (a load tool on another host). trustProxy says whether a
// request's address is read from X-Forwarded-For (ratelimit.ClientIP).
func NewSockets(max, perAddr int, trustProxy bool) *Sockets {
	share := int64(perAddr)
	switch {
	case perAddr == 0:
		share = max64(int64(max)/addressShare, 1)
	case perAddr < 0 || perAddr > max:
		share = int64(max)
	}
	return &Sockets{max: int64(max), perAddr: share, trustProxy: trustProxy,
		byAddr: map[string]int64{}, bounded: func(ip net.IP) bool { return !ip.IsLoopback() }}
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// Max is the budget (0: none).
func (s *Sockets) Max() int {
	if s == nil || s.max <= 0 {
		return 0
	}
	return int(s.max)
}

// PerAddress is how many sockets one address may hold (0: no bound).
func (s *Sockets) PerAddress() int {
	if s == nil || s.max <= 0 {
		return 0
	}
	return int(s.perAddr)
}

// Open is how many sockets hold a place now.
func (s *Sockets) Open() int {
	if s == nil {
		return 0
	}
	return int(s.open.Load())
}

// Refused is how many sockets were refused because the budget, or the
// address's share of it, was spent.
func (s *Sockets) Refused() uint64 {
	if s == nil {
		return 0
	}
	return s.refused.Load()
}

// addrKey is the key r's client is counted under, "" for one that is not
// counted (loopback without a trusted proxy).
func (s *Sockets) addrKey(r *http.Request) string {
	ip := ratelimit.ClientIP(r, s.trustProxy)
	if !s.trustProxy {
		if a := net.ParseIP(ip); a != nil && !s.bounded(a) {
			return ""
		}
	}
	return ratelimit.AddrKey(ip)
}

// take holds a place for r's client and returns the key to give it back
// under (put), or the error (counted as refused): the address's share is
// spent, or the budget.
func (s *Sockets) take(r *http.Request) (string, error) {
	if s == nil || s.max <= 0 {
		return "", nil
	}
	key := s.addrKey(r)
	if key != "" {
		s.mu.Lock()
		if s.byAddr[key] >= s.perAddr {
			s.mu.Unlock()
			s.refused.Add(1)
			return "", ErrTooManyForAddress
		}
		s.byAddr[key]++
		s.mu.Unlock()
	}
	if s.open.Add(1) > s.max {
		s.open.Add(-1)
		s.release(key)
		s.refused.Add(1)
		return "", ErrTooManySockets
	}
	return key, nil
}

// put gives back the place taken under key.
func (s *Sockets) put(key string) {
	if s != nil && s.max > 0 {
		s.open.Add(-1)
		s.release(key)
	}
}

func (s *Sockets) release(key string) {
	if key == "" {
		return
	}
	s.mu.Lock()
	if s.byAddr[key]--; s.byAddr[key] <= 0 {
		delete(s.byAddr, key)
	}
	s.mu.Unlock()
}
