package ott_test

import (
	"context"
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestChangeOnStaleRoomCopyIsRerun: a REST change reaching a node whose
// copy of the room was superseded (another node loaded the room since:
// this node stalled past its lease) is made on the room where it runs now
// and answered 200, on both engines. It was answered 500 ("An unknown
// error occurred"), though nothing was wrong but the room's move.
func TestChangeOnStaleRoomCopyIsRerun(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, opts{db: eng.Open})
			tok := h.grant()
			h.createRoom(tok, "moving", nil)
			ctx := context.Background()
			// Another node loads the room: this node's copy is stale.
			if _, err := h.db.Watch().TakeRoom(ctx, "moving"); err != nil {
				t.Fatal(err)
			}
			r := h.do("PATCH", "/api/room/moving", tok, map[string]any{"title": "Moved"})
			if r.status != 200 || r.body["success"] != true {
				t.Fatalf("settings on a stale copy: %d %s, want 200", r.status, r.raw)
			}
			rec, err := h.db.Watch().RoomByName(ctx, "moving")
			if err != nil || rec.Title != "Moved" {
				t.Fatalf("stored room: %+v %v, want the title changed", rec, err)
			}
			if g := h.do("GET", "/api/room/moving", tok, nil); g.status != 200 || g.body["title"] != "Moved" {
				t.Fatalf("GET after: %d %s", g.status, g.raw)
			}
		})
	}
}
