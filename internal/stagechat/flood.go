package stagechat

import "time"

// FloodNotice is what a flooding client is told (Owncast's words).
const FloodNotice = "You are temporarily blocked from sending chat messages due to perceived flooding."

// Flood is one connection's flood limit: a token bucket of one message per
// Interval with a burst of one; a message over the limit blocks all input
// for Block. Not safe for concurrent use (one per connection reader).
type Flood struct {
	Interval time.Duration
	Block    time.Duration

	next    time.Time
	blocked time.Time
}

// NewFlood returns a limiter allowing rate messages per second (Owncast:
// 1.5) that blocks for block after a violation (Owncast: 10 s). rate <= 0
// disables the limit.
func NewFlood(rate float64, block time.Duration) *Flood {
	if rate <= 0 {
		return &Flood{}
	}
	return &Flood{Interval: time.Duration(float64(time.Second) / rate), Block: block}
}

// Verdict of one inbound message.
type Verdict int

// Verdicts.
const (
	Allowed Verdict = iota
	Blocked         // dropped silently: the client is still blocked
	Flooded         // dropped, and the client is now blocked: tell it
)

// Check decides on a message arriving at now.
func (f *Flood) Check(now time.Time) Verdict {
	if f.Interval <= 0 {
		return Allowed
	}
	if now.Before(f.blocked) {
		return Blocked
	}
	if now.Before(f.next) {
		f.blocked = now.Add(f.Block)
		return Flooded
	}
	f.next = now.Add(f.Interval)
	return Allowed
}

// Consume charges a message let through elsewhere (another node) at now:
// the next one here waits its interval from now, or from the last one's
// turn when that is later, as if it had come through here.
func (f *Flood) Consume(now time.Time) {
	if f.Interval <= 0 {
		return
	}
	if now.Before(f.next) {
		f.next = f.next.Add(f.Interval)
	} else {
		f.next = now.Add(f.Interval)
	}
}

// Hold blocks all input until until (a later block stays): a connection
// whose account the chat's pace blocked through another writer drops its
// input as its own limit would.
func (f *Flood) Hold(until time.Time) {
	if until.After(f.blocked) {
		f.blocked = until
	}
}
