package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestOwncastEventClaims: of many concurrent claims of one key exactly one
// wins, on every engine; pruning forgets old claims only.
func TestOwncastEventClaims(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			st := db.StageChat()
			now := time.Now().UTC()
			var wins atomic.Int32
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ok, err := st.ClaimEvent(ctx, "chat-webhook:m1", now)
					if err != nil {
						t.Error(err)
					}
					if ok {
						wins.Add(1)
					}
				}()
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("%d claims won, want 1", wins.Load())
			}
			if ok, err := st.ClaimEvent(ctx, "chat-webhook:old", now.Add(-48*time.Hour)); !ok || err != nil {
				t.Fatalf("claim old: %v %v", ok, err)
			}
			if err := st.PruneEventClaims(ctx, now.Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
			if ok, _ := st.ClaimEvent(ctx, "chat-webhook:old", now); !ok {
				t.Fatal("a pruned claim must be claimable again")
			}
			if ok, _ := st.ClaimEvent(ctx, "chat-webhook:m1", now); ok {
				t.Fatal("a recent claim was pruned")
			}
			// The latest claim of a prefix (the go-live rounds' record).
			later := now.Add(time.Minute).Truncate(time.Microsecond)
			if ok, _ := st.ClaimEvent(ctx, "golive:1", later); !ok {
				t.Fatal("claim golive:1")
			}
			if at, err := st.LastEventClaim(ctx, "golive:"); err != nil || !at.Equal(later) {
				t.Fatalf("last golive claim = %v %v, want %v", at, err, later)
			}
			if at, err := st.LastEventClaim(ctx, "nothing:"); err != nil || !at.IsZero() {
				t.Fatalf("last claim of an unused prefix = %v %v", at, err)
			}
			// A recurring key: won once among concurrent claims, refused
			// while its last claim is newer than since, won again after.
			wins.Store(0)
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ok, err := st.ClaimEventAgain(ctx, "presence.parted::u1", now, now.Add(-10*time.Second))
					if err != nil {
						t.Error(err)
					}
					if ok {
						wins.Add(1)
					}
				}()
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("%d recurring claims won, want 1", wins.Load())
			}
			if ok, _ := st.ClaimEventAgain(ctx, "presence.parted::u1", now.Add(5*time.Second), now.Add(-5*time.Second)); ok {
				t.Fatal("a recurring claim won within its interval")
			}
			if ok, err := st.ClaimEventAgain(ctx, "presence.parted::u1", now.Add(10*time.Second), now); !ok || err != nil {
				t.Fatalf("a recurring claim lost after its interval: %v", err)
			}
			if ok, _ := st.ClaimEventAgain(ctx, "presence.parted::u1", now.Add(15*time.Second), now.Add(5*time.Second)); ok {
				t.Fatal("the renewed claim did not move its time")
			}
		})
	}
}
