package watch

import (
	"context"
	"errors"
	"testing"
)

// TestDeletedRowRetiresLoadedCopy: a loaded room whose row was deleted by
// another path than its own delete (another node, the temporary-room sweep,
// by hand) is retired as a delete retires it: its sockets are told the room
// is gone (CloseUnloaded), the node forgets it and a Get finds nothing. A
// change saved synchronously (queue, vote, settings, claim) is refused as
// for an unknown room instead of answered success though nothing was kept;
// a batched one (playback) retires the room when the save finds no row.
func TestDeletedRowRetiresLoadedCopy(t *testing.T) {
	t.Parallel()
	changes := map[string]func(e *env, r *Room) error{
		"add": func(e *env, r *Room) error { return e.do(r, anon("1"), "", Request{Type: ReqAdd, Video: ref("v")}) },
		"settings": func(e *env, r *Room) error {
			return e.svc.ApplySettings(context.Background(), r, registered("owner"), settings(t, `{"title":"New"}`))
		},
		"claim": func(e *env, r *Room) error { return e.svc.Claim(context.Background(), r, registered("claimer")) },
		"playback": func(e *env, r *Room) error {
			playing := true
			if err := e.do(r, anon("1"), "", Request{Type: ReqPlayback, State: &playing}); err != nil {
				return err
			}
			e.svc.flushSaves()
			return nil
		},
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := context.Background()
			owner := "owner"
			if name == "claim" {
				owner = ""
			}
			r := e.room("gone", owner)
			if err := e.st.DeleteRoom(ctx, "gone", 0); err != nil { // deleted elsewhere
				t.Fatal(err)
			}
			e.rec.take()
			err := change(e, r)
			if name == "playback" {
				if err != nil {
					t.Fatalf("playback: %v (its save is batched: answered before)", err)
				}
			} else if !errors.Is(err, ErrRoomNotFound) {
				t.Fatalf("%s on a room whose row is gone: %v, want ErrRoomNotFound", name, err)
			}
			if got := e.closes(r); len(got) != 1 || got[0] != CloseUnloaded {
				t.Fatalf("%s: room closes %v, want one CloseUnloaded (the room is gone)", name, got)
			}
			if n := len(e.svc.Loaded()); n != 0 {
				t.Fatalf("%s: %d rooms still loaded", name, n)
			}
			if _, err := e.svc.Get(ctx, "gone"); !errors.Is(err, ErrRoomNotFound) {
				t.Fatalf("%s: Get after: %v, want ErrRoomNotFound", name, err)
			}
			if _, ok := e.st.rooms["gone"]; ok {
				t.Fatalf("%s: the retired copy wrote the room back", name)
			}
		})
	}
}
