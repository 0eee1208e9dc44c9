package ratelimit

import "time"

// Bucket is one connection's token bucket for the frames it sends: 16
// bytes, where a Limiter keys many callers in a map. It starts full. Not
// safe for concurrent use: a connection's frames are handled one at a time
// (or its owner holds a lock).
type Bucket struct {
	tokens float32
	last   int64 // unix nanoseconds of the last Allow; 0: never
}

// Allow takes a token at now, refilling rate a second up to burst first;
// false when none is left. A clock that steps back refills nothing.
func (b *Bucket) Allow(now time.Time, rate, burst float32) bool {
	switch t := now.UnixNano(); {
	case b.last == 0:
		b.tokens, b.last = burst, t
	case t > b.last:
		b.tokens = min(burst, b.tokens+float32(float64(t-b.last)/float64(time.Second))*rate)
		b.last = t
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
