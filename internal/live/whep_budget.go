package live

import (
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/ratelimit"
)

// Bounds on WebRTC viewers' sessions. From its offer on, a WHEP session
// holds a pion peer connection (about 340 KiB of heap and a dozen
// goroutines, measured) until it connects or connectTimeout ends it, and a
// public stage's offers need no account: unbounded, one address could make
// sessions faster than they time out (about a hundred a second over one
// connection here) until the node runs out of memory.
const (
	// maxWHEPPerIP bounds one address's sessions, connecting or playing,
	// over every stage of the node: a household or NAT has a few players,
	// as for HLS viewers (maxViewersPerIP).
	maxWHEPPerIP = maxViewersPerIP
	// maxWHEPConnecting bounds the sessions still connecting on the node
	// (about 170 MiB at most): a crowd arriving at once waits its turn.
	maxWHEPConnecting = 512
	// whepBusyRetry is the Retry-After of a node with every connecting
	// slot taken.
	whepBusyRetry = 2 * time.Second
)

// whepBudget counts WHEP sessions per address and those still connecting.
// The zero value is ready.
type whepBudget struct {
	mu         sync.Mutex
	perIP      map[string]int
	connecting int
}

// whepSlot is one session's place in the budget.
type whepSlot struct {
	b         *whepBudget
	ip        string
	connected sync.Once
	released  sync.Once
}

// take reserves a connecting session for ip, or says why not: 429 for the
// address's bound (it frees as that address's sessions end), 503 while
// the node has too many sessions connecting.
func (b *whepBudget) take(ip string) (*whepSlot, error) {
	ip = ratelimit.AddrKey(ip) // an IPv6 /64 is one address
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.perIP[ip] >= maxWHEPPerIP {
		return nil, &fault.Error{Kind: fault.RateLimited, RetryAfter: connectTimeout,
			Msg: "too many WebRTC sessions from this address: end one (DELETE its resource) or play over HLS"}
	}
	if b.connecting >= maxWHEPConnecting {
		return nil, &fault.Error{Kind: fault.Unavailable, RetryAfter: whepBusyRetry,
			Msg: "too many WebRTC viewers are connecting: try again shortly, or play over HLS"}
	}
	if b.perIP == nil {
		b.perIP = map[string]int{}
	}
	b.perIP[ip]++
	b.connecting++
	return &whepSlot{b: b, ip: ip}, nil
}

// counts is the address's sessions and the node's connecting ones.
func (b *whepBudget) counts(ip string) (perIP, connecting int) {
	ip = ratelimit.AddrKey(ip)
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.perIP[ip], b.connecting
}

// markConnected moves the session out of the connecting count.
func (s *whepSlot) markConnected() {
	s.connected.Do(func() {
		s.b.mu.Lock()
		s.b.connecting--
		s.b.mu.Unlock()
	})
}

// release gives the slot back when the session ends, connected or not.
func (s *whepSlot) release() {
	s.released.Do(func() {
		s.markConnected()
		s.b.mu.Lock()
		if s.b.perIP[s.ip]--; s.b.perIP[s.ip] <= 0 {
			delete(s.b.perIP, s.ip)
		}
		s.b.mu.Unlock()
	})
}
