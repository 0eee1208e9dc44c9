package stagechat

import (
	"strconv"
	"testing"
	"time"
)

// TestPaceForgetsOtherNodesAccounts: the accounts another node of a
// cluster charges to this node's pace (ClusterCharge) are forgotten once
// idle, as this node's own posters are, also on a node nobody posts
// through; they were dropped only when a post came through this node, so
// such a node kept every account that had posted anywhere in the cluster.
func TestPaceForgetsOtherNodesAccounts(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	p := newPace(1, 10*time.Second, func() time.Time { return now })
	const step = 100 * time.Millisecond
	for i := range 20_000 {
		cost := 1
		if i%10 == 0 {
			cost = -10_000 // a block another node started
		}
		p.ClusterCharge("account-"+strconv.Itoa(i), cost)
		now = now.Add(step)
	}
	// Accounts charged within the last sweep interval and block are kept,
	// no others.
	if most := int((paceSweep+10*time.Second)/step) + 1; len(p.by) > most {
		t.Fatalf("the pace keeps %d accounts charged by other nodes over %v, want at most %d", len(p.by), 20_000*step, most)
	}
}
