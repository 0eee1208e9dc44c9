// Package schedule owns scheduled streams (Owncast 0.2's schedule): one-off
// events, recurring series expanded into occurrences, the feature's
// settings, the public window, the next event for the status and the
// go-live match. It knows no wire format.
package schedule

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // zones load on hosts without a zoneinfo database

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

// Event statuses.
const (
	StatusScheduled = "scheduled"
	StatusCancelled = "cancelled"
)

// Limits.
const (
	// Horizon is how far ahead a series is expanded into occurrences.
	Horizon = 90 * 24 * time.Hour
	// PastWindow is how far back the public schedule reaches by default.
	PastWindow = 7 * 24 * time.Hour
	// MaxWindow is the widest public window a client may ask for.
	MaxWindow    = 366 * 24 * time.Hour
	maxOccur     = 200
	previewCount = 5
	maxName      = 200
	maxDesc      = 4096
	maxDuration  = 24 * 60
)

// ChatOpenChoices are the allowed chat-open lead times, in minutes.
var ChatOpenChoices = []int{0, 5, 10, 30, 60}

// Settings are the feature's settings.
type Settings struct {
	Enabled         bool   `json:"enabled"`
	ShowCountdown   bool   `json:"showCountdown"`
	ChatOpenMinutes int    `json:"chatOpenMinutes"`
	ReminderMessage string `json:"reminderMessage"`
}

// Series is a recurring schedule.
type Series struct {
	ID, Name, Description, Recurrence, Timezone string
	DurationMinutes                             int
	Active                                      bool
	CreatedAt                                   time.Time
}

// Event is a one-off event or one occurrence of a series.
type Event struct {
	ID, SeriesID, Name, Description, Timezone, Status string
	Start                                             time.Time
	DurationMinutes                                   int
}

// End is when the event is over.
func (e Event) End() time.Time { return e.Start.Add(time.Duration(e.DurationMinutes) * time.Minute) }

// Store persists the schedule.
type Store interface {
	ScheduleSettings(ctx context.Context) (Settings, error)
	SaveScheduleSettings(ctx context.Context, s Settings) error
	ScheduleSeries(ctx context.Context) ([]Series, error)
	SaveScheduleSeries(ctx context.Context, s Series) error
	DeleteScheduleSeries(ctx context.Context, id string) error
	ScheduleEvents(ctx context.Context) ([]Event, error)
	// SaveScheduleEvent inserts or replaces e by id; a second occurrence
	// of a series at the same start is a fault.Conflict.
	SaveScheduleEvent(ctx context.Context, e Event) error
	DeleteScheduleEvent(ctx context.Context, id string) error
}

// Service is the schedule.
type Service struct {
	st  Store
	log *slog.Logger
	now func() time.Time
	mu  sync.Mutex // serialises writes: an update reads, checks and writes
}

// New builds the service. now nil: time.Now.
func New(st Store, log *slog.Logger, now func() time.Time) (*Service, error) {
	if st == nil {
		return nil, errors.New("schedule: store required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, log: log.With("component", "schedule"), now: now}, nil
}

// Settings returns the settings.
func (s *Service) Settings(ctx context.Context) (Settings, error) { return s.st.ScheduleSettings(ctx) }

// UpdateSettings applies f to the settings and validates the result.
func (s *Service) UpdateSettings(ctx context.Context, f func(*Settings) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.st.ScheduleSettings(ctx)
	if err != nil {
		return err
	}
	if err := f(&cur); err != nil {
		return err
	}
	if !slices.Contains(ChatOpenChoices, cur.ChatOpenMinutes) {
		return fault.New(fault.Invalid, "chat open minutes must be 0, 5, 10, 30, or 60")
	}
	if len(cur.ReminderMessage) > maxDesc {
		return fault.Newf(fault.Invalid, "reminder message must be at most %d bytes", maxDesc)
	}
	if strings.ContainsRune(cur.ReminderMessage, 0) {
		return fault.ErrNUL // stored inside JSON, past the store's own check
	}
	return s.st.SaveScheduleSettings(ctx, cur)
}

// Admin returns every series and every event (past, cancelled included),
// events by start.
func (s *Service) Admin(ctx context.Context) ([]Series, []Event, error) {
	series, err := s.st.ScheduleSeries(ctx)
	if err != nil {
		return nil, nil, err
	}
	events, err := s.st.ScheduleEvents(ctx)
	if err != nil {
		return nil, nil, err
	}
	sortEvents(events)
	return series, events, nil
}

func sortEvents(ev []Event) {
	slices.SortFunc(ev, func(a, b Event) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// Input is a create or an update. Nil fields keep what is stored.
type Input struct {
	ID              string
	Name            *string
	Description     *string
	Start           *time.Time
	Timezone        *string
	Recurrence      *string
	DurationMinutes *int
}

// Save creates or updates a one-off event or a series. Everything is
// validated before the first write.
func (s *Service) Save(ctx context.Context, in Input) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if in.Start != nil && in.Recurrence != nil && *in.Recurrence != "" {
		return fault.New(fault.Invalid, "start and recurrence are mutually exclusive")
	}
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		in.Name = &n
		if len(n) > maxName {
			return fault.Newf(fault.Invalid, "name must be at most %d bytes", maxName)
		}
	}
	if in.Description != nil && len(*in.Description) > maxDesc {
		return fault.Newf(fault.Invalid, "description must be at most %d bytes", maxDesc)
	}
	if in.DurationMinutes != nil && (*in.DurationMinutes < 1 || *in.DurationMinutes > maxDuration) {
		return fault.Newf(fault.Invalid, "durationMinutes must be 1–%d", maxDuration)
	}
	if in.Start != nil && !in.Start.After(now) {
		return fault.New(fault.Invalid, "start must be in the future")
	}
	var zone *time.Location
	if in.Timezone != nil && *in.Timezone != "" {
		z, err := LoadZone(*in.Timezone)
		if err != nil {
			return err
		}
		zone = z
	}
	var rule *Rule
	if in.Recurrence != nil && *in.Recurrence != "" {
		r, err := ParseRule(*in.Recurrence)
		if err != nil {
			return err
		}
		rule = r
	}
	if in.ID == "" {
		return s.create(ctx, in, zone, rule, now)
	}
	return s.update(ctx, in, zone, rule, now)
}

func (s *Service) create(ctx context.Context, in Input, zone *time.Location, rule *Rule, now time.Time) error {
	if in.Name == nil || *in.Name == "" {
		return fault.New(fault.Invalid, "name is required")
	}
	dur := 60
	if in.DurationMinutes != nil {
		dur = *in.DurationMinutes
	}
	desc := ""
	if in.Description != nil {
		desc = *in.Description
	}
	id := identity.NewID()
	if rule != nil {
		if zone != nil && zone.String() != rule.Zone.String() {
			return fault.New(fault.Invalid, "timezone must match the recurrence's TZID")
		}
		ser := Series{ID: id, Name: *in.Name, Description: desc, Recurrence: *in.Recurrence, Timezone: rule.Zone.String(),
			DurationMinutes: dur, Active: true, CreatedAt: now}
		if err := s.st.SaveScheduleSeries(ctx, ser); err != nil {
			return err
		}
		return s.expand(ctx, ser, rule, now)
	}
	if in.Start == nil {
		return fault.New(fault.Invalid, "start or recurrence is required")
	}
	tz := "UTC"
	if zone != nil {
		tz = zone.String()
	}
	return s.st.SaveScheduleEvent(ctx, Event{ID: id, Name: *in.Name, Description: desc, Start: in.Start.UTC(),
		Timezone: tz, DurationMinutes: dur, Status: StatusScheduled})
}

func (s *Service) update(ctx context.Context, in Input, zone *time.Location, rule *Rule, now time.Time) error {
	series, events, err := s.Admin(ctx)
	if err != nil {
		return err
	}
	if i := slices.IndexFunc(series, func(x Series) bool { return x.ID == in.ID }); i >= 0 {
		ser := series[i]
		if in.Start != nil {
			return fault.New(fault.Invalid, "a series has no single start; change its recurrence")
		}
		if in.Name != nil && *in.Name == "" {
			return fault.New(fault.Invalid, "name is required")
		}
		if rule == nil {
			r, err := ParseRule(ser.Recurrence)
			if err != nil {
				return err
			}
			rule = r
		} else {
			ser.Recurrence = *in.Recurrence
		}
		if (zone != nil && zone.String() != ser.Timezone) || rule.Zone.String() != ser.Timezone {
			return fault.New(fault.Invalid, "timezone cannot be changed; create a new event")
		}
		apply(&ser.Name, in.Name)
		apply(&ser.Description, in.Description)
		apply(&ser.DurationMinutes, in.DurationMinutes)
		if err := s.st.SaveScheduleSeries(ctx, ser); err != nil {
			return err
		}
		return s.expand(ctx, ser, rule, now)
	}
	i := slices.IndexFunc(events, func(x Event) bool { return x.ID == in.ID })
	if i < 0 {
		return fault.New(fault.NotFound, "no such event or series")
	}
	ev := events[i]
	if rule != nil {
		return fault.New(fault.Invalid, "a one-off event cannot become a recurring series; create a new one")
	}
	if zone != nil && zone.String() != ev.Timezone {
		return fault.New(fault.Invalid, "timezone cannot be changed; create a new event")
	}
	if in.Name != nil && *in.Name == "" {
		return fault.New(fault.Invalid, "name is required")
	}
	apply(&ev.Name, in.Name)
	apply(&ev.Description, in.Description)
	apply(&ev.DurationMinutes, in.DurationMinutes)
	if in.Start != nil {
		ev.Start = in.Start.UTC()
	}
	return s.st.SaveScheduleEvent(ctx, ev)
}

func apply[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// expand brings a series' future occurrences in line with its rule:
// occurrences at the same start keep their id and status (a cancelled one
// stays cancelled), new starts are added, scheduled ones the rule no
// longer yields are removed. Past occurrences are left alone. Another node
// may expand the same series at once: an occurrence it stored first is
// left to it (the store refuses a second at the same start, a conflict),
// and the next expand brings its details in line.
func (s *Service) expand(ctx context.Context, ser Series, rule *Rule, now time.Time) error {
	events, err := s.st.ScheduleEvents(ctx)
	if err != nil {
		return err
	}
	existing := map[int64]Event{}
	for _, e := range events {
		if e.SeriesID == ser.ID && !e.Start.Before(now) {
			existing[e.Start.Unix()] = e
		}
	}
	for _, t := range rule.Between(now, now.Add(Horizon), maxOccur) {
		e, ok := existing[t.Unix()]
		delete(existing, t.Unix())
		if !ok {
			e = Event{ID: identity.NewID(), SeriesID: ser.ID, Start: t.UTC(), Status: StatusScheduled}
		}
		e.Name, e.Description, e.DurationMinutes, e.Timezone = ser.Name, ser.Description, ser.DurationMinutes, ser.Timezone
		if err := s.st.SaveScheduleEvent(ctx, e); err != nil && !errors.Is(err, fault.Conflict) {
			return err
		}
	}
	for _, e := range existing {
		if e.Status == StatusScheduled {
			if err := s.st.DeleteScheduleEvent(ctx, e.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// Refresh extends every active series' occurrences up to the horizon. It
// is cheap and idempotent; reads call it so a long-running server keeps a
// series filled without a timer.
func (s *Service) Refresh(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	series, err := s.st.ScheduleSeries(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	for _, ser := range series {
		if !ser.Active {
			continue
		}
		rule, err := ParseRule(ser.Recurrence)
		if err != nil {
			s.log.Warn("stored recurrence no longer parses", "series", ser.ID, "err", err)
			continue
		}
		if err := s.expand(ctx, ser, rule, now); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes a series (and its scheduled occurrences; cancelled ones
// stay for the record), or a one-off event. cancel on an event marks it
// cancelled instead.
func (s *Service) Delete(ctx context.Context, id string, cancel bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	series, err := s.st.ScheduleSeries(ctx)
	if err != nil {
		return err
	}
	events, err := s.st.ScheduleEvents(ctx)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(series, func(x Series) bool { return x.ID == id }) {
		for _, e := range events {
			if e.SeriesID == id && e.Status == StatusScheduled {
				if err := s.st.DeleteScheduleEvent(ctx, e.ID); err != nil {
					return err
				}
			}
		}
		return s.st.DeleteScheduleSeries(ctx, id)
	}
	i := slices.IndexFunc(events, func(x Event) bool { return x.ID == id })
	if i < 0 {
		return fault.New(fault.NotFound, "no such event or series")
	}
	if cancel {
		events[i].Status = StatusCancelled
		return s.st.SaveScheduleEvent(ctx, events[i])
	}
	return s.st.DeleteScheduleEvent(ctx, id)
}

// Preview returns the next five starts of a recurrence.
func (s *Service) Preview(recurrence string) ([]time.Time, error) {
	rule, err := ParseRule(recurrence)
	if err != nil {
		return nil, err
	}
	now := s.now()
	return rule.Between(now, now.Add(MaxWindow), previewCount), nil
}

// Public returns the events overlapping [from, to) when the feature is on
// (none when it is off). As in Owncast's newest API, a zero from is 7 days
// ago (PastWindow; so the schedule shows what was on recently) and a zero to
// is Horizon from now.
func (s *Service) Public(ctx context.Context, from, to time.Time) ([]Event, error) {
	now := s.now()
	if from.IsZero() {
		from = now.Add(-PastWindow)
	}
	if to.IsZero() {
		to = now.Add(Horizon)
	}
	if !to.After(from) {
		return nil, fault.New(fault.Invalid, "to must be after from")
	}
	if to.Sub(from) > MaxWindow {
		return nil, fault.New(fault.Invalid, "range is too large (at most 366 days)")
	}
	set, err := s.Settings(ctx)
	if err != nil || !set.Enabled {
		return []Event{}, err
	}
	if err := s.Refresh(ctx); err != nil {
		return nil, err
	}
	events, err := s.st.ScheduleEvents(ctx)
	if err != nil {
		return nil, err
	}
	out := []Event{}
	for _, e := range events {
		if e.Start.Before(to) && e.End().After(from) {
			out = append(out, e)
		}
	}
	sortEvents(out)
	return out, nil
}

// Upcoming is the event the status names: the scheduled event in progress
// or next to start, with whether its chat is open. ok false when the
// feature is off or nothing is scheduled.
func (s *Service) Upcoming(ctx context.Context) (ev Event, chatOpen, ok bool, err error) {
	set, err := s.Settings(ctx)
	if err != nil || !set.Enabled {
		return Event{}, false, false, err
	}
	now := s.now()
	events, err := s.Public(ctx, now, now.Add(MaxWindow))
	if err != nil {
		return Event{}, false, false, err
	}
	for _, e := range events {
		if e.Status == StatusScheduled {
			open := !now.Before(e.Start.Add(-time.Duration(set.ChatOpenMinutes) * time.Minute))
			return e, open, true, nil
		}
	}
	return Event{}, false, false, nil
}

// Matching is the scheduled event a stream going live at now belongs to:
// one in progress, or one starting within the next 30 minutes. ok false
// when the feature is off or none matches.
func (s *Service) Matching(ctx context.Context) (Event, bool, error) {
	ev, _, ok, err := s.Upcoming(ctx)
	if err != nil || !ok {
		return Event{}, false, err
	}
	if ev.Start.Sub(s.now()) > 30*time.Minute {
		return Event{}, false, nil
	}
	return ev, true, nil
}

// Reminder is a reminder due for one event: the text to send and a key
// that names this occurrence, so a cluster sends it once.
type Reminder struct {
	Event Event
	Text  string
	Key   string
}

// reminderGrace is how long after its time a reminder whose time came at
// the event's start (chat-open lead 0) is still sent.
const reminderGrace = 5 * time.Minute

// DueReminders returns the reminders due now: when the feature is on and
// the reminder message is set, one for each scheduled event whose chat has
// opened (ChatOpenMinutes before the start) and that has not started yet
// (or, with a lead of 0, started under 5 minutes ago). The text is the
// message, then the event's name and its start in its own time zone, as
// Owncast's reminder reads. Calling it again returns the same reminders:
// the caller claims each Key once.
func (s *Service) DueReminders(ctx context.Context) ([]Reminder, error) {
	set, err := s.Settings(ctx)
	if err != nil || !set.Enabled || strings.TrimSpace(set.ReminderMessage) == "" {
		return nil, err
	}
	now := s.now()
	lead := time.Duration(set.ChatOpenMinutes) * time.Minute
	events, err := s.Public(ctx, now.Add(-reminderGrace), now.Add(lead+time.Minute))
	if err != nil {
		return nil, err
	}
	var out []Reminder
	for _, e := range events {
		at := e.Start.Add(-lead)
		until := e.Start
		if lead == 0 {
			until = e.Start.Add(reminderGrace)
		}
		if e.Status != StatusScheduled || now.Before(at) || !now.Before(until) {
			continue
		}
		out = append(out, Reminder{Event: e, Text: reminderText(set.ReminderMessage, e),
			Key: "schedule-reminder:" + e.ID + ":" + e.Start.UTC().Format(time.RFC3339)})
	}
	return out, nil
}

func reminderText(msg string, e Event) string {
	start := e.Start
	if loc, err := time.LoadLocation(e.Timezone); err == nil && e.Timezone != "" {
		start = start.In(loc)
	}
	return strings.TrimSpace(msg) + "\n" + e.Name + ": " + start.Format("Monday, January 2 at 3:04 PM MST")
}

// SendDueReminders sends each due reminder whose key the caller wins with
// claim (once per cluster: the stage chat's event claims), through send.
// The node's reminder loop calls it every minute.
func (s *Service) SendDueReminders(ctx context.Context, claim func(context.Context, string) (bool, error), send func(context.Context, Reminder)) error {
	due, err := s.DueReminders(ctx)
	if err != nil {
		return err
	}
	for _, r := range due {
		won, err := claim(ctx, r.Key)
		if err != nil {
			return err
		}
		if won {
			send(ctx, r)
		}
	}
	return nil
}

// Lifecycle actions of a scheduled event, as Owncast's SCHEDULED_EVENTS
// webhook names them.
const (
	ActionWarning = "10-minute-warning"
	ActionStarted = "started"
	ActionEnded   = "ended"
)

// Lifecycle is one scheduled event's lifecycle moment, with the key that
// names it for a once-per-cluster claim.
type Lifecycle struct {
	Action string
	Event  Event
	Key    string
}

// lifecycleGrace is how late a lifecycle moment is still announced (a node
// down at the moment announces it when back, within this).
const lifecycleGrace = 5 * time.Minute

// DueLifecycle returns the lifecycle moments due now while the feature is
// on: the 10-minute warning (from 10 minutes before the start until the
// start), started (from the start, for 5 minutes) and ended (from the end,
// for 5 minutes), for every scheduled event.
func (s *Service) DueLifecycle(ctx context.Context) ([]Lifecycle, error) {
	set, err := s.Settings(ctx)
	if err != nil || !set.Enabled {
		return nil, err
	}
	now := s.now()
	events, err := s.Public(ctx, now.Add(-lifecycleGrace), now.Add(11*time.Minute))
	if err != nil {
		return nil, err
	}
	within := func(at, until time.Time) bool { return !now.Before(at) && now.Before(until) }
	var out []Lifecycle
	for _, e := range events {
		if e.Status != StatusScheduled {
			continue
		}
		for _, m := range []struct {
			action    string
			at, until time.Time
		}{
			{ActionWarning, e.Start.Add(-10 * time.Minute), e.Start},
			{ActionStarted, e.Start, e.Start.Add(lifecycleGrace)},
			{ActionEnded, e.End(), e.End().Add(lifecycleGrace)},
		} {
			if within(m.at, m.until) {
				out = append(out, Lifecycle{Action: m.action, Event: e,
					Key: "schedule-" + m.action + ":" + e.ID + ":" + e.Start.UTC().Format(time.RFC3339)})
			}
		}
	}
	return out, nil
}

// SendDueLifecycle sends each due lifecycle moment whose key the caller
// wins with claim, through send (the node's loop: the SCHEDULED_EVENTS
// webhook).
func (s *Service) SendDueLifecycle(ctx context.Context, claim func(context.Context, string) (bool, error), send func(context.Context, Lifecycle)) error {
	due, err := s.DueLifecycle(ctx)
	if err != nil {
		return err
	}
	for _, l := range due {
		won, err := claim(ctx, l.Key)
		if err != nil {
			return err
		}
		if won {
			send(ctx, l)
		}
	}
	return nil
}
