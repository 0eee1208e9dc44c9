package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestFederationLeaving: a hidden stage channel actor's record of a server
// it sent an Undo to holds until its time, is replaced by a later one, is
// per actor and host, and expired records are dropped when one is added.
func TestFederationLeaving(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			fed := eng.Open(t).Federation()
			now := time.Now().UTC().Truncate(time.Microsecond)
			leaving := func(actor, host string, at time.Time) bool {
				t.Helper()
				ok, err := fed.Leaving(ctx, actor, host, at)
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}
			if leaving("stage-a", "b.example", now) {
				t.Fatal("leaving before any record")
			}
			if err := fed.PutLeaving(ctx, "stage-a", "b.example", now.Add(time.Hour), now); err != nil {
				t.Fatal(err)
			}
			if !leaving("stage-a", "b.example", now) || !leaving("stage-a", "b.example", now.Add(time.Hour)) {
				t.Error("not leaving within the record's time")
			}
			if leaving("stage-a", "b.example", now.Add(time.Hour+time.Second)) {
				t.Error("still leaving after the record's time")
			}
			if leaving("stage-a", "c.example", now) || leaving("stage-x", "b.example", now) {
				t.Error("a record for one actor and host covers another")
			}
			// A later Undo to the same server extends the record.
			if err := fed.PutLeaving(ctx, "stage-a", "b.example", now.Add(3*time.Hour), now); err != nil {
				t.Fatal(err)
			}
			if !leaving("stage-a", "b.example", now.Add(2*time.Hour)) {
				t.Error("the later record did not replace the earlier")
			}
			// Adding a record drops the expired ones.
			if err := fed.PutLeaving(ctx, "stage-b", "b.example", now.Add(5*time.Hour), now.Add(4*time.Hour)); err != nil {
				t.Fatal(err)
			}
			if leaving("stage-a", "b.example", now) {
				t.Error("an expired record was kept")
			}
		})
	}
}
