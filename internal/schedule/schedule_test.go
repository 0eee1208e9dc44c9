package schedule_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/schedule"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func TestParseRuleErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"RRULE:FREQ=WEEKLY", "DTSTART"},
		{"DTSTART;TZID=America/Los_Angeles:20260301T190000\nRRULE:FREQ=BOGUS", "FREQ"},
		{"DTSTART;TZID=Mars/Olympus:20260301T190000\nRRULE:FREQ=WEEKLY", "unknown timezone"},
		{"DTSTART:2026-03-01\nRRULE:FREQ=WEEKLY", "DTSTART"},
		{"DTSTART:20260301T190000Z", "RRULE"},
		{"DTSTART:20260301T190000Z\nRRULE:FREQ=WEEKLY;BYDAY=XX", "BYDAY"},
	} {
		_, err := schedule.ParseRule(tc.in)
		if err == nil || !errors.Is(err, fault.Invalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want invalid mentioning %q", tc.in, err, tc.want)
		}
	}
}

func TestRuleKeepsWallTimeAcrossDST(t *testing.T) {
	t.Parallel()
	// US clocks change on 2026-03-08: 19:00 Los Angeles is 03:00Z before, 02:00Z after.
	r, err := schedule.ParseRule("DTSTART;TZID=America/Los_Angeles:20260301T190000\nRRULE:FREQ=WEEKLY;COUNT=3")
	if err != nil {
		t.Fatal(err)
	}
	got := r.Between(now.Add(-time.Hour), now.Add(365*24*time.Hour), 10)
	want := []string{"2026-03-02T03:00:00Z", "2026-03-09T02:00:00Z", "2026-03-16T02:00:00Z"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range got {
		if got[i].UTC().Format(time.RFC3339) != want[i] {
			t.Errorf("occurrence %d: %s, want %s", i, got[i].UTC().Format(time.RFC3339), want[i])
		}
	}
	r2, _ := schedule.ParseRule("DTSTART:20260131T100000Z\nRRULE:FREQ=MONTHLY;COUNT=3")
	if got := r2.Between(time.Time{}, now.Add(365*24*time.Hour), 10); len(got) != 3 || got[1].Month() != time.March {
		t.Errorf("monthly on the 31st skips short months: %v", got)
	}
}

func newService(t *testing.T, eng storetest.Engine) *schedule.Service {
	t.Helper()
	s, err := schedule.New(eng.Open(t).Schedule(), nil, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestScheduleLifecycle(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := newService(t, eng)
			start := now.Add(24 * time.Hour)
			if err := s.Save(ctx, schedule.Input{Name: ptr("One"), Description: ptr("d"), Start: &start, Timezone: ptr("America/New_York"), DurationMinutes: ptr(90)}); err != nil {
				t.Fatal(err)
			}
			// Disabled: the public window is empty and no event is upcoming.
			if ev, err := s.Public(ctx, time.Time{}, time.Time{}); err != nil || len(ev) != 0 {
				t.Fatalf("public while disabled %v %v", ev, err)
			}
			if err := s.UpdateSettings(ctx, func(st *schedule.Settings) error { st.ChatOpenMinutes = 15; return nil }); !errors.Is(err, fault.Invalid) {
				t.Fatalf("chat open 15: %v", err)
			}
			if err := s.UpdateSettings(ctx, func(st *schedule.Settings) error { st.Enabled, st.ChatOpenMinutes = true, 30; return nil }); err != nil {
				t.Fatal(err)
			}
			rec := "DTSTART;TZID=America/Los_Angeles:20260303T190000\nRRULE:FREQ=WEEKLY"
			if err := s.Save(ctx, schedule.Input{Name: ptr("Weekly"), Recurrence: &rec, DurationMinutes: ptr(120)}); err != nil {
				t.Fatal(err)
			}
			series, events, err := s.Admin(ctx)
			if err != nil || len(series) != 1 || len(events) < 4 {
				t.Fatalf("admin %v %v %v", series, events, err)
			}
			one, occ := events[0], events[1]
			if one.Name != "One" || one.Timezone != "America/New_York" || occ.SeriesID != series[0].ID || occ.Timezone != "America/Los_Angeles" {
				t.Fatalf("events %+v %+v", one, occ)
			}
			ev, open, ok, err := s.Upcoming(ctx)
			if err != nil || !ok || ev.ID != one.ID || open {
				t.Fatalf("upcoming %+v %v %v %v", ev, open, ok, err)
			}
			// Rejections, each before any write.
			for _, tc := range []struct {
				in   schedule.Input
				want string
			}{
				{schedule.Input{Name: ptr("x"), Start: &start, Recurrence: &rec}, "mutually exclusive"},
				{schedule.Input{Start: &start}, "name is required"},
				{schedule.Input{Name: ptr("x"), Start: ptr(now.Add(-time.Hour))}, "start must be in the future"},
				{schedule.Input{Name: ptr("x"), Start: &start, Timezone: ptr("Mars/OlympusMons")}, "unknown timezone"},
				{schedule.Input{ID: series[0].ID, Name: ptr("x"), Start: &start}, "has no single start"},
				{schedule.Input{ID: one.ID, Name: ptr("x"), Recurrence: &rec}, "cannot become a recurring series"},
				{schedule.Input{ID: one.ID, Timezone: ptr("UTC")}, "timezone cannot be changed"},
				{schedule.Input{ID: one.ID, Name: ptr("bad"), Start: ptr(now.Add(-time.Hour))}, "start must be in the future"},
			} {
				if err := s.Save(ctx, tc.in); !errors.Is(err, fault.Invalid) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%+v: %v, want %q", tc.in, err, tc.want)
				}
			}
			if err := s.Save(ctx, schedule.Input{ID: "nope", Name: ptr("x")}); !errors.Is(err, fault.NotFound) {
				t.Errorf("unknown id: %v", err)
			}
			// Cancel one occurrence, rename the series: the cancelled one stays.
			if err := s.Delete(ctx, occ.ID, true); err != nil {
				t.Fatal(err)
			}
			if err := s.Save(ctx, schedule.Input{ID: series[0].ID, Name: ptr("Renamed")}); err != nil {
				t.Fatal(err)
			}
			if err := s.Save(ctx, schedule.Input{ID: one.ID, Name: ptr("Kept")}); err != nil {
				t.Fatal(err)
			}
			_, events, _ = s.Admin(ctx)
			for _, e := range events {
				switch {
				case e.ID == occ.ID && (e.Status != schedule.StatusCancelled || e.Name != "Renamed"):
					t.Errorf("cancelled occurrence %+v", e)
				case e.ID == one.ID && (e.Name != "Kept" || e.Description != "d" || e.DurationMinutes != 90 || !e.Start.Equal(start)):
					t.Errorf("one-off lost its details %+v", e)
				case e.SeriesID != "" && e.ID != occ.ID && (e.Name != "Renamed" || e.Status != schedule.StatusScheduled):
					t.Errorf("occurrence %+v", e)
				}
			}
			// Deleting the series keeps only its cancelled occurrence.
			if err := s.Delete(ctx, series[0].ID, false); err != nil {
				t.Fatal(err)
			}
			series, events, _ = s.Admin(ctx)
			if len(series) != 0 || len(events) != 2 || events[1].ID != occ.ID {
				t.Fatalf("after delete %v %v", series, events)
			}
			if _, err := s.Public(ctx, now, now.Add(-time.Hour)); err == nil || !strings.Contains(err.Error(), "to must be after from") {
				t.Errorf("inverted window: %v", err)
			}
			if _, err := s.Public(ctx, now, now.Add(400*24*time.Hour)); err == nil || !strings.Contains(err.Error(), "too large") {
				t.Errorf("oversized window: %v", err)
			}
			if p, err := s.Preview(rec); err != nil || len(p) != 5 || !p[0].After(now) {
				t.Errorf("preview %v %v", p, err)
			}
		})
	}
}

// sharedStore is a schedule store another node writes too: before each
// event this node saves, before runs (where the test has the other node
// act).
type sharedStore struct {
	schedule.Store
	before func(schedule.Event)
}

func (s sharedStore) SaveScheduleEvent(ctx context.Context, e schedule.Event) error {
	s.before(e)
	return s.Store.SaveScheduleEvent(ctx, e)
}

// TestScheduleOccurrenceConflicts: a series created while another node
// expands it (its Refresh, as any read of the schedule there runs) is
// created, with one occurrence per start: the other node stored them
// first, and this node's write of each was a bare database error, so the
// admin was answered 500 for a series that was stored. An edit moving an
// occurrence onto the start of another of its series is a conflict (it
// was a 500 too).
func TestScheduleOccurrenceConflicts(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := eng.Open(t).Schedule()
			other, err := schedule.New(st, nil, func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			var once sync.Once
			s, err := schedule.New(sharedStore{Store: st, before: func(e schedule.Event) {
				if e.SeriesID != "" {
					once.Do(func() {
						if err := other.Refresh(ctx); err != nil {
							t.Errorf("the other node's refresh: %v", err)
						}
					})
				}
			}}, nil, func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			rec := "DTSTART:20260303T190000Z\nRRULE:FREQ=WEEKLY"
			if err := s.Save(ctx, schedule.Input{Name: ptr("Weekly"), Recurrence: &rec}); err != nil {
				t.Fatalf("creating a series the other node expands meanwhile: %v", err)
			}
			series, events, err := s.Admin(ctx)
			if err != nil || len(series) != 1 || len(events) < 4 {
				t.Fatalf("admin %v %v %v", series, events, err)
			}
			starts := map[time.Time]bool{}
			for _, e := range events {
				if e.SeriesID != series[0].ID || starts[e.Start] {
					t.Fatalf("events %+v", events)
				}
				starts[e.Start] = true
			}

			first := events[0].Start
			err = s.Save(ctx, schedule.Input{ID: events[1].ID, Start: &first})
			if !errors.Is(err, fault.Conflict) {
				t.Fatalf("moving an occurrence onto another's start: %v, want a conflict", err)
			}
			if _, after, _ := s.Admin(ctx); len(after) != len(events) || !after[1].Start.Equal(events[1].Start) {
				t.Fatalf("after the refused move %+v", after)
			}
		})
	}
}

func TestMatchingForGoLive(t *testing.T) {
	t.Parallel()
	eng := storetest.Engines()[0]
	ctx := context.Background()
	at := now
	s, err := schedule.New(eng.Open(t).Schedule(), nil, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	start := now.Add(2 * time.Hour)
	if err := s.Save(ctx, schedule.Input{Name: ptr("Show"), Start: &start}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSettings(ctx, func(st *schedule.Settings) error { st.Enabled, st.ChatOpenMinutes = true, 60; return nil }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at              time.Time
		match, chatOpen bool
	}{
		{now, false, false},                         // two hours early
		{start.Add(-45 * time.Minute), false, true}, // chat open, too early to be this show
		{start.Add(-20 * time.Minute), true, true},  // starting soon
		{start.Add(30 * time.Minute), true, true},   // in progress
		{start.Add(61 * time.Minute), false, false}, // over
	} {
		at = tc.at
		ev, ok, err := s.Matching(ctx)
		_, open, _, _ := s.Upcoming(ctx)
		if err != nil || ok != tc.match || (ok && ev.Name != "Show") || open != tc.chatOpen {
			t.Errorf("at %s: match %v %v open %v (%v)", tc.at, ok, ev.Name, open, err)
		}
	}
}

// TestPublicDefaultWindow: with no from/to, the public schedule reaches 7
// days back and Horizon ahead of now, as Owncast's newest API documents (a
// client that asks for nothing still sees what was on this week).
func TestPublicDefaultWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.OpenSQLite(t).Schedule()
	clock := now
	s, err := schedule.New(st, nil, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	start := now.Add(time.Hour)
	if err := s.Save(ctx, schedule.Input{Name: ptr("Past"), Start: &start, Timezone: ptr("UTC"), DurationMinutes: ptr(60)}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSettings(ctx, func(st *schedule.Settings) error { st.Enabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		later time.Duration
		want  int
	}{{3 * 24 * time.Hour, 1}, {8 * 24 * time.Hour, 0}} {
		clock = now.Add(tc.later)
		ev, err := s.Public(ctx, time.Time{}, time.Time{})
		if err != nil || len(ev) != tc.want {
			t.Fatalf("%v after: %v %v, want %d events", tc.later, ev, err, tc.want)
		}
	}
	// Only to given: from is still 7 days back.
	clock = now.Add(3 * 24 * time.Hour)
	if ev, err := s.Public(ctx, time.Time{}, clock.Add(time.Hour)); err != nil || len(ev) != 1 {
		t.Fatalf("to only: %v %v", ev, err)
	}
}

// TestRemindersOncePerEvent: the reminder message goes out once per
// occurrence, when its chat opens, with the event's name and local start;
// not before, not after the start, not with the feature off or the message
// empty, and not twice (the claim is shared by every node).
func TestRemindersOncePerEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := now
	s, err := schedule.New(storetest.OpenSQLite(t).Schedule(), nil, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	start := now.Add(2 * time.Hour)
	if err := s.Save(ctx, schedule.Input{Name: ptr("Show"), Start: &start, Timezone: ptr("America/Los_Angeles"), DurationMinutes: ptr(60)}); err != nil {
		t.Fatal(err)
	}
	claimed := map[string]bool{}
	claim := func(_ context.Context, k string) (bool, error) {
		if claimed[k] {
			return false, nil
		}
		claimed[k] = true
		return true, nil
	}
	var sent []string
	send := func(_ context.Context, r schedule.Reminder) { sent = append(sent, r.Text) }
	step := func(at time.Time) {
		t.Helper()
		clock = at
		if err := s.SendDueReminders(ctx, claim, send); err != nil {
			t.Fatal(err)
		}
	}
	set := func(enabled bool, msg string) {
		t.Helper()
		if err := s.UpdateSettings(ctx, func(st *schedule.Settings) error {
			st.Enabled, st.ChatOpenMinutes, st.ReminderMessage = enabled, 30, msg
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	set(false, "Starting soon!")
	step(start.Add(-20 * time.Minute)) // feature off
	set(true, "")
	step(start.Add(-20 * time.Minute)) // no message
	set(true, "Starting soon!")
	step(start.Add(-31 * time.Minute)) // chat not open yet
	if len(sent) != 0 {
		t.Fatalf("sent early or while off: %q", sent)
	}
	step(start.Add(-29 * time.Minute))
	step(start.Add(-28 * time.Minute))
	if len(sent) != 1 || sent[0] != "Starting soon!\nShow: Sunday, March 1 at 6:00 AM PST" {
		t.Fatalf("reminders %q, want one naming the show in its zone", sent)
	}
	// Ignoring the claim, the reminder stops being due once the show starts.
	clock = start.Add(time.Minute)
	if due, err := s.DueReminders(ctx); err != nil || len(due) != 0 {
		t.Fatalf("due after start: %v %v", due, err)
	}
}

// TestLifecycleOncePerMoment: the 10-minute warning, started and ended go
// out once each, in order, as the clock passes them; nothing while the
// feature is off.
func TestLifecycleOncePerMoment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := now
	s, err := schedule.New(storetest.OpenSQLite(t).Schedule(), nil, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	start := now.Add(time.Hour)
	if err := s.Save(ctx, schedule.Input{Name: ptr("Show"), Start: &start, Timezone: ptr("UTC"), DurationMinutes: ptr(30)}); err != nil {
		t.Fatal(err)
	}
	claimed := map[string]bool{}
	claim := func(_ context.Context, k string) (bool, error) {
		won := !claimed[k]
		claimed[k] = true
		return won, nil
	}
	var got []string
	send := func(_ context.Context, l schedule.Lifecycle) { got = append(got, l.Action+" "+l.Event.Name) }
	for _, at := range []time.Duration{-9, 0, 1, 29, 31, 33, 40} {
		clock = start.Add(at * time.Minute)
		if at == -9 { // off: nothing
			if err := s.SendDueLifecycle(ctx, claim, send); err != nil || len(got) != 0 {
				t.Fatalf("while off: %v %v", got, err)
			}
			if err := s.UpdateSettings(ctx, func(st *schedule.Settings) error { st.Enabled = true; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SendDueLifecycle(ctx, claim, send); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"10-minute-warning Show", "started Show", "ended Show"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("lifecycle %q, want %q", got, want)
	}
}

// TestReminderMessageRefusesNUL: the reminder message is kept inside the
// settings' JSON document, where the store's own NUL check cannot see it:
// one holding a NUL is refused (fault.ErrNUL, Owncast's 400) and the
// message kept is the one before.
func TestReminderMessageRefusesNUL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t, storetest.Engines()[0])
	if err := s.UpdateSettings(ctx, func(st *schedule.Settings) error { st.ReminderMessage = "soon"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSettings(ctx, func(st *schedule.Settings) error { st.ReminderMessage = "a\x00b"; return nil }); !errors.Is(err, fault.ErrNUL) {
		t.Fatalf("a reminder holding a NUL: %v, want %v", err, fault.ErrNUL)
	}
	if st, err := s.Settings(ctx); err != nil || st.ReminderMessage != "soon" {
		t.Fatalf("settings %+v %v, want the reminder kept as it was", st, err)
	}
}
