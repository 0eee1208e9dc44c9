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

// TestTurnsPerKey: a key holding or awaiting its share is refused at once
// (ErrOwnTurns) while other keys still get turns, and its release gives
// the share back.
func TestTurnsPerKey(t *testing.T) {
	t.Parallel()
	tr := NewTurns(3, time.Hour).PerKey(1)
	ctx := context.Background()
	r, err := tr.TakeAs(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.TakeAs(ctx, "ann"); !errors.Is(err, ErrOwnTurns) {
		t.Fatalf("a second turn for the same key: %v, want ErrOwnTurns", err)
	}
	rb, err := tr.TakeAs(ctx, "bob")
	if err != nil {
		t.Fatalf("another key: %v", err)
	}
	rb()
	r()
	r() // a second release is a no-op
	if r2, err := tr.TakeAs(ctx, "ann"); err != nil {
		t.Fatalf("after its release: %v", err)
	} else {
		r2()
	}
	if len(tr.shares.held) != 0 {
		t.Fatalf("keys left behind: %v", tr.shares.held)
	}
}
