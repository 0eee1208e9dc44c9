package app

import (
	"context"
	"testing"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/community"
)

// TestShutdownCancelsHandlerWork: a bus handler registered while wiring
// (before Run) gets the node's life as its context, and ending Run's
// context cancels what the handler is still doing. Before, handlers ran
// on context.Background() and shutdown could not reach them.
func TestShutdownCancelsHandlerWork(t *testing.T) {
	t.Parallel()
	b := bus.NewLocal()
	t.Cleanup(func() { _ = b.Close() })
	a := &App{Bus: b}
	a.startLife(context.Background())
	t.Cleanup(func() { _ = a.Close() })
	started, ended := make(chan struct{}, 1), make(chan struct{}, 1)
	if err := a.onCommunityEvents("test", func(ctx context.Context, _ *community.Event) {
		started <- struct{}{}
		<-ctx.Done()
		ended <- struct{}{}
	}); err != nil {
		t.Fatal(err)
	}
	ctx, shutdown := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	a.runners = append(a.runners, func(ctx context.Context) error { <-ctx.Done(); return nil })
	go func() { ran <- a.Run(ctx) }()
	if err := b.Publish(context.Background(), "community.g1.updated", []byte(`{"type":"x"}`)); err != nil {
		t.Fatal(err)
	}
	<-started
	shutdown()
	<-ended // hangs (the test's deadline) if shutdown does not reach the handler
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
}
