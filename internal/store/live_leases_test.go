package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestPublishLeasesContract: a stage's publish lease is one node's at a
// time: taken when free, expired or the node's own (a restart under its
// node id), renewed only while it is the node's session (or lapsed and
// untaken), never brought back by a renewal once released, released only
// by its own session, and gone with its stage. Many nodes claiming it at
// once: exactly one gets it.
func TestPublishLeasesContract(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			st := eng.Open(t).Live()
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			ttl := 15 * time.Second
			stage := identity.NewID()
			claim := func(node, session string, at time.Time) bool {
				t.Helper()
				ok, err := st.ClaimPublishLease(ctx, stage, node, session, at, at.Add(ttl))
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}
			renew := func(node, session string, at time.Time) bool {
				t.Helper()
				ok, err := st.RenewPublishLease(ctx, stage, node, session, at, at.Add(ttl))
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}
			if renew("a", "s1", now) {
				t.Fatal("renewed a lease no one took")
			}
			if !claim("a", "s1", now) {
				t.Fatal("a free lease was refused")
			}
			if claim("b", "s2", now.Add(ttl-time.Second)) {
				t.Fatal("another node took a running lease")
			}
			if renew("b", "s2", now.Add(ttl-time.Second)) {
				t.Fatal("another node renewed a running lease")
			}
			if !renew("a", "s1", now.Add(ttl-time.Second)) {
				t.Fatal("the holder could not renew its lease")
			}
			if claim("b", "s2", now.Add(ttl+time.Second)) {
				t.Fatal("another node took a renewed lease")
			}
			// Node a dies: its lease lapses and b takes it.
			late := now.Add(3 * ttl)
			if !claim("b", "s2", late) {
				t.Fatal("an expired lease was refused")
			}
			if renew("a", "s1", late) {
				t.Fatal("the node that lost its lease renewed it")
			}
			if err := st.ReleasePublishLease(ctx, stage, "a", "s1"); err != nil {
				t.Fatal(err)
			}
			if err := st.ReleasePublishLease(ctx, stage, "b", "other session"); err != nil {
				t.Fatal(err)
			}
			if claim("a", "s3", late) {
				t.Fatal("a release by another node or session dropped the lease")
			}
			// b restarted under its node id takes its own lease back.
			if !claim("b", "s4", late) {
				t.Fatal("the node's own lease was refused to a new session")
			}
			if err := st.ReleasePublishLease(ctx, stage, "b", "s4"); err != nil {
				t.Fatal(err)
			}
			if renew("b", "s4", late) {
				t.Fatal("a renewal brought a released lease back")
			}
			if !claim("a", "s5", late) {
				t.Fatal("a released lease was refused")
			}

			// Racing claims of a free stage: one wins.
			race := identity.NewID()
			var wins atomic.Int32
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					ok, err := st.ClaimPublishLease(ctx, race, fmt.Sprintf("node-%d", i), "s", now, now.Add(ttl))
					if err != nil {
						t.Error(err)
					}
					if ok {
						wins.Add(1)
					}
				})
			}
			wg.Wait()
			if n := wins.Load(); n != 1 {
				t.Fatalf("%d of 8 racing nodes took one stage's lease", n)
			}

			// A deleted stage takes its lease with it.
			s := &live.Stage{ID: identity.NewID(), Name: "gone", VideoCodec: "libx264", CreatedAt: now, UpdatedAt: now}
			if err := st.CreateStage(ctx, s, []live.StreamKey{{Key: "gone-" + s.ID}}); err != nil {
				t.Fatal(err)
			}
			if ok, err := st.ClaimPublishLease(ctx, s.ID, "a", "s", now, now.Add(ttl)); err != nil || !ok {
				t.Fatalf("claim: %v %v", ok, err)
			}
			if err := st.DeleteStage(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
			if ok, err := st.RenewPublishLease(ctx, s.ID, "a", "s", now, now.Add(ttl)); err != nil || ok {
				t.Fatalf("renewed the lease of a deleted stage: %v %v", ok, err)
			}
		})
	}
}
