package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/store"
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
					Body: []byte(`{"n":"` + id + `"}`), NextAt: t0, CreatedAt: t0}, max, false)
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

			ds, err := q.ClaimFairly(ctx, []string{"owncast"}, t0, t0.Add(time.Minute), 10, 10, nil)
			if err != nil || len(ds) != 3 {
				t.Fatalf("claim owncast = %d %v", len(ds), err)
			}
			if d := ds[0]; d.ID != "a" || d.Kind != "owncast" || d.Ref != "h1" || d.URL != "https://example.org/a" ||
				string(d.Body) != `{"n":"a"}` || d.Attempts != 0 || !d.CreatedAt.Equal(t0) {
				t.Fatalf("claimed %+v", d)
			}
			if again, err := q.ClaimFairly(ctx, []string{"owncast", "together"}, t0, t0.Add(time.Minute), 10, 10, nil); err != nil ||
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
			if ds, _ := q.ClaimFairly(ctx, []string{"owncast"}, t0.Add(5*time.Second), t0.Add(time.Hour), 10, 10, nil); len(ds) != 0 {
				t.Fatalf("a retry claimed before it was due: %v", ds)
			}

			ds, err = q.ClaimFairly(ctx, []string{"owncast"}, t0.Add(10*time.Second), t0.Add(time.Hour), 10, 10, nil)
			if err != nil || len(ds) != 1 || ds[0].ID != "a" || ds[0].Attempts != 1 {
				t.Fatalf("retry = %v %v", ds, err)
			}
			// A lease that ran out (its node died) is claimed again.
			ds, err = q.ClaimFairly(ctx, []string{"owncast"}, t0.Add(2*time.Hour), t0.Add(3*time.Hour), 10, 10, nil)
			if err != nil || len(ds) != 1 || ds[0].ID != "a" {
				t.Fatalf("expired lease = %v %v", ds, err)
			}
		})
	}
}

// TestWebhookQueueKeepNewest: a kind that keeps the newest deliveries
// (federation's, per inbox) always stores the new one and drops the oldest
// of the same kind and ref past the limit, on both engines.
func TestWebhookQueueKeepNewest(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			q := eng.Open(t).WebhookQueue()
			ctx := context.Background()
			t0 := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
			for i, id := range []string{"a", "b", "c", "d"} {
				at := t0.Add(time.Duration(i) * time.Second)
				ok, err := q.AddDelivery(ctx, &webhooks.Queued{ID: id, Kind: "federation", Ref: "inbox1", URL: "https://example.org/inbox",
					Body: []byte(`{}`), NextAt: at, CreatedAt: at}, 2, true)
				if err != nil || !ok {
					t.Fatalf("add %s = %v %v", id, ok, err)
				}
			}
			if ok, err := q.AddDelivery(ctx, &webhooks.Queued{ID: "x", Kind: "federation", Ref: "inbox2", URL: "https://example.org/inbox2",
				Body: []byte(`{}`), NextAt: t0, CreatedAt: t0}, 2, true); err != nil || !ok {
				t.Fatalf("add to another ref = %v %v", ok, err)
			}
			ds, err := q.ClaimFairly(ctx, []string{"federation"}, t0.Add(time.Minute), t0.Add(time.Hour), 10, 10, nil)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, d := range ds {
				ids = append(ids, d.ID)
			}
			if strings.Join(ids, ",") != "x,c,d" {
				t.Fatalf("kept %v, want x,c,d (the newest two of inbox1 and inbox2's one)", ids)
			}
		})
	}
}

// TestMigrationMovesFederationDeliveries: deliveries an older Hearth left
// in federation's own queue move onto the one delivery queue (kind
// federation, ref and URL the inbox, attempts and due time kept), and the
// old table is dropped, on both engines.
func TestMigrationMovesFederationDeliveries(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			t0 := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
			if _, err := db.ExecContext(ctx, `CREATE TABLE federation_deliveries (
				id TEXT PRIMARY KEY, inbox TEXT NOT NULL, key_id TEXT NOT NULL, body TEXT NOT NULL,
				attempts INTEGER NOT NULL DEFAULT 0, next_at BIGINT NOT NULL, claimed_until BIGINT NOT NULL DEFAULT 0,
				created_at BIGINT NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO federation_deliveries (id, inbox, key_id, body, attempts, next_at, claimed_until, created_at)
				VALUES ('d1', 'https://peer.example/inbox', 'https://stage.example/federation/user/streamer#main-key', '{"id":"1"}', 3, $1, $2, $3),
				       ('d2', 'https://other.example/inbox', 'https://stage.example/federation/user/streamer#main-key', '{"id":"2"}', 0, $3, 0, $3)`,
				store.Micros(t0.Add(time.Minute)), store.Micros(t0.Add(time.Hour)), store.Micros(t0)); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `DELETE FROM goose_db_version WHERE version_id = 910`); err != nil {
				t.Fatal(err)
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			ds, err := db.WebhookQueue().ClaimFairly(ctx, []string{"federation"}, t0.Add(time.Minute), t0.Add(time.Hour), 10, 10, nil)
			if err != nil || len(ds) != 2 {
				t.Fatalf("moved deliveries = %v %v", ds, err)
			}
			if d := ds[0]; d.ID != "d2" || d.Ref != "https://other.example/inbox" || d.URL != d.Ref || string(d.Body) != `{"id":"2"}` ||
				d.Attempts != 0 || !d.NextAt.Equal(t0) || !d.CreatedAt.Equal(t0) {
				t.Fatalf("moved %+v", d)
			}
			if d := ds[1]; d.ID != "d1" || d.Ref != "https://peer.example/inbox" || d.Attempts != 3 || !d.NextAt.Equal(t0.Add(time.Minute)) {
				t.Fatalf("moved %+v (a lease an older node held is released)", d)
			}
			var n int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM federation_deliveries`).Scan(&n); err == nil {
				t.Fatal("federation_deliveries still exists")
			}
		})
	}
}

// TestEventClaimAndDeliveriesAreOneTransaction: an event's claim and its
// deliveries are stored together or not at all, on both engines. A node
// that dies between the two (the crash point inside the transaction)
// leaves the event unclaimed and nothing queued, so the next node (or the
// restarted one) claims it and queues its deliveries; a claimed event is
// not queued again, and of many nodes claiming one event at once exactly
// one queues it.
func TestEventClaimAndDeliveriesAreOneTransaction(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			q := db.WebhookQueue()
			ctx := context.Background()
			t0 := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
			deliveries := func(prefix string) []*webhooks.Queued {
				var ds []*webhooks.Queued
				for _, ref := range []string{"h1", "h2"} {
					ds = append(ds, &webhooks.Queued{ID: prefix + ref, Kind: "owncast", Ref: ref, URL: "https://example.org/" + ref,
						Body: []byte(`{"type":"CHAT"}`), NextAt: t0, CreatedAt: t0})
				}
				return ds
			}
			died := errors.New("killed between the claim and the queue")
			dying := store.CrashAfterClaim(q, func() error { return died })
			if claimed, _, err := dying.AddDeliveriesOnce(ctx, "chat-webhook:m1", t0, deliveries("dead-"), 0, false); !errors.Is(err, died) || claimed {
				t.Fatalf("dying node: claimed %v, err %v", claimed, err)
			}
			claimed, stored, err := q.AddDeliveriesOnce(ctx, "chat-webhook:m1", t0, deliveries("live-"), 0, false)
			if err != nil || !claimed || len(stored) != 2 || !stored[0] || !stored[1] {
				t.Fatalf("the next node could not claim the event: claimed %v, stored %v, err %v", claimed, stored, err)
			}
			if claimed, _, err := q.AddDeliveriesOnce(ctx, "chat-webhook:m1", t0, deliveries("again-"), 0, false); err != nil || claimed {
				t.Fatalf("a claimed event was claimed again: %v %v", claimed, err)
			}
			ds, err := q.ClaimFairly(ctx, []string{"owncast"}, t0, t0.Add(time.Minute), 10, 10, nil)
			if err != nil || len(ds) != 2 || ds[0].ID != "live-h1" || ds[1].ID != "live-h2" {
				t.Fatalf("queued = %v %v", ds, err)
			}

			// Many nodes at once: one claim, one set of deliveries.
			var wins atomic.Int32
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					claimed, _, err := q.AddDeliveriesOnce(ctx, "chat-webhook:m2", t0, deliveries(fmt.Sprintf("n%d-", i)), 0, false)
					if err != nil {
						t.Error(err)
					}
					if claimed {
						wins.Add(1)
					}
				})
			}
			wg.Wait()
			ds, err = q.ClaimFairly(ctx, []string{"owncast"}, t0, t0.Add(time.Minute), 100, 100, nil)
			if wins.Load() != 1 || err != nil || len(ds) != 2 {
				t.Fatalf("%d claims won, %d deliveries queued (%v), want 1 and 2", wins.Load(), len(ds), err)
			}
		})
	}
}

// TestWebhookQueueClaimsFairly: ClaimFairly leases at most perRef due
// deliveries of one kind and ref, counting those the claimer holds, so a
// target with many deliveries waiting cannot fill a claim, on both
// engines; the others' deliveries are claimed in the same batch, oldest
// due first, those of a target at its share are skipped however many wait
// ahead, and a target's next is claimed once it holds fewer.
func TestWebhookQueueClaimsFairly(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			q := eng.Open(t).WebhookQueue()
			ctx := context.Background()
			t0 := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
			add := func(id, kind, ref string, at time.Time) {
				t.Helper()
				if ok, err := q.AddDelivery(ctx, &webhooks.Queued{ID: id, Kind: kind, Ref: ref, URL: "https://example.org/" + ref,
					Body: []byte(`{}`), NextAt: at, CreatedAt: at}, 0, false); err != nil || !ok {
					t.Fatalf("add %s: %v %v", id, ok, err)
				}
			}
			for i := range 40 {
				add(fmt.Sprintf("slow%02d", i), "together", "slow", t0.Add(time.Duration(i)*time.Millisecond))
			}
			add("fast", "together", "fast", t0.Add(time.Second))
			add("other", "owncast", "slow", t0.Add(time.Second)) // the same ref of another kind is another target
			add("late", "together", "late", t0.Add(2*time.Second))
			ids := func(ds []*webhooks.Queued) string {
				var s []string
				for _, d := range ds {
					s = append(s, d.ID)
				}
				return strings.Join(s, ",")
			}
			now := t0.Add(time.Minute)
			slow := webhooks.RefKey{Kind: "together", Ref: "slow"}
			kinds := []string{"together", "owncast"}
			ds, err := q.ClaimFairly(ctx, kinds, now, now.Add(time.Minute), 3, 2, nil)
			if err != nil || ids(ds) != "slow00,slow01" {
				t.Fatalf("claimed %q, %v; want slow00,slow01 (its share, of the oldest few due)", ids(ds), err)
			}
			held := map[webhooks.RefKey]int{slow: 2}
			if ds, err := q.ClaimFairly(ctx, kinds, now, now.Add(time.Minute), 10, 2, held); err != nil ||
				ids(ds) != "fast,other,late" {
				t.Fatalf("with the slow target at its share: %q, %v; want fast,other,late (38 of its deliveries waiting ahead)",
					ids(ds), err)
			}
			if err := q.RetryDelivery(ctx, "slow00", 1, now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if ds, err := q.ClaimFairly(ctx, kinds, now, now.Add(time.Minute), 10, 2, map[webhooks.RefKey]int{slow: 1}); err != nil ||
				ids(ds) != "slow02" {
				t.Fatalf("with one of its two given back: %q, %v; want slow02", ids(ds), err)
			}
		})
	}
}
