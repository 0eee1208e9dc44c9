package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestRecordingsStoreContract runs the recordings store contract on every
// engine: recordings round-trip (open and closed), newest first per stage;
// clips and the message that announced one; settings with an unset enabled; one claim per job key; the clip
// budget.
func TestRecordingsStoreContract(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			st := eng.Open(t).Recordings()
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Millisecond)
			older := &recording.Recording{ID: identity.NewID(), StageID: "s1", Title: "one", StartedAt: now.Add(-time.Hour),
				NodeID: "n1", LeaseUntil: now}
			newer := &recording.Recording{ID: identity.NewID(), StageID: "s1", Title: "two", StartedAt: now}
			other := &recording.Recording{ID: identity.NewID(), StageID: "s2", StartedAt: now}
			for _, r := range []*recording.Recording{older, newer, other} {
				if err := st.CreateRecording(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			end := now.Add(-30 * time.Minute)
			older.EndedAt, older.Duration, older.Size, older.Pinned, older.Title = &end, 1800*time.Second, 12345, true, "renamed"
			if err := st.UpdateRecording(ctx, older); err != nil {
				t.Fatal(err)
			}
			got, err := st.Recording(ctx, older.ID)
			if err != nil || got.EndedAt == nil || !got.EndedAt.Equal(end) || got.Duration != older.Duration || got.Size != 12345 ||
				!got.Pinned || got.Title != "renamed" || got.NodeID != "n1" || !got.LeaseUntil.Equal(now) {
				t.Fatalf("round trip: %+v %v", got, err)
			}
			list, err := st.Recordings(ctx, "s1")
			if err != nil || len(list) != 2 || list[0].ID != newer.ID {
				t.Fatalf("list: %v %v", list, err)
			}
			open, err := st.OpenRecordings(ctx)
			if err != nil || len(open) != 2 {
				t.Fatalf("open: %d %v", len(open), err)
			}
			if err := st.DeleteRecording(ctx, newer.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Recording(ctx, newer.ID); !errors.Is(err, fault.NotFound) {
				t.Fatalf("deleted: %v", err)
			}
			if err := st.UpdateRecording(ctx, newer); !errors.Is(err, fault.NotFound) {
				t.Fatalf("update of a deleted one: %v", err)
			}
			c := &recording.Clip{ID: identity.NewID(), StageID: "s1", RecordingID: older.ID, Title: "c", Offset: 5 * time.Second,
				Duration: 5 * time.Second, Size: 99, CreatedBy: "a", CreatedAt: now, NodeID: "node-a"}
			if err := st.CreateClip(ctx, c); err != nil {
				t.Fatal(err)
			}
			if gc, err := st.Clip(ctx, c.ID); err != nil || gc.Offset != c.Offset || gc.Size != 99 || gc.NodeID != "node-a" {
				t.Fatalf("clip: %+v %v", gc, err)
			}
			if cs, _ := st.Clips(ctx, "s1"); len(cs) != 1 || cs[0].MessageID != "" {
				t.Fatalf("clips: %+v", cs)
			}
			// The message that announced it, kept with it.
			msg := identity.NewID()
			if err := st.SetClipMessage(ctx, c.ID, msg); err != nil {
				t.Fatal(err)
			}
			if gc, err := st.Clip(ctx, c.ID); err != nil || gc.MessageID != msg {
				t.Fatalf("clip's message: %+v %v", gc, err)
			}
			if err := st.SetClipMessage(ctx, identity.NewID(), msg); !errors.Is(err, fault.NotFound) {
				t.Fatalf("message of an unknown clip: %v", err)
			}
			// Deleting a clip tells the message the deleted row held (a
			// read before may have missed it), and a clip that is not there.
			cd := &recording.Clip{ID: identity.NewID(), StageID: "s3", Duration: time.Second, CreatedAt: now}
			if err := st.CreateClip(ctx, cd); err != nil {
				t.Fatal(err)
			}
			if err := st.SetClipMessage(ctx, cd.ID, msg); err != nil {
				t.Fatal(err)
			}
			if got, err := st.DeleteClip(ctx, cd.ID); err != nil || got != msg {
				t.Fatalf("delete a clip: %q %v, want its message %q", got, err, msg)
			}
			if _, err := st.Clip(ctx, cd.ID); !errors.Is(err, fault.NotFound) {
				t.Fatalf("the deleted clip: %v", err)
			}
			if got, err := st.DeleteClip(ctx, cd.ID); !errors.Is(err, fault.NotFound) || got != "" {
				t.Fatalf("delete a clip again: %q %v, want NotFound", got, err)
			}
			c2 := &recording.Clip{ID: identity.NewID(), StageID: "s2", Duration: time.Second, CreatedAt: now.Add(time.Second)}
			if err := st.CreateClip(ctx, c2); err != nil {
				t.Fatal(err)
			}
			if cs, _ := st.Clips(ctx, ""); len(cs) != 2 || cs[0].ID != c2.ID {
				t.Fatalf("every stage's clips, newest first: %+v", cs)
			}
			if s, err := st.RecordingSettings(ctx, "s1"); err != nil || s.Enabled != nil || s.MaxCount != 0 {
				t.Fatalf("default settings: %+v %v", s, err)
			}
			yes := true
			if err := st.SetRecordingSettings(ctx, &recording.StageSettings{StageID: "s1", Enabled: &yes, MaxAge: time.Hour, MaxCount: 3, MaxBytes: 1 << 40}); err != nil {
				t.Fatal(err)
			}
			if err := st.SetRecordingSettings(ctx, &recording.StageSettings{StageID: "s2"}); err != nil {
				t.Fatal(err)
			}
			s, err := st.RecordingSettings(ctx, "s1")
			if err != nil || s.Enabled == nil || !*s.Enabled || s.MaxAge != time.Hour || s.MaxCount != 3 || s.MaxBytes != 1<<40 {
				t.Fatalf("settings: %+v %v", s, err)
			}
			if all, _ := st.AllRecordingSettings(ctx); len(all) != 2 || all[1].Enabled != nil {
				t.Fatalf("all settings: %+v", all)
			}
			for i, want := range []bool{true, false} {
				if ok, err := st.ClaimJob(ctx, "retention:1", now); err != nil || ok != want {
					t.Fatalf("claim %d: %v %v", i, ok, err)
				}
			}
			// The clip budget: 2 clips, one back every 30 minutes, per
			// account; a refusal charges nothing and says when to come back.
			for i, want := range []bool{true, true, false} {
				ok, retry, err := st.TakeClip(ctx, "alice", 2, 30*time.Minute, now)
				if err != nil || ok != want || (!ok && retry != 30*time.Minute) {
					t.Fatalf("alice's clip %d: %v %v %v", i, ok, retry, err)
				}
			}
			if ok, _, err := st.TakeClip(ctx, "bob", 2, 30*time.Minute, now); err != nil || !ok {
				t.Fatalf("bob's clip: %v %v", ok, err)
			}
			for i, want := range []bool{true, false} {
				if ok, _, err := st.TakeClip(ctx, "alice", 2, 30*time.Minute, now.Add(30*time.Minute)); err != nil || ok != want {
					t.Fatalf("alice's clip %d half an hour later: %v %v", i, ok, err)
				}
			}
		})
	}
}

// TestDeletedAccountTakesItsClipBudget: deleting an account deletes its
// clip budget's bucket (clip_buckets) in the same transaction, on every
// engine, rather than leaving the row until its hour has passed; another
// account's bucket stays.
func TestDeletedAccountTakesItsClipBudget(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			now := time.Now().UTC()
			mk := func(name string) string {
				a := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: name, CreatedAt: now, UpdatedAt: now}
				if err := db.Identity().CreateAccount(ctx, a); err != nil {
					t.Fatal(err)
				}
				if ok, _, err := db.Recordings().TakeClip(ctx, a.ID, 1, time.Hour, now); err != nil || !ok {
					t.Fatalf("%s's clip: %v %v", name, ok, err)
				}
				return a.ID
			}
			ann, bob := mk("ann"), mk("bob")
			if err := db.Identity().DeleteAccount(ctx, ann); err != nil {
				t.Fatal(err)
			}
			var left int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM clip_buckets WHERE key=$1`, ann).Scan(&left); err != nil || left != 0 {
				t.Fatalf("the deleted account's bucket: %d rows, %v", left, err)
			}
			if ok, _, err := db.Recordings().TakeClip(ctx, bob, 1, time.Hour, now); err != nil || ok {
				t.Fatalf("the other account's spent budget: %v %v, want refused", ok, err)
			}
		})
	}
}
