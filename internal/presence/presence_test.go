package presence

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type node struct {
	*Tracker
	changes chan string
}

func newNode(t *testing.T, b bus.Bus, ns string, interval time.Duration) *node {
	t.Helper()
	n := &node{changes: make(chan string, 100)}
	tr, err := New(b, Config{Namespace: ns, Interval: interval, Batch: time.Millisecond,
		OnChange: func(k string) { n.changes <- k }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n.Tracker = tr
	t.Cleanup(tr.Close)
	return n
}

func (n *node) wantChange(t *testing.T, key string) {
	t.Helper()
	select {
	case k := <-n.changes:
		if k != key {
			t.Fatalf("OnChange(%q), want %q", k, key)
		}
	case <-time.After(hangGuard):
		t.Fatalf("no OnChange for %q", key)
	}
}

// buses returns the bus pairs to run on: one shared in-process bus, and two
// NATS connections when HEARTH_TEST_NATS_URL is set.
func buses(t *testing.T) map[string][2]bus.Bus {
	t.Helper()
	local := bus.NewLocal()
	t.Cleanup(func() { local.Close() })
	out := map[string][2]bus.Bus{"local": {local, local}}
	if url := os.Getenv("HEARTH_TEST_NATS_URL"); url != "" {
		var pair [2]bus.Bus
		for i := range pair {
			nb, err := bus.NewNATS(context.Background(), url, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { nb.Close() })
			pair[i] = nb
		}
		out["nats"] = pair
	}
	return out
}

func TestCountsAcrossNodes(t *testing.T) {
	t.Parallel()
	for name, pair := range buses(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ns := fmt.Sprintf("t%d", time.Now().UnixNano())
			a := newNode(t, pair[0], ns, time.Hour)
			b := newNode(t, pair[1], ns, time.Hour)

			a.Add("u1")
			a.wantChange(t, "u1") // local 0 → 1
			b.wantChange(t, "u1") // seen from the other node
			if got := b.Count("u1"); got != 1 {
				t.Fatalf("b.Count = %d, want 1", got)
			}
			a.Add("u1")
			b.Add("u1")
			eventually(t, "totals of 3 on both nodes", func() bool { return a.Count("u1") == 3 && b.Count("u1") == 3 })
			if a.Local("u1") != 2 || b.Local("u1") != 1 {
				t.Fatalf("local counts %d/%d, want 2/1", a.Local("u1"), b.Local("u1"))
			}
			b.Add("u2")
			eventually(t, "two present keys on both nodes", func() bool { return a.Present() == 2 && b.Present() == 2 })
			b.Done("u2")
			eventually(t, "one present key on both nodes", func() bool { return a.Present() == 1 && b.Present() == 1 })
			for _, n := range []*node{a, b} { // u2 appeared and went, on both
				n.wantChange(t, "u2")
				n.wantChange(t, "u2")
			}

			// Closing every connection on one node does not make the key
			// absent while the other node still holds one.
			a.Done("u1")
			a.Done("u1")
			eventually(t, "b to see a's connections gone", func() bool { return b.Count("u1") == 1 })
			if a.Count("u1") != 1 {
				t.Fatalf("a.Count = %d, want 1 (b's)", a.Count("u1"))
			}
			b.Done("u1")
			b.wantChange(t, "u1")
			a.wantChange(t, "u1")
			if a.Count("u1") != 0 || b.Count("u1") != 0 {
				t.Fatalf("counts %d/%d after every connection closed", a.Count("u1"), b.Count("u1"))
			}
			// Extra Done never goes negative.
			b.Done("u1")
			if b.Count("u1") != 0 {
				t.Fatalf("count went negative: %d", b.Count("u1"))
			}
		})
	}
}

func TestLateNodeLearnsCountsAtOnce(t *testing.T) {
	t.Parallel()
	b := bus.NewLocal()
	defer b.Close()
	first := newNode(t, b, "late", time.Hour)
	first.Add("viewer")
	first.Add("viewer")
	// The newcomer's hello makes the first node answer with a snapshot,
	// long before the hour-long interval.
	late := newNode(t, b, "late", time.Hour)
	late.wantChange(t, "viewer")
	if got := late.Count("viewer"); got != 2 {
		t.Fatalf("late.Count = %d, want 2", got)
	}
	if late.Nodes() != 2 {
		t.Fatalf("Nodes = %d, want 2", late.Nodes())
	}
}

func TestStoppedNodeIsForgottenAtOnce(t *testing.T) {
	t.Parallel()
	b := bus.NewLocal()
	defer b.Close()
	a := newNode(t, b, "bye", time.Hour)
	c := newNode(t, b, "bye", time.Hour)
	c.Add("u")
	a.wantChange(t, "u")
	c.Close()
	a.wantChange(t, "u")
	if a.Count("u") != 0 {
		t.Fatalf("count %d after the node stopped", a.Count("u"))
	}
}

func TestCrashedNodeExpires(t *testing.T) {
	t.Parallel()
	b := bus.NewLocal()
	defer b.Close()
	a := newNode(t, b, "crash", 10*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)

	c := newNode(t, b, "crash", time.Hour)
	c.Add("u")
	eventually(t, "a to see c's connection", func() bool { return a.Count("u") == 1 })
	// Crash: c stops without a goodbye and sends nothing more.
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.sub.Unsubscribe()
	eventually(t, "a to forget the silent node", func() bool { return a.Count("u") == 0 })
	if a.Nodes() != 1 {
		t.Fatalf("Nodes = %d after expiry, want 1", a.Nodes())
	}
}

func TestDroppedDeltaIsRepairedBySnapshot(t *testing.T) {
	t.Parallel()
	b := bus.NewLocal()
	defer b.Close()
	a := newNode(t, b, "repair", time.Hour)
	c := newNode(t, b, "repair", 10*time.Millisecond)
	// Change c's counts without telling anyone (as if the delta were lost).
	c.mu.Lock()
	c.local["u"] = 4
	c.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	a.wantChange(t, "u")
	eventually(t, "the snapshot to carry the count", func() bool { return a.Count("u") == 4 })
}

func TestRejectsEmptyNamespace(t *testing.T) {
	t.Parallel()
	b := bus.NewLocal()
	defer b.Close()
	if _, err := New(b, Config{}, nil); err == nil {
		t.Fatal("New with an empty namespace succeeded")
	}
}

// TestElsewhereNamesTheCountingNodes: a node learns which other nodes count
// a key (where a stage's broadcast runs), by the names they were given.
func TestElsewhereNamesTheCountingNodes(t *testing.T) {
	t.Parallel()
	b := bus.NewLocal()
	t.Cleanup(func() { b.Close() })
	mk := func(name string) *Tracker {
		tr, err := New(b, Config{Namespace: "elsewhere", Node: name, Batch: time.Millisecond}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(tr.Close)
		return tr
	}
	a, other, c := mk("node-a"), mk("node-b"), mk("node-c")
	a.Add("broadcast.x")
	c.Add("broadcast.x")
	eventually(t, "node B to see A and C count the key", func() bool {
		return fmt.Sprint(other.Elsewhere("broadcast.x")) == "[node-a node-c]"
	})
	if got := a.Elsewhere("broadcast.x"); fmt.Sprint(got) != "[node-c]" {
		t.Fatalf("node A: elsewhere %v, want only node-c (not itself)", got)
	}
	a.Done("broadcast.x")
	eventually(t, "node B to see only C", func() bool { return fmt.Sprint(other.Elsewhere("broadcast.x")) == "[node-c]" })
	if got := other.Elsewhere("unknown"); len(got) != 0 {
		t.Fatalf("a key nobody counts: %v", got)
	}
}
