package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/schedule"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestScheduleOneOccurrencePerStart: two nodes expanding a series at once
// cannot store the same occurrence twice, nor can an edit move an
// occurrence onto another's start: either is a conflict (it was a bare
// database error, a 500). One-off events may share a start.
func TestScheduleOneOccurrencePerStart(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			st := eng.Open(t).Schedule()
			ctx := context.Background()
			at := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
			ev := func(id, series string) schedule.Event {
				return schedule.Event{ID: id, SeriesID: series, Name: "x", Start: at, Timezone: "UTC", DurationMinutes: 60, Status: schedule.StatusScheduled}
			}
			for _, e := range []schedule.Event{ev("a", ""), ev("b", ""), ev("c", "s1"), ev("d", "s2")} {
				if err := st.SaveScheduleEvent(ctx, e); err != nil {
					t.Fatalf("%s: %v", e.ID, err)
				}
			}
			if err := st.SaveScheduleEvent(ctx, ev("e", "s1")); !errors.Is(err, fault.Conflict) {
				t.Fatalf("a second occurrence of s1 at the same start: %v, want a conflict", err)
			}
			later := ev("e", "s2")
			later.Start = at.Add(time.Hour)
			if err := st.SaveScheduleEvent(ctx, later); err != nil {
				t.Fatal(err)
			}
			later.Start = at
			if err := st.SaveScheduleEvent(ctx, later); !errors.Is(err, fault.Conflict) {
				t.Fatalf("an occurrence of s2 moved onto another's start: %v, want a conflict", err)
			}
			got, err := st.ScheduleEvents(ctx)
			if err != nil || len(got) != 5 {
				t.Fatalf("events %v %v", got, err)
			}
			for _, e := range got {
				if e.ID == "e" && !e.Start.Equal(at.Add(time.Hour)) {
					t.Errorf("the refused move was stored: %+v", e)
				}
			}
		})
	}
}
