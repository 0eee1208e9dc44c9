package ratelimit_test

import (
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/ratelimit"
)

// TestClusterSharesCharges: two nodes' limiters of one policy, shared
// through their Clusters joined as a bus joins them (every notice to every
// node, the sender's own included), hold one limit per key: what node A
// lets through is taken from node B's bucket, so B refuses the key once A
// spent its burst, a refund on one node is given back on the other, and
// another key is untouched. A node skips its own
// notices (charged once), and an unshared limiter of the same policy is
// not charged.
func TestClusterSharesCharges(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	newLimiter := func() *ratelimit.Limiter {
		l, err := ratelimit.New(ratelimit.Config{Limit: 1, Interval: time.Hour, Burst: 3, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	var mu sync.Mutex
	var nodes []*ratelimit.Cluster
	publish := func(data []byte) error {
		mu.Lock()
		to := append([]*ratelimit.Cluster(nil), nodes...)
		mu.Unlock()
		for _, c := range to {
			c.Notice(data)
		}
		return nil
	}
	warn := func(err error) { t.Errorf("publish: %v", err) }
	a, b := ratelimit.NewCluster(publish, warn), ratelimit.NewCluster(publish, warn)
	nodes = []*ratelimit.Cluster{a, b}
	la, lb, alone := newLimiter(), newLimiter(), newLimiter()
	a.Share("messages", la)
	b.Share("messages", lb)

	for i := range 2 {
		if d := la.Allow("alice", 1); !d.Allowed {
			t.Fatalf("alice's request %d on node A: refused", i)
		}
	}
	if got := a.Remaining("messages", "alice"); got != 1 {
		t.Errorf("node A charged its own requests again: %d left, want 1", got)
	}
	if got := b.Remaining("messages", "alice"); got != 1 {
		t.Errorf("node B: %d left for alice, want 1 (A's two charged)", got)
	}
	if d := lb.Allow("alice", 1); !d.Allowed {
		t.Fatal("alice's third request, on node B: refused")
	}
	if d := la.Allow("alice", 1); d.Allowed {
		t.Error("alice's fourth request, on node A: allowed past the burst of 3 spread over two nodes")
	}
	if d := lb.Allow("bob", 3); !d.Allowed {
		t.Error("bob, held back by alice's charges")
	}
	// A refund on one node is given back on the other too.
	lb.Refund("alice", 1)
	if got := a.Remaining("messages", "alice"); got != 1 {
		t.Errorf("node A after node B's refund: %d left for alice, want 1", got)
	}
	if got := alone.Allow("alice", 0).Remaining; got != 3 {
		t.Errorf("an unshared limiter was charged: %d left", got)
	}
	// Notices that are not charges change nothing.
	for _, junk := range []string{``, `{`, `{"o":"x","n":"messages","c":1}`, `{"o":"x","n":"other","k":"bob","c":1}`} {
		b.Notice([]byte(junk))
	}
	if got := b.Remaining("messages", "bob"); got != 0 {
		t.Errorf("bob after junk notices: %d left, want 0", got)
	}
	var none *ratelimit.Cluster
	none.Share("messages", newLimiter())
	none.Notice([]byte(`{}`))
}
