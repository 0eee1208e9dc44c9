package stagechat_test

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/presence"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// TestPresenceAcrossNodes: a chat user connected to two nodes is announced
// joining once, is not announced parting when one node's connection closes,
// and parts once when the last one anywhere closes; Connected counts the
// cluster.
func TestPresenceAcrossNodes(t *testing.T) {
	t.Parallel()
	b := bus.NewLocal()
	t.Cleanup(func() { b.Close() })
	tracker := func() *presence.Tracker {
		tr, err := presence.New(b, presence.Config{Namespace: "stagechat", Batch: time.Millisecond}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(tr.Close)
		return tr
	}
	trA, trB := tracker(), tracker()
	cfg := func(c stagechat.ClusterCounter) stagechat.PresenceConfig {
		return stagechat.PresenceConfig{Window: 10 * time.Millisecond, PartDelay: 50 * time.Millisecond, Cluster: c}
	}
	a, pubA, _ := newService(t, cfg(trA))
	nb, pubB, _ := newService(t, cfg(trB))
	ctx := context.Background()
	a.Presence().SetOnline(ctx, true)
	nb.Presence().SetOnline(ctx, true)
	u := &stagechat.User{ID: "both", DisplayName: "both"}

	if !a.Presence().Connect(u) {
		t.Fatal("first connection anywhere not reported as first")
	}
	waitFor(t, pubA, func() bool { return len(pubA.ofType(stagechat.EventJoined)) == 1 })
	deadline := time.Now().Add(hangGuard)
	for trB.Count(u.ID) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("node B never heard of the connection on A")
		}
		time.Sleep(time.Millisecond)
	}
	if nb.Presence().Connect(u) {
		t.Fatal("a connection on B while connected on A was reported as a join")
	}
	if got := nb.Presence().Connected(); got != 1 {
		t.Fatalf("B counts %d connected users, want 1", got)
	}
	a.Presence().Disconnect(u) // B still has the user: A must not part it
	// Asserting that something does not happen: give A's part timer
	// (50 ms) and announcement window (10 ms) ample time to have run.
	time.Sleep(300 * time.Millisecond)
	if n := len(pubA.ofType(stagechat.EventParted)); n != 0 {
		t.Fatalf("node A announced %d parts while the user was still on node B", n)
	}
	nb.Presence().Disconnect(u)
	waitFor(t, pubB, func() bool { return len(pubB.ofType(stagechat.EventParted)) == 1 })
	if n := len(pubA.ofType(stagechat.EventParted)); n != 0 {
		t.Fatalf("node A announced %d parts while the user was still on node B", n)
	}
	if n := len(pubB.ofType(stagechat.EventJoined)); n != 0 {
		t.Fatalf("node B announced %d joins for a user already on node A", n)
	}
}
