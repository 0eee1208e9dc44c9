// Package ratelimit is Hearth's per-key token-bucket rate limiter with
// per-request costs, and the HTTP middleware that applies it.
//
// One Limiter is one policy (for example OpenTogetherTube's 1000 points per
// hour per IP, Together's 50 requests per second per bot, Owncast's chat
// flood limit); keys are account ids or client IPs, chosen by the caller.
// Each key has a bucket of Burst tokens that refills continuously at
// Limit tokens per Interval; a request costing n tokens is allowed if the
// bucket holds at least n, and then takes them. A denied request takes
// nothing. Callers decide on Decision.Allowed: a cost larger than what is
// left is refused even though Remaining is above zero, so a gate on
// Remaining alone can miss the limit entirely.
//
// Memory is bounded: at most MaxKeys buckets are kept. Buckets idle for
// IdleTTL are dropped (by default, IdleTTL is the time an empty bucket needs
// to refill, so dropping loses nothing). Expiry is lazy, with no goroutine:
// the keys are spread over up to 64 shards, and each call sweeps the idle
// buckets of the shard it touches. When the limit is reached anyway,
// the least recently used bucket is dropped, which hands that key a full
// bucket again: under a flood of distinct keys the limiter stays bounded
// rather than growing or locking everyone out.
//
// Limits are per node, with N nodes N times looser, unless a Limiter is
// shared through a Cluster (cluster.go), which charges each node's allowed
// requests to the other nodes' buckets too.
package ratelimit

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// Config describes one rate-limit policy.
type Config struct {
	// Limit is the number of tokens added to each bucket per Interval
	// (the sustained rate). Must be > 0.
	Limit float64
	// Interval is the period Limit refers to. Zero means one second.
	Interval time.Duration
	// Burst is the bucket's capacity: the most a key can spend at once, and
	// the X-RateLimit-Limit value. Zero means ceil(Limit), at least 1 (and at
	// most 2^31-1).
	Burst int
	// MaxKeys bounds the number of buckets kept. Zero means DefaultMaxKeys.
	MaxKeys int
	// IdleTTL drops a bucket not used for this long. Zero means the time an
	// empty bucket takes to fill (so a dropped bucket would have been full
	// anyway). A shorter value trades accuracy for memory.
	IdleTTL time.Duration
	// Clock returns the current time. Nil means time.Now. Tests inject a
	// fake clock instead of sleeping.
	Clock func() time.Time
}

// DefaultMaxKeys is the key cap when Config.MaxKeys is zero. A bucket costs
// roughly 100 bytes plus its key.
const DefaultMaxKeys = 100_000

// Decision is the outcome of one Allow.
type Decision struct {
	// Allowed reports whether the request may go ahead (its cost was taken).
	Allowed bool
	// Limit is the bucket's capacity (Config.Burst).
	Limit int
	// Remaining is the number of whole tokens left after this request.
	Remaining int
	// RetryAfter is, when denied, how long until the bucket holds enough
	// for this cost; zero when allowed. A cost above Limit can never be
	// allowed; RetryAfter is then the time until the bucket is full.
	RetryAfter time.Duration
	// Reset is when the bucket will be full again if unused.
	Reset time.Time
}

// epsilon absorbs floating-point error, so that a client that waits exactly
// RetryAfter is allowed.
const epsilon = 1e-9

// Limiter holds one bucket per key. It is safe for concurrent use.
type Limiter struct {
	nsPerToken float64 // nanoseconds to earn one token
	burst      float64
	burstN     int
	ttl        int64 // nanoseconds
	clock      func() time.Time
	base       time.Time // times are stored as nanoseconds since base
	seed       maphash.Seed
	mask       uint64 // len(shards)-1
	shards     []shard

	cluster *Cluster // nil: this node's requests only (Cluster.Share)
	name    string   // the limiter's name in cluster
}

type shard struct {
	mu   sync.Mutex
	m    map[string]*bucket
	root bucket // sentinel of the LRU list: root.next is the most recent
	max  int
	_    [64]byte // keep shards' locks on separate cache lines
}

type bucket struct {
	key        string
	tokens     float64
	last       int64 // nanoseconds since Limiter.base
	prev, next *bucket
}

// New builds a Limiter.
func New(cfg Config) (*Limiter, error) {
	if !(cfg.Limit > 0) || math.IsInf(cfg.Limit, 0) {
		return nil, fmt.Errorf("ratelimit: Limit must be a positive number, got %v", cfg.Limit)
	}
	if cfg.Interval < 0 || cfg.Burst < 0 || cfg.MaxKeys < 0 || cfg.IdleTTL < 0 {
		return nil, errors.New("ratelimit: Interval, Burst, MaxKeys and IdleTTL must not be negative")
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.Burst == 0 {
		cfg.Burst = int(max(1, min(math.Ceil(cfg.Limit), math.MaxInt32)))
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	nsPerToken := float64(cfg.Interval) / cfg.Limit
	if cfg.IdleTTL == 0 {
		cfg.IdleTTL = durationOf(float64(cfg.Burst) * nsPerToken)
	}

	// Shards of at least 1024 keys each, up to 64; one shard for small caps
	// so that MaxKeys is exact.
	n := 1
	for n < 64 && cfg.MaxKeys/(n*2) >= 1024 {
		n *= 2
	}
	l := &Limiter{
		nsPerToken: nsPerToken,
		burst:      float64(cfg.Burst),
		burstN:     cfg.Burst,
		ttl:        int64(cfg.IdleTTL),
		clock:      cfg.Clock,
		base:       cfg.Clock(),
		seed:       maphash.MakeSeed(),
		mask:       uint64(n - 1),
		shards:     make([]shard, n),
	}
	for i := range l.shards {
		s := &l.shards[i]
		s.m = make(map[string]*bucket)
		s.root.next, s.root.prev = &s.root, &s.root
		s.max = cfg.MaxKeys / n
	}
	return l, nil
}

// Allow charges cost tokens to key's bucket if it holds enough, and reports
// the outcome. A cost of zero (or less) charges nothing and only reports the
// bucket's state; it does not create a bucket.
func (l *Limiter) Allow(key string, cost int) Decision {
	d := l.allow(key, cost)
	if d.Allowed && cost > 0 && l.cluster != nil {
		l.cluster.Tell(l.name, key, cost)
	}
	return d
}

func (l *Limiter) allow(key string, cost int) Decision {
	t := l.clock()
	now := int64(t.Sub(l.base))
	c := float64(max(cost, 0))

	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now, l.ttl)

	if s.m[key] == nil && cost <= 0 {
		return l.decision(true, l.burst, 0, t)
	}
	b := l.bucketOf(s, key, now)

	if c <= b.tokens+epsilon {
		b.tokens = max(0, b.tokens-c)
		return l.decision(true, b.tokens, 0, t)
	}
	need := c - b.tokens
	if c > l.burst {
		need = l.burst - b.tokens
	}
	return l.decision(false, b.tokens, l.dur(need), t)
}

// ClusterCharge is Sharer's: another node of a cluster let a request
// costing cost through (its tokens are taken from key's bucket whatever it
// holds, to none at the least), or gave -cost back.
func (l *Limiter) ClusterCharge(key string, cost int) {
	switch {
	case cost > 0:
		l.charge(key, cost)
	case cost < 0:
		l.refund(key, -cost)
	}
}

func (l *Limiter) charge(key string, cost int) {
	now := int64(l.clock().Sub(l.base))
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now, l.ttl)
	b := l.bucketOf(s, key, now)
	b.tokens = max(0, b.tokens-float64(cost))
}

// bucketOf is key's bucket in s, refilled to now and made the most recent,
// or a full new one (the least recent dropped when s is at its bound).
// s.mu is held.
func (l *Limiter) bucketOf(s *shard, key string, now int64) *bucket {
	b := s.m[key]
	if b == nil {
		if len(s.m) >= s.max {
			s.remove(s.root.prev)
		}
		b = &bucket{key: key, tokens: l.burst, last: now}
		s.m[key] = b
		s.pushFront(b)
		return b
	}
	l.refill(b, now)
	s.moveToFront(b)
	return b
}

// Refund gives tokens back to key's bucket (never above Burst), for example
// when a request turned out not to need its charge. Unknown keys are full
// already and are left alone.
func (l *Limiter) Refund(key string, tokens int) {
	if tokens <= 0 {
		return
	}
	l.refund(key, tokens)
	if l.cluster != nil {
		l.cluster.Tell(l.name, key, -tokens) // the other nodes took the charge too
	}
}

func (l *Limiter) refund(key string, tokens int) {
	now := int64(l.clock().Sub(l.base))
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.m[key]; b != nil {
		l.refill(b, now)
		b.tokens = min(l.burst, b.tokens+float64(tokens))
	}
}

// Forget drops key's bucket, so its next request starts full (an admin or
// development reset).
func (l *Limiter) Forget(key string) {
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.m[key]; b != nil {
		s.remove(b)
	}
}

// Len returns the number of buckets currently held.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

func (l *Limiter) shard(key string) *shard {
	if l.mask == 0 {
		return &l.shards[0]
	}
	return &l.shards[maphash.String(l.seed, key)&l.mask]
}

func (l *Limiter) refill(b *bucket, now int64) {
	if elapsed := now - b.last; elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+float64(elapsed)/l.nsPerToken)
		b.last = now
	}
}

// dur converts a number of tokens into the time needed to earn them, rounded
// up to the nanosecond.
func (l *Limiter) dur(tokens float64) time.Duration {
	if tokens <= 0 {
		return 0
	}
	return durationOf(tokens * l.nsPerToken)
}

// durationOf rounds ns up to a Duration, saturating instead of overflowing.
func durationOf(ns float64) time.Duration {
	d := math.Ceil(ns)
	if d >= float64(math.MaxInt64) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(d)
}

func (l *Limiter) decision(allowed bool, tokens float64, retry time.Duration, now time.Time) Decision {
	return Decision{
		Allowed:    allowed,
		Limit:      l.burstN,
		Remaining:  int(math.Floor(tokens + epsilon)),
		RetryAfter: retry,
		Reset:      now.Add(l.dur(l.burst - tokens)),
	}
}

// expire drops buckets idle for ttl or longer, oldest first.
func (s *shard) expire(now, ttl int64) {
	for b := s.root.prev; b != &s.root && now-b.last >= ttl; b = s.root.prev {
		s.remove(b)
	}
}

func (s *shard) pushFront(b *bucket) {
	b.prev = &s.root
	b.next = s.root.next
	b.next.prev = b
	s.root.next = b
}

func (s *shard) moveToFront(b *bucket) {
	if s.root.next == b {
		return
	}
	b.prev.next = b.next
	b.next.prev = b.prev
	s.pushFront(b)
}

func (s *shard) remove(b *bucket) {
	b.prev.next = b.next
	b.next.prev = b.prev
	b.prev, b.next = nil, nil
	delete(s.m, b.key)
}
