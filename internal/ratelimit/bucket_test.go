package ratelimit_test

import (
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/ratelimit"
)

// TestBucket: a bucket starts full (burst), refills at rate up to burst,
// and a clock that steps back refills nothing.
func TestBucket(t *testing.T) {
	t.Parallel()
	var b ratelimit.Bucket
	t0 := time.Unix(1000, 0)
	for i := range 4 {
		if !b.Allow(t0, 2, 4) {
			t.Fatalf("frame %d of the burst refused", i+1)
		}
	}
	if b.Allow(t0, 2, 4) || b.Allow(t0.Add(-time.Hour), 2, 4) {
		t.Fatal("a fifth frame in the same instant, or after the clock stepped back, allowed")
	}
	if !b.Allow(t0.Add(500*time.Millisecond), 2, 4) || b.Allow(t0.Add(500*time.Millisecond), 2, 4) {
		t.Fatal("500 ms at 2 a second should refill exactly one")
	}
	later := t0.Add(time.Hour)
	for i := range 4 {
		if !b.Allow(later, 2, 4) {
			t.Fatalf("after an hour, frame %d refused", i+1)
		}
	}
	if b.Allow(later, 2, 4) {
		t.Fatal("refilled past the burst")
	}
}
