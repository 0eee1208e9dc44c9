package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestTurns: n turns are taken at once; the next waits Wait and gets
// ErrNoTurn, or the caller's error when its context ends first; a
// released turn serves the next caller.
func TestTurns(t *testing.T) {
	t.Parallel()
	tr := NewTurns(2, 20*time.Millisecond)
	ctx := context.Background()
	r1, err1 := tr.Take(ctx)
	_, err2 := tr.Take(ctx)
	if err1 != nil || err2 != nil {
		t.Fatalf("two turns: %v, %v", err1, err2)
	}
	if _, err := tr.Take(ctx); !errors.Is(err, ErrNoTurn) {
		t.Fatalf("a third while both are held: %v, want ErrNoTurn", err)
	}
	one := NewTurns(1, time.Hour)
	if _, err := one.Take(ctx); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := one.Take(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("caller gone: %v, want context.Canceled", err)
	}
	r1()
	if _, err := tr.Take(ctx); err != nil {
		t.Fatalf("after a release: %v", err)
	}
}
