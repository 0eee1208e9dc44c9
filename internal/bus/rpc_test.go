package bus_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
)

// TestPendingOverBus runs requests and replies over a real Local bus: each
// call gets the reply with its own id, out of order and concurrently.
func TestPendingOverBus(t *testing.T) {
	t.Parallel()
	b := bus.NewLocal()
	t.Cleanup(func() { _ = b.Close() })
	var p bus.Pending[string]
	// The "server": answers each request on the reply topic, reversed order
	// within a batch does not matter since replies carry the id.
	if _, err := b.Subscribe("t.rpc", func(m bus.Message) {
		id := string(m.Data)
		_ = b.Publish(context.Background(), "t.reply."+id, []byte("answer "+id))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Subscribe("t.reply.*", func(m bus.Message) {
		p.Deliver(m.Topic[len("t.reply."):], string(m.Data))
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint("r", i)
			got, err := p.Call(context.Background(), id, hangGuard, func() error {
				return b.Publish(context.Background(), "t.rpc", []byte(id))
			})
			if err != nil || got != "answer "+id {
				errs <- fmt.Errorf("call %s: %q %v", id, got, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := p.Len(); n != 0 {
		t.Fatalf("%d calls still registered", n)
	}
}

func TestPendingErrors(t *testing.T) {
	t.Parallel()
	var p bus.Pending[int]
	boom := errors.New("boom")
	if _, err := p.Call(context.Background(), "a", hangGuard, func() error { return boom }); !errors.Is(err, bus.ErrNotSent) || !errors.Is(err, boom) {
		t.Fatalf("send error: %v", err)
	}
	// Nobody answers: the timeout is the only way out (1 ns, so the test
	// does not wait; no verdict depends on speed).
	if _, err := p.Call(context.Background(), "b", time.Nanosecond, func() error { return nil }); !errors.Is(err, bus.ErrNoReply) {
		t.Fatalf("no reply: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Call(ctx, "c", hangGuard, func() error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	// A reply nobody waits for is dropped without blocking.
	p.Deliver("nobody", 1)
	if n := p.Len(); n != 0 {
		t.Fatalf("%d calls still registered", n)
	}
	// A reply delivered during send is kept for the call.
	got, err := p.Call(context.Background(), "d", hangGuard, func() error { p.Deliver("d", 7); return nil })
	if err != nil || got != 7 {
		t.Fatalf("early reply: %d %v", got, err)
	}
}
