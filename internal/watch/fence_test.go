package watch

import (
	"context"
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
// since (another node took the room over) keeps nothing: its next change
// is refused as not kept, its sockets are told to reconnect, the node
// forgets it, and the next Get loads the row as stored, whether the save
// was synchronous (a queue change) or batched (a seek).
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
		} else if err := e.do(r, a, "", Request{Type: ReqAdd, Video: ref("v")}); err != errStale {
			t.Fatalf("a queue change on a stale copy: %v, want errStale", err)
		}
		if got := e.closes(r); len(got) != 1 || got[0] != CloseShutdown {
			t.Fatalf("batched %v: room closes %v, want one shutdown (reconnect)", batched, got)
		}
		if n := len(e.svc.Loaded()); n != 0 {
			t.Fatalf("batched %v: %d rooms still loaded, want the stale copy gone", batched, n)
		}
		if err := e.svc.Delete(ctx, r, hearth); err != errStale {
			t.Fatalf("batched %v: delete through the stale copy: %v, want errStale", batched, err)
		}
		r2, err := e.svc.Get(ctx, "stale")
		if err != nil {
			t.Fatal(err)
		}
		if s := r2.Snapshot(); r2 == r || s.Current != nil || len(s.Queue) != 0 || r2.FullSync().Playing {
			t.Fatalf("batched %v: reloaded %+v, want the stored room without the stale change", batched, s)
		}
	}
}
