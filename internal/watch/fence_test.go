package watch

import (
	"context"
	"strings"
	"testing"
)

// closes returns the reasons of the room-wide closes published since the
// last take.
func (e *env) closes(r *Room) []CloseReason {
	var out []CloseReason
	for _, p := range e.rec.take() {
		if p.topic == RoomTopic(r.key) && p.ev.Type == EvClose {
			out = append(out, p.ev.Close)
		}
	}
	return out
}

// TestStaleCopyIsRetired: a copy of a room whose row was loaded again
// since (another node took the room over) keeps nothing: its sockets are
// told to reconnect, the node forgets it, and the next Get loads the row as
// stored. A playback change (batched save) is dropped with the copy; a
// queue change (synchronous save) is made again on the room as it runs
// now, once, and answered as that went, not refused for a move the client
// cannot see.
func TestStaleCopyIsRetired(t *testing.T) {
	t.Parallel()
	for _, batched := range []bool{false, true} {
		e := newEnv(t)
		ctx := context.Background()
		r := e.room("stale", "owner")
		if _, err := e.st.TakeRoom(ctx, "stale"); err != nil { // another node loads the room
			t.Fatal(err)
		}
		e.rec.take()
		a := anon("1")
		if batched {
			playing := true
			e.must(r, a, "", Request{Type: ReqPlayback, State: &playing})
			e.svc.flushSaves()
		} else if err := e.do(r, a, "", Request{Type: ReqAdd, Video: ref("v")}); err != nil {
			t.Fatalf("a queue change on a stale copy: %v, want it made where the room runs now", err)
		}
		if got := e.closes(r); len(got) != 1 || got[0] != CloseShutdown {
			t.Fatalf("batched %v: room closes %v, want one shutdown (reconnect)", batched, got)
		}
		r2, err := e.svc.Get(ctx, "stale")
		if err != nil {
			t.Fatal(err)
		}
		if n := len(e.svc.Loaded()); r2 == r || n != 1 {
			t.Fatalf("batched %v: %d rooms loaded, the stale copy among them: %v", batched, n, r2 == r)
		}
		s := r2.Snapshot()
		if batched && (s.Current != nil || len(s.Queue) != 0 || r2.FullSync().Playing) {
			t.Fatalf("batched: reloaded %+v, want the stored room without the stale change", s)
		}
		if !batched && (s.Current == nil || s.Current.ID != "v" || len(s.Queue) != 0) {
			t.Fatalf("reloaded %+v, want the add made once on the room as it runs now", s)
		}
		if rec, _ := e.st.RoomByName(ctx, "stale"); !batched && !strings.Contains(string(rec.State), `"id":"v"`) {
			t.Fatalf("the rerun add was not stored: %s", rec.State)
		}
		// A delete through the stale copy deletes the room where it runs.
		if err := e.svc.Delete(ctx, r, hearth); err != nil {
			t.Fatalf("batched %v: delete through the stale copy: %v", batched, err)
		}
		if _, err := e.svc.Get(ctx, "stale"); err != ErrRoomNotFound {
			t.Fatalf("batched %v: after the delete: %v, want the room gone", batched, err)
		}
	}
}
