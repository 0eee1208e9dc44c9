package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// TestWebhookQueue: the webhook delivery queue on both engines. A delivery
// is stored unless its webhook's queue is full, claimed by one claimer at a
// time and only when due and of a claimed kind, claimed again when its
// lease runs out, retried when scheduled, and gone when finished.
func TestWebhookQueue(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			q := eng.Open(t).WebhookQueue()
			ctx := context.Background()
			t0 := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
			add := func(id, kind, ref string, max int) bool {
				t.Helper()
				ok, err := q.AddDelivery(ctx, &webhooks.Queued{ID: id, Kind: kind, Ref: ref, URL: "https://example.org/" + id,
					Body: []byte(`{"n":"` + id + `"}`), NextAt: t0, CreatedAt: t0}, max)
				if err != nil {
					t.Fatalf("add %s: %v", id, err)
				}
				return ok
			}
			if !add("a", "owncast", "h1", 2) || !add("b", "owncast", "h1", 2) {
				t.Fatal("deliveries under the limit refused")
			}
			if add("c", "owncast", "h1", 2) {
				t.Fatal("a third delivery for h1 stored past a limit of 2")
			}
			if !add("d", "owncast", "h2", 2) || !add("e", "together", "h1", 2) {
				t.Fatal("the limit is per kind and ref")
			}

			ds, err := q.ClaimDeliveries(ctx, []string{"owncast"}, t0, t0.Add(time.Minute), 10)
			if err != nil || len(ds) != 3 {
				t.Fatalf("claim owncast = %d %v", len(ds), err)
			}
			if d := ds[0]; d.ID != "a" || d.Kind != "owncast" || d.Ref != "h1" || d.URL != "https://example.org/a" ||
				string(d.Body) != `{"n":"a"}` || d.Attempts != 0 || !d.CreatedAt.Equal(t0) {
				t.Fatalf("claimed %+v", d)
			}
			if again, err := q.ClaimDeliveries(ctx, []string{"owncast", "together"}, t0, t0.Add(time.Minute), 10); err != nil ||
				len(again) != 1 || again[0].ID != "e" {
				t.Fatalf("leased rows claimed again: %v %v", again, err)
			}

			// A retry is due at its time; a finished one is gone.
			if err := q.RetryDelivery(ctx, "a", 1, t0.Add(10*time.Second)); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"b", "d", "e"} {
				if err := q.FinishDelivery(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			if ds, _ := q.ClaimDeliveries(ctx, []string{"owncast"}, t0.Add(5*time.Second), t0.Add(time.Hour), 10); len(ds) != 0 {
				t.Fatalf("a retry claimed before it was due: %v", ds)
			}

			ds, err = q.ClaimDeliveries(ctx, []string{"owncast"}, t0.Add(10*time.Second), t0.Add(time.Hour), 10)
			if err != nil || len(ds) != 1 || ds[0].ID != "a" || ds[0].Attempts != 1 {
				t.Fatalf("retry = %v %v", ds, err)
			}
			// A lease that ran out (its node died) is claimed again.
			ds, err = q.ClaimDeliveries(ctx, []string{"owncast"}, t0.Add(2*time.Hour), t0.Add(3*time.Hour), 10)
			if err != nil || len(ds) != 1 || ds[0].ID != "a" {
				t.Fatalf("expired lease = %v %v", ds, err)
			}
		})
	}
}
