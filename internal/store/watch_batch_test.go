package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/watch"
)

// TestSaveRooms: several rooms are updated in one transaction, all or none
// (a batch naming a room whose row is gone changes no row).
func TestSaveRooms(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			st := eng.Open(t).Watch()
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			rec := func(name, title string) *watch.Record {
				return &watch.Record{Name: name, Title: title, Visibility: watch.Public, QueueMode: watch.QueueManual,
					Settings: json.RawMessage(`{}`), State: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now}
			}
			for _, n := range []string{"one", "two"} {
				if err := st.CreateRoom(ctx, rec(n, "")); err != nil {
					t.Fatal(err)
				}
			}
			title := func(name string) string {
				t.Helper()
				r, err := st.RoomByName(ctx, name)
				if err != nil {
					t.Fatal(err)
				}
				return r.Title
			}
			if err := st.SaveRooms(ctx, []*watch.Record{rec("one", "1"), rec("TWO", "2")}); err != nil {
				t.Fatal(err)
			}
			if a, b := title("one"), title("two"); a != "1" || b != "2" {
				t.Fatalf("titles %q %q, want 1 and 2", a, b)
			}
			err := st.SaveRooms(ctx, []*watch.Record{rec("one", "x"), rec("gone", "x")})
			if !errors.Is(err, fault.NotFound) {
				t.Fatalf("a batch with a missing room: %v, want not found", err)
			}
			if a := title("one"); a != "1" {
				t.Fatalf("room one is %q after a failed batch, want 1 (all or none)", a)
			}
		})
	}
}
