package store_test

import (
	"context"
	"encoding/json"
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

// TestWatchSweepKeepsRunningRooms: the temporary-room sweep deletes only
// rooms neither saved nor run (leased) within the TTL, on every engine. It
// deleted every temporary room not saved for two hours, also one loaded
// and in use (a long video playing saves nothing), and the room's later
// saves then failed: it was lost under its users.
func TestWatchSweepKeepsRunningRooms(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			st := db.Watch()
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			for _, c := range []struct {
				name  string
				lease time.Time // zero: none
			}{
				{"running", now.Add(10 * time.Second)},
				{"ran-an-hour-ago", now.Add(-time.Hour)},
				{"ran-long-ago", now.Add(-3 * time.Hour)},
				{"never-ran", time.Time{}},
			} {
				old := now.Add(-3 * time.Hour)
				rec := &watch.Record{Name: c.name, Title: "t", Visibility: watch.Public, QueueMode: watch.QueueManual,
					IsTemporary: true, Settings: json.RawMessage(`{}`), State: json.RawMessage(`{}`), CreatedAt: old, UpdatedAt: old}
				if err := st.CreateRoom(ctx, rec); err != nil {
					t.Fatal(err)
				}
				if !c.lease.IsZero() {
					if _, err := st.ClaimRoomLease(ctx, c.name, "node-1", c.lease.Add(-time.Minute), c.lease); err != nil {
						t.Fatal(err)
					}
				}
			}
			if n, err := st.DeleteTemporaryRoomsBefore(ctx, now.Add(-2*time.Hour)); err != nil || n != 2 {
				t.Fatalf("sweep: %d rooms, %v; want the 2 not run within the TTL", n, err)
			}
			for name, kept := range map[string]bool{"running": true, "ran-an-hour-ago": true, "ran-long-ago": false, "never-ran": false} {
				_, err := st.RoomByName(ctx, name)
				if got := err == nil; got != kept || (err != nil && !errors.Is(err, fault.NotFound)) {
					t.Errorf("room %s: kept %v (%v), want %v", name, got, err, kept)
				}
			}
		})
	}
}

// TestWatchSweepKeepsLoadedRoom: a temporary room loaded for hours with
// people in it and nothing saved survives the sweep, and its changes are
// still stored afterwards, on every engine.
func TestWatchSweepKeepsLoadedRoom(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			clock := &testClock{t: time.Now().UTC().Truncate(time.Microsecond)}
			svc := newWatchNode(t, watch.Config{Now: clock.Now, AllowTemp: true, SaveDelay: time.Hour, SyncDelay: time.Hour,
				DisableUnload: true}, db, nopPub{}, "node-1")
			r, err := svc.Generate(ctx, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			guest := watch.Actor{AccountID: "guest", Name: "guest"}
			if err := r.Join(guest, "c1"); err != nil {
				t.Fatal(err)
			}
			// Three hours of one video: the node ticks (renewing its lease),
			// nothing is saved.
			clock.Add(3 * time.Hour)
			svc.Tick()
			if n, err := svc.SweepTemporaryRooms(ctx); err != nil || n != 0 {
				t.Fatalf("sweep: %d rooms deleted, %v; want the loaded room kept", n, err)
			}
			if err := svc.Handle(ctx, r, guest, "c1", watch.Request{Type: watch.ReqAdd,
				Video: &watch.VideoRef{Service: "direct", ID: "after"}}); err != nil {
				t.Fatal(err)
			}
			rec, err := db.Watch().RoomByName(ctx, r.Name())
			if err != nil {
				t.Fatalf("the loaded room's row after the sweep: %v", err)
			}
			if !json.Valid(rec.State) || !containsVideo(rec.State, "after") {
				t.Fatalf("the add after the sweep was not stored: %s", rec.State)
			}
		})
	}
}

func containsVideo(state json.RawMessage, id string) bool {
	var st struct {
		Current *struct {
			ID string `json:"id"`
		} `json:"current"`
		Queue []struct {
			ID string `json:"id"`
		} `json:"queue"`
	}
	if json.Unmarshal(state, &st) != nil {
		return false
	}
	if st.Current != nil && st.Current.ID == id {
		return true
	}
	for _, v := range st.Queue {
		if v.ID == id {
			return true
		}
	}
	return false
}

// TestWatchSweepSparesRoomLoadedMeanwhile: on PostgreSQL a node that
// claims a room's lease and loads it (TakeRoom) after the sweep's statement
// began, which the statement's lease check cannot see, keeps its room: the
// delete, waiting for the row the load changed, finds a new generation and
// leaves it. (SQLite runs one write at a time: nothing to interleave.)
func TestWatchSweepSparesRoomLoadedMeanwhile(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		if eng.Name != "postgres" {
			continue
		}
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			st := db.Watch()
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			old := now.Add(-3 * time.Hour)
			if err := st.CreateRoom(ctx, &watch.Record{Name: "loaded", Title: "t", Visibility: watch.Public,
				QueueMode: watch.QueueManual, IsTemporary: true, CreatedAt: old, UpdatedAt: old, Gen: 1}); err != nil {
				t.Fatal(err)
			}
			// Node B's claim and load, not committed yet.
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback() }()
			var pid int
			if err := tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO watch_leases (name_key, node_id, expires_at) VALUES ('loaded', 'node-b', $1)`,
				store.Micros(now.Add(10*time.Second))); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE watch_rooms SET gen=gen+1 WHERE name_key='loaded'`); err != nil {
				t.Fatal(err)
			}
			type result struct {
				n   int
				err error
			}
			done := make(chan result, 1)
			go func() {
				n, err := st.DeleteTemporaryRoomsBefore(ctx, now.Add(-2*time.Hour))
				done <- result{n, err}
			}()
			// The sweep has begun and waits for the row B's load holds.
			for {
				var waiting int
				if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`,
					pid).Scan(&waiting); err != nil {
					t.Fatal(err)
				}
				if waiting > 0 {
					break
				}
				select {
				case res := <-done:
					t.Fatalf("the sweep ended (%d, %v) without waiting for the loading node's row", res.n, res.err)
				case <-time.After(10 * time.Millisecond):
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			res := <-done
			if res.err != nil || res.n != 0 {
				t.Fatalf("sweep: %d rooms, %v; want the room node B loaded meanwhile kept", res.n, res.err)
			}
			if _, err := st.RoomByName(ctx, "loaded"); err != nil {
				t.Fatalf("the room node B loaded: %v", err)
			}
		})
	}
}

// closesPub records the room-wide closes a watch service publishes.
type closesPub struct {
	mu     sync.Mutex
	closes []watch.CloseReason
}

func (p *closesPub) Publish(_ context.Context, topic string, data []byte) error {
	ev, err := watch.DecodeEvent(data)
	if err == nil && ev.Type == watch.EvClose && strings.HasSuffix(topic, ".all") {
		p.mu.Lock()
		p.closes = append(p.closes, ev.Close)
		p.mu.Unlock()
	}
	return nil
}

func (p *closesPub) take() []watch.CloseReason {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.closes
	p.closes = nil
	return out
}

// TestWatchSweptRoomRetiresOnItsStalledNode: a node that stalled past the
// temporary rooms' TTL with a room loaded (its lease lapsed long ago) finds,
// once it runs again, that the sweep deleted the room, and drops its copy as
// a delete does (its sockets told the room is gone), on every engine. The
// node renewed its lapsed lease and ran the room on with nothing stored
// under it, and its changes answered success though none was kept.
func TestWatchSweptRoomRetiresOnItsStalledNode(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			clock := &testClock{t: time.Now().UTC().Truncate(time.Microsecond)}
			pub := &closesPub{}
			svc := newWatchNode(t, watch.Config{Now: clock.Now, AllowTemp: true, SaveDelay: time.Hour, SyncDelay: time.Hour,
				DisableUnload: true}, db, pub, "node-1")
			r, err := svc.Generate(ctx, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			// The node stalls for three hours; another node's sweep runs.
			clock.Add(3 * time.Hour)
			if n, err := db.Watch().DeleteTemporaryRoomsBefore(ctx, clock.Now().Add(-2*time.Hour)); err != nil || n != 1 {
				t.Fatalf("sweep: %d rooms, %v; want the stalled node's room", n, err)
			}
			svc.Tick() // the node runs again
			if l := svc.Loaded(); len(l) != 0 {
				t.Fatalf("the node still runs %d rooms after the sweep deleted its room", len(l))
			}
			if got := pub.take(); len(got) != 1 || got[0] != watch.CloseUnloaded {
				t.Fatalf("room closes %v, want one CloseUnloaded (the room is gone)", got)
			}
			if _, err := svc.Get(ctx, r.Name()); !errors.Is(err, watch.ErrRoomNotFound) {
				t.Fatalf("Get after: %v, want ErrRoomNotFound", err)
			}
			if owner, err := db.Watch().RoomLeaseOwner(ctx, r.Name(), clock.Now()); err != nil || owner != "" {
				t.Fatalf("lease of the deleted room: %q %v, want none", owner, err)
			}
		})
	}
}
