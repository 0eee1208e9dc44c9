package ott_test

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/watch"
)

// TestChangeOnDeletedRoomIsNotFound: a room loaded on node 1 whose row is
// deleted by another path than its own delete (here the store's, as by
// hand; the temporary-room sweep and a delete through a copy unloaded
// meanwhile did the same) answers a change made through node 2 as OTT
// answers an unknown room (404 RoomNotFoundException), and its sockets on
// both nodes are closed as for a delete (4003), on both engines. The change
// was answered 200 though its save found no row and nothing was kept, and
// the room lived on in memory for its sockets.
func TestChangeOnDeletedRoomIsNotFound(t *testing.T) {
	t.Parallel()
	for name, build := range clusters(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n1, n2 := build(t)
			ta, tb := n1.grant(), n2.grant()
			n1.createRoom(ta, "vanish", map[string]any{"isTemporary": false})
			a, _ := n1.join("vanish", ta)
			b, _ := n2.join("vanish", tb)
			if err := n1.db.Watch().DeleteRoom(context.Background(), "vanish", 0); err != nil {
				t.Fatal(err)
			}
			r := n2.do("PATCH", "/api/room/vanish", ta, map[string]any{"title": "Kept?"})
			if r.status != 404 || r.body["success"] != false || r.errName() != "RoomNotFoundException" {
				t.Fatalf("settings on a room deleted under its loaded copy: %d %s, want 404 RoomNotFoundException", r.status, r.raw)
			}
			for node, w := range map[string]*wsClient{"node 1": a, "node 2": b} {
				if code := w.closeCode(); code != 4003 {
					t.Errorf("socket on %s: close %d, want 4003 (room unloaded)", node, code)
				}
			}
			for _, n := range []*harness{n1, n2} {
				if g := n.do("GET", "/api/room/vanish", ta, nil); g.status != 404 || g.errName() != "RoomNotFoundException" {
					t.Fatalf("GET after: %d %s, want 404", g.status, g.raw)
				}
				if l := n.watch.Loaded(); len(l) != 0 {
					t.Fatalf("node %s still runs %d rooms", n.watch.NodeID(), len(l))
				}
			}
		})
	}
}

// TestDeleteThroughUnloadedCopyReachesWhereRoomRuns: a delete made through
// a copy of a room that was unloaded meanwhile (an idle unload between the
// request's Get and its delete) while node 2 loaded the room deletes it
// where it runs: node 2's copy goes and its sockets are closed (4003), on
// both engines. The unloaded copy deleted the row whoever had loaded it
// since, and node 2 ran the room on with nothing stored.
func TestDeleteThroughUnloadedCopyReachesWhereRoomRuns(t *testing.T) {
	t.Parallel()
	for name, build := range clustersOf(t, 2, opts{tick: time.Hour}) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ns := build(t)
			n1, n2 := ns[0], ns[1]
			ctx := context.Background()
			ta, tb := n1.grant(), n2.grant()
			n1.createRoom(ta, "idle", map[string]any{"isTemporary": false})
			r, err := n1.watch.Get(ctx, "idle")
			if err != nil {
				t.Fatal(err)
			}
			n1.watch.Unload(r, watch.CloseShutdown) // saved, lease handed back
			b, _ := n2.join("idle", tb)
			if l := n2.watch.Loaded(); len(l) != 1 {
				t.Fatalf("node 2 runs %d rooms, want the room", len(l))
			}
			if err := n1.watch.Delete(ctx, r, watch.Actor{Name: "Hearth", System: true}); err != nil {
				t.Fatalf("delete through the unloaded copy: %v", err)
			}
			if l := n2.watch.Loaded(); len(l) != 0 {
				t.Fatalf("node 2 still runs the deleted room")
			}
			if code := b.closeCode(); code != 4003 {
				t.Fatalf("socket on node 2: close %d, want 4003 (room unloaded)", code)
			}
			if g := n2.do("GET", "/api/room/idle", tb, nil); g.status != 404 {
				t.Fatalf("GET after: %d %s, want 404", g.status, g.raw)
			}
		})
	}
}
