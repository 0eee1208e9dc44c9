package bus_test

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/bus/bustest"
)

func prefixed(t *testing.T, b bus.Bus, p string) bus.Bus {
	t.Helper()
	pb, err := bus.WithPrefix(b, p)
	if err != nil {
		t.Fatal(err)
	}
	return pb
}

// A prefixed bus meets the whole contract (topics seen unprefixed).
func TestPrefixedLocal(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T) bus.Bus { return prefixed(t, bus.NewLocal(), "dep-a") })
}

func TestCheckPrefix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p  string
		ok bool
	}{{"hearth", true}, {"a-b_C9", true}, {"", false}, {"a.b", false}, {"*", false}, {">", false}, {"a b", false}} {
		if err := bus.CheckPrefix(tc.p); (err == nil) != tc.ok {
			t.Errorf("CheckPrefix(%q) = %v", tc.p, err)
		}
		if _, err := bus.WithPrefix(bus.NewLocal(), tc.p); (err == nil) != tc.ok || (err != nil && !errors.Is(err, bus.ErrBadTopic)) {
			t.Errorf("WithPrefix(%q) = %v", tc.p, err)
		}
	}
}

// TestNATSPrefixesSeparateDeployments: two deployments on one NATS server
// with different prefixes do not receive each other's events, even on a
// catch-all subscription; nodes of one deployment (same prefix) do.
func TestNATSPrefixesSeparateDeployments(t *testing.T) {
	t.Parallel()
	url := natsURL(t)
	tag := rand.Text()[:10]
	a1 := prefixed(t, newNATS(t, url), "a"+tag)
	a2 := prefixed(t, newNATS(t, url), "a"+tag)
	b := prefixed(t, newNATS(t, url), "b"+tag)

	got := make(chan bus.Message, 16)
	gotB := make(chan bus.Message, 16)
	if _, err := a2.Subscribe(">", func(m bus.Message) { got <- m }); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Subscribe(">", func(m bus.Message) { gotB <- m }); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := b.Publish(ctx, "messages.channel.1", []byte("from b")); err != nil {
		t.Fatal(err)
	}
	if err := a1.Publish(ctx, "messages.channel.1", []byte("from a")); err != nil {
		t.Fatal(err)
	}
	// One publisher's messages arrive in order, so B's own event reaching
	// B proves it was published before A's; A's node must then see A's
	// event and never B's.
	select {
	case m := <-gotB:
		if string(m.Data) != "from b" || m.Topic != "messages.channel.1" {
			t.Fatalf("deployment b got %q on %q", m.Data, m.Topic)
		}
	case <-time.After(hangGuard):
		t.Fatal("deployment b never got its own event")
	}
	select {
	case m := <-got:
		if string(m.Data) != "from a" || m.Topic != "messages.channel.1" {
			t.Fatalf("deployment a got %q on %q, want only its own event", m.Data, m.Topic)
		}
	case <-time.After(hangGuard):
		t.Fatal("deployment a's other node never got the event")
	}
	// A sentinel from b after a's event: if b's subscriber saw a's event it
	// would arrive before the sentinel.
	if err := a1.Publish(ctx, "sentinel", []byte("a sentinel")); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "sentinel", []byte("b sentinel")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-gotB:
		if string(m.Data) != "b sentinel" {
			t.Fatalf("deployment b got %q from another deployment", m.Data)
		}
	case <-time.After(hangGuard):
		t.Fatal("deployment b never got its sentinel")
	}
	select {
	case m := <-got:
		if string(m.Data) != "a sentinel" {
			t.Fatalf("deployment a got %q from another deployment", m.Data)
		}
	case <-time.After(hangGuard):
		t.Fatal("deployment a never got its sentinel")
	}
}
