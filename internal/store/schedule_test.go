package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/schedule"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestScheduleOneOccurrencePerStart: two nodes expanding a series at once
// cannot store the same occurrence twice; one-off events may share a start.
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
			if err := st.SaveScheduleEvent(ctx, ev("e", "s1")); err == nil {
				t.Fatal("a second occurrence of s1 at the same start was stored")
			}
			if got, err := st.ScheduleEvents(ctx); err != nil || len(got) != 4 {
				t.Fatalf("events %v %v", got, err)
			}
		})
	}
}
