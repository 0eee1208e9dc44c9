package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/watch"
)

// TestWatchStaleNodeCannotOverwriteRoom: a node whose lease on a room ran
// out (it stalled past the lease term: a long pause, a database outage)
// while another node took the room over cannot write its stale copy over
// the row the new node keeps, on every engine. Rooms were saved whole and
// unconditionally, so node A's save (here its shutdown; a seek or an add
// as well) undid node B's claim of the room.
func TestWatchStaleNodeCannotOverwriteRoom(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			clock := &testClock{t: time.Now().UTC().Truncate(time.Microsecond)}
			uid := newAccount(t, db, "claimer")
			node := func(id string) *watch.Service {
				t.Helper()
				return newWatchNode(t, watch.Config{Now: clock.Now, SaveDelay: time.Hour, SyncDelay: time.Hour, DisableUnload: true},
					db, nopPub{}, id)
			}
			a, b := node("node-a"), node("node-b")
			ra, err := a.Create(ctx, watch.CreateInput{Name: "fenced"})
			if err != nil {
				t.Fatal(err)
			}
			// A stalls past its lease; B is asked for the room and takes it.
			clock.Add(time.Minute)
			rb, err := b.Get(ctx, "fenced")
			if err != nil {
				t.Fatal(err)
			}
			if b.NodeID() != "node-b" || len(b.Loaded()) != 1 {
				t.Fatalf("node B did not take the room over: %d loaded", len(b.Loaded()))
			}
			claimer := watch.Actor{AccountID: uid, Name: "claimer", LoggedIn: true}
			if err := b.Claim(ctx, rb, claimer); err != nil {
				t.Fatal(err)
			}
			owner := func() string {
				t.Helper()
				rec, err := db.Watch().RoomByName(ctx, "fenced")
				if err != nil {
					t.Fatal(err)
				}
				return rec.OwnerID
			}
			if got := owner(); got != uid {
				t.Fatalf("owner after B's claim %q, want %q", got, uid)
			}

			// A wakes up: a change on its copy, then its shutdown. The change
			// is not kept on A's copy; A sends it on to B, which runs the
			// room, but on this bus B never hears it: it must not answer
			// success. (The wait for B's answer is cut short: only its
			// outcome matters.)
			lctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			err = a.Handle(lctx, ra, watch.Actor{AccountID: "guest", Name: "guest"}, "", watch.Request{Type: watch.ReqAdd,
				Video: &watch.VideoRef{Service: "direct", ID: "late"}})
			cancel()
			if err == nil {
				t.Errorf("an add on the stale copy answered success; it was never kept")
			}
			if got := owner(); got != uid {
				t.Fatalf("node A's stale save undid node B's claim: owner %q, want %q", got, uid)
			}
			a.Shutdown()
			if got := owner(); got != uid {
				t.Fatalf("node A's shutdown undid node B's claim: owner %q, want %q", got, uid)
			}
			// B's copy still saves.
			if err := b.Handle(ctx, rb, claimer, "", watch.Request{Type: watch.ReqAdd,
				Video: &watch.VideoRef{Service: "direct", ID: "kept"}}); err != nil {
				t.Fatalf("node B's add: %v", err)
			}
			b.Shutdown()
			c := node("node-c")
			rc, err := c.Get(ctx, "fenced")
			if err != nil {
				t.Fatal(err)
			}
			s := rc.Snapshot()
			kept := s.Current != nil && s.Current.ID == "kept" || len(s.Queue) == 1 && s.Queue[0].ID == "kept"
			if s.OwnerID != uid || !kept {
				t.Fatalf("reloaded: owner %q, current %+v, queue %+v; want B's owner and video", s.OwnerID, s.Current, s.Queue)
			}
		})
	}
}

// heldSaves is a room store whose first SaveRoom waits, holding the record
// it was given, until the test lets it go.
type heldSaves struct {
	*store.Watch
	once    sync.Once
	entered chan struct{}
	release chan struct{}
	done    chan struct{}
}

func (h *heldSaves) SaveRoom(ctx context.Context, r *watch.Record) error {
	first := false
	h.once.Do(func() { first = true })
	if !first {
		return h.Watch.SaveRoom(ctx, r)
	}
	close(h.entered)
	<-h.release
	defer close(h.done)
	return h.Watch.SaveRoom(ctx, r)
}

// TestWatchLateBatchedSaveKeepsClaim: on one node, the batched save of a
// playback change, encoded before a claim of the room and written after
// the claim's own save, does not undo the claim, on every engine.
func TestWatchLateBatchedSaveKeepsClaim(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			uid := newAccount(t, db, "claimer")
			st := &heldSaves{Watch: db.Watch(), entered: make(chan struct{}), release: make(chan struct{}), done: make(chan struct{})}
			svc := newWatch(t, watch.Config{SaveDelay: time.Millisecond, SyncDelay: time.Hour, DisableUnload: true}, st, nopPub{})
			r, err := svc.Create(ctx, watch.CreateInput{Name: "batched"})
			if err != nil {
				t.Fatal(err)
			}
			// A playback change: its save is batched, and the batch's write
			// is held after the room was encoded.
			playing := true
			if err := svc.Handle(ctx, r, watch.Actor{AccountID: "guest", Name: "guest"}, "",
				watch.Request{Type: watch.ReqPlayback, State: &playing}); err != nil {
				t.Fatal(err)
			}
			<-st.entered
			if err := svc.Claim(ctx, r, watch.Actor{AccountID: uid, Name: "claimer", LoggedIn: true}); err != nil {
				t.Fatal(err)
			}
			close(st.release)
			<-st.done
			rec, err := db.Watch().RoomByName(ctx, "batched")
			if err != nil {
				t.Fatal(err)
			}
			if rec.OwnerID != uid {
				t.Fatalf("a save encoded before the claim and written after it undid the claim: owner %q, want %q", rec.OwnerID, uid)
			}
		})
	}
}

// TestWatchRoomFence: the store side of the fence, on every engine. A load
// (TakeRoom) starts a new generation; a save or a delete naming an older
// one is refused with watch.ErrSuperseded and changes nothing; within a
// generation only a newer version is written.
func TestWatchRoomFence(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			st := eng.Open(t).Watch()
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			rec := func(title string, gen, version int64) *watch.Record {
				return &watch.Record{Name: "Fence", Title: title, Visibility: watch.Public, QueueMode: watch.QueueManual,
					CreatedAt: now, UpdatedAt: now, Gen: gen, Version: version}
			}
			if err := st.CreateRoom(ctx, rec("created", 1, 1)); err != nil {
				t.Fatal(err)
			}
			taken, err := st.TakeRoom(ctx, "FENCE")
			if err != nil || taken.Gen != 2 || taken.Version != 1 || taken.Title != "created" {
				t.Fatalf("take: %+v %v, want generation 2, version 1", taken, err)
			}
			if _, err := st.TakeRoom(ctx, "missing"); !errors.Is(err, fault.NotFound) {
				t.Fatalf("take a missing room: %v", err)
			}
			title := func() string {
				t.Helper()
				r, err := st.RoomByName(ctx, "fence")
				if err != nil {
					t.Fatal(err)
				}
				return r.Title
			}
			if err := st.SaveRoom(ctx, rec("stale", 1, 9)); !errors.Is(err, watch.ErrSuperseded) || title() != "created" {
				t.Fatalf("a save of generation 1 after 2 was taken: %v, title %q", err, title())
			}
			if err := st.SaveRoom(ctx, rec("new", 2, 5)); err != nil || title() != "new" {
				t.Fatalf("generation 2's save: %v, title %q", err, title())
			}
			if err := st.SaveRoom(ctx, rec("older", 2, 4)); err != nil || title() != "new" {
				t.Fatalf("an older save of generation 2 written late: %v, title %q, want nil and new kept", err, title())
			}
			if err := st.SaveRooms(ctx, []*watch.Record{rec("batch-stale", 1, 10)}); !errors.Is(err, watch.ErrSuperseded) || title() != "new" {
				t.Fatalf("a batch with a stale copy: %v, title %q", err, title())
			}
			if err := st.SaveRoom(ctx, rec("seeded", 0, 0)); err != nil || title() != "seeded" {
				t.Fatalf("a save naming no generation: %v, title %q", err, title())
			}
			if err := st.DeleteRoom(ctx, "fence", 1); !errors.Is(err, watch.ErrSuperseded) || title() != "seeded" {
				t.Fatalf("a delete by generation 1: %v", err)
			}
			if err := st.DeleteRoom(ctx, "fence", 2); err != nil {
				t.Fatal(err)
			}
			if err := st.DeleteRoom(ctx, "fence", 2); !errors.Is(err, fault.NotFound) {
				t.Fatalf("delete twice: %v", err)
			}
			if err := st.SaveRoom(ctx, rec("gone", 2, 6)); !errors.Is(err, fault.NotFound) {
				t.Fatalf("save a deleted room: %v", err)
			}
		})
	}
}

// TestWatchNodeRetiresRoomsWhoseLeaseItLost: a node that finds, renewing
// its leases, that another node took a room's lease drops its copy at once
// (its sockets reconnect to where the room runs now) instead of running a
// second copy beside the new node's until it next saves; a change it had
// not saved yet is kept when the new node has not loaded the room yet.
func TestWatchNodeRetiresRoomsWhoseLeaseItLost(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			clock := &testClock{t: time.Now().UTC().Truncate(time.Microsecond)}
			a := newWatchNode(t, watch.Config{Now: clock.Now, SaveDelay: time.Hour, SyncDelay: time.Hour, DisableUnload: true},
				db, nopPub{}, "node-a")
			for _, n := range []string{"kept", "other"} {
				if _, err := a.Create(ctx, watch.CreateInput{Name: n}); err != nil {
					t.Fatal(err)
				}
			}
			r, err := a.Get(ctx, "kept")
			if err != nil {
				t.Fatal(err)
			}
			playing := true // batched: not saved yet
			if err := a.Handle(ctx, r, watch.Actor{AccountID: "guest", Name: "guest"}, "",
				watch.Request{Type: watch.ReqPlayback, State: &playing}); err != nil {
				t.Fatal(err)
			}
			// A stalls past its lease; node B takes it (and has not loaded
			// the room yet).
			clock.Add(time.Minute)
			if owner, err := db.Watch().ClaimRoomLease(ctx, "kept", "node-b", clock.Now(), clock.Now().Add(time.Minute)); err != nil || owner != "node-b" {
				t.Fatalf("node B's claim: %q %v", owner, err)
			}
			a.Tick()
			loaded := a.Loaded()
			if len(loaded) != 1 || loaded[0].Name() != "other" {
				t.Fatalf("node A still runs %d rooms after losing one's lease, want only the other", len(loaded))
			}
			rec, err := db.Watch().RoomByName(ctx, "kept")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(rec.State), `"playing":true`) {
				t.Fatalf("node A's unsaved change was not kept before it let the room go: state %s", rec.State)
			}
		})
	}
}

// TestWatchRoomSavesAfterOwnerDeleted: a loaded room whose owner's account
// is deleted (its row's owner_id is set NULL) keeps saving, ownerless, on
// every engine. The save wrote the deleted id back, which the foreign key
// refuses, so every later save of the room failed and its changes were lost.
func TestWatchRoomSavesAfterOwnerDeleted(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			uid := newAccount(t, db, "leaver")
			svc := newWatch(t, watch.Config{SaveDelay: time.Hour, SyncDelay: time.Hour, DisableUnload: true}, db.Watch(), nopPub{})
			r, err := svc.Create(ctx, watch.CreateInput{Name: "orphan", OwnerID: uid})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Identity().DeleteAccount(ctx, uid); err != nil {
				t.Fatal(err)
			}
			if err := svc.Handle(ctx, r, watch.Actor{AccountID: "guest", Name: "guest"}, "", watch.Request{Type: watch.ReqAdd,
				Video: &watch.VideoRef{Service: "direct", ID: "after"}}); err != nil {
				t.Fatal(err)
			}
			rec, err := db.Watch().RoomByName(ctx, "orphan")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(rec.State), `"after"`) || rec.OwnerID != "" {
				t.Fatalf("after the owner's deletion the room's save was lost: owner %q, state %s", rec.OwnerID, rec.State)
			}
		})
	}
}
