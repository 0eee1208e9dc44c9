package owncast

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/schedule"
)

// Scheduled streams (Owncast 0.2): the public schedule and its iCalendar
// feed, the admin CRUD and the feature's config setters. Served when
// Deps.Schedule is set.
func (s *Surface) registerSchedule(h *httpserver.Server) {
	if s.d.Schedule == nil {
		return
	}
	h.Handle("GET /api/schedule", s.wrap(s.handlePublicSchedule))
	// Owncast's spec has a 204 preflight here (the schedule is read cross-origin).
	h.Handle("OPTIONS /api/schedule", s.wrap(corsPreflight))
	h.Handle("GET /api/schedule.ics", s.wrap(s.handleScheduleICS))
	s.admin(h, "GET /api/admin/schedule", s.handleAdminSchedule)
	s.admin(h, "POST /api/admin/schedule/event", s.handleScheduleEvent)
	s.admin(h, "POST /api/admin/schedule/event/delete", s.handleScheduleDelete)
	s.admin(h, "POST /api/admin/schedule/preview", s.handleSchedulePreview)
	s.admin(h, "POST /api/admin/config/schedule/enabled", scheduleSetter(s, func(st *schedule.Settings, v bool) { st.Enabled = v }))
	s.admin(h, "POST /api/admin/config/schedule/showcountdown", scheduleSetter(s, func(st *schedule.Settings, v bool) { st.ShowCountdown = v }))
	s.admin(h, "POST /api/admin/config/schedule/chatopenminutes", scheduleSetter(s, func(st *schedule.Settings, v int) { st.ChatOpenMinutes = v }))
	s.admin(h, "POST /api/admin/config/schedule/remindermessage", scheduleSetter(s, func(st *schedule.Settings, v string) { st.ReminderMessage = strings.TrimSpace(v) }))
}

func scheduleSetter[T any](s *Surface, apply func(*schedule.Settings, T)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Value *T `json:"value"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		if req.Value == nil {
			writeResult(w, http.StatusBadRequest, false, "unable to parse new value")
			return
		}
		if err := s.d.Schedule.UpdateSettings(r.Context(), func(st *schedule.Settings) error { apply(st, *req.Value); return nil }); err != nil {
			writeError(w, err)
			return
		}
		writeResult(w, http.StatusOK, true, "changed")
	}
}

func scheduleEventJSON(e schedule.Event) map[string]any {
	out := map[string]any{"id": e.ID, "name": e.Name, "description": e.Description, "startTime": e.Start.UTC(),
		"durationMinutes": e.DurationMinutes, "timezone": e.Timezone, "status": e.Status}
	if e.SeriesID != "" {
		out["seriesId"] = e.SeriesID
	}
	return out
}

func scheduleSeriesJSON(x schedule.Series) map[string]any {
	return map[string]any{"id": x.ID, "name": x.Name, "description": x.Description, "recurrence": x.Recurrence,
		"durationMinutes": x.DurationMinutes, "timezone": x.Timezone, "active": x.Active}
}

// scheduleConfig is the "schedule" key of /api/config; with admin, that of
// serverconfig, which adds the reminder message (as Owncast's newest spec).
func (s *Surface) scheduleConfig(ctx context.Context, admin bool) map[string]any {
	var set schedule.Settings
	if s.d.Schedule != nil {
		if v, err := s.d.Schedule.Settings(ctx); err == nil {
			set = v
		} else {
			s.log.Warn("schedule settings", "err", err)
		}
	}
	out := map[string]any{"enabled": set.Enabled, "showCountdown": set.ShowCountdown, "chatOpenMinutesBefore": set.ChatOpenMinutes}
	if admin {
		out["reminderMessage"] = set.ReminderMessage
	}
	return out
}

// scheduledEvent is /api/status's "scheduledEvent": nil when the feature
// is off or nothing is scheduled.
func (s *Surface) scheduledEvent(ctx context.Context) map[string]any {
	if s.d.Schedule == nil {
		return nil
	}
	ev, open, ok, err := s.d.Schedule.Upcoming(ctx)
	if err != nil {
		s.log.Warn("upcoming scheduled event", "err", err)
	}
	if !ok {
		return nil
	}
	return map[string]any{"id": ev.ID, "name": ev.Name, "description": ev.Description, "startTime": ev.Start.UTC(),
		"durationMinutes": ev.DurationMinutes, "chatOpen": open}
}

// handlePublicSchedule is GET /api/schedule?from&to (RFC 3339).
func (s *Surface) handlePublicSchedule(w http.ResponseWriter, r *http.Request) {
	var from, to time.Time
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := r.URL.Query().Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeResult(w, http.StatusBadRequest, false, p.name+" must be an RFC 3339 time")
				return
			}
			*p.dst = t
		}
	}
	events, err := s.d.Schedule.Public(r.Context(), from, to)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]map[string]any, 0, len(events))
	for _, e := range events {
		out = append(out, scheduleEventJSON(e))
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	noCache(w)
	httpserver.WriteJSON(w, http.StatusOK, out)
}

// handleScheduleICS is GET /api/schedule.ics: the public schedule as an
// RFC 5545 calendar, one VEVENT per occurrence.
func (s *Surface) handleScheduleICS(w http.ResponseWriter, r *http.Request) {
	events, err := s.d.Schedule.Public(r.Context(), time.Time{}, time.Time{})
	if err != nil {
		writeError(w, err)
		return
	}
	name := "Owncast"
	if s.d.Chat != nil && s.d.Chat.Settings().Name != "" {
		name = s.d.Chat.Settings().Name
	}
	var b strings.Builder
	line := func(format string, args ...any) { b.WriteString(icsFold(fmt.Sprintf(format, args...)) + "\r\n") }
	const stamp = "20060102T150405Z"
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//Hearth//Owncast schedule//EN")
	line("CALSCALE:GREGORIAN")
	line("X-WR-CALNAME:%s", icsText(name))
	now := time.Now().UTC().Format(stamp)
	for _, e := range events {
		line("BEGIN:VEVENT")
		line("UID:%s@owncast", e.ID)
		line("DTSTAMP:%s", now)
		line("DTSTART:%s", e.Start.UTC().Format(stamp))
		line("DTEND:%s", e.End().UTC().Format(stamp))
		line("SUMMARY:%s", icsText(e.Name))
		if e.Description != "" {
			line("DESCRIPTION:%s", icsText(e.Description))
		}
		if e.Status == schedule.StatusCancelled {
			line("STATUS:CANCELLED")
		} else {
			line("STATUS:CONFIRMED")
		}
		line("END:VEVENT")
	}
	line("END:VCALENDAR")
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	noCache(w)
	_, _ = w.Write([]byte(b.String()))
}

// icsText escapes a TEXT value (RFC 5545 §3.3.11); the other control
// characters, which no TEXT value may hold, are dropped.
func icsText(v string) string {
	v = strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`).Replace(v)
	return strings.Map(func(r rune) rune {
		if r != '\t' && (r < 0x20 || r == 0x7f) {
			return -1
		}
		return r
	}, v)
}

// icsFold folds a content line at 75 octets, never inside a UTF-8 sequence.
func icsFold(l string) string {
	if len(l) <= 75 {
		return l
	}
	var b strings.Builder
	n := 0
	for _, r := range l {
		rl := len(string(r))
		if n+rl > 75 {
			b.WriteString("\r\n ")
			n = 1
		}
		b.WriteRune(r)
		n += rl
	}
	return b.String()
}

func (s *Surface) writeAdminSchedule(w http.ResponseWriter, r *http.Request) {
	series, events, err := s.d.Schedule.Admin(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	so := make([]map[string]any, 0, len(series))
	for _, x := range series {
		so = append(so, scheduleSeriesJSON(x))
	}
	eo := make([]map[string]any, 0, len(events))
	for _, e := range events {
		eo = append(eo, scheduleEventJSON(e))
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"series": so, "events": eo})
}

// handleAdminSchedule is GET /api/admin/schedule: {series, events}.
func (s *Surface) handleAdminSchedule(w http.ResponseWriter, r *http.Request) {
	if err := s.d.Schedule.Refresh(r.Context()); err != nil {
		writeError(w, err)
		return
	}
	s.writeAdminSchedule(w, r)
}

// handleScheduleEvent is POST /api/admin/schedule/event: create (no id)
// or update a one-off event or a series; answers the whole schedule.
func (s *Surface) handleScheduleEvent(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID              string     `json:"id"`
		Name            *string    `json:"name"`
		Description     *string    `json:"description"`
		Start           *time.Time `json:"start"`
		Timezone        *string    `json:"timezone"`
		Recurrence      *string    `json:"recurrence"`
		DurationMinutes *int       `json:"durationMinutes"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	err := s.d.Schedule.Save(r.Context(), schedule.Input{ID: req.ID, Name: req.Name, Description: req.Description, Start: req.Start,
		Timezone: req.Timezone, Recurrence: req.Recurrence, DurationMinutes: req.DurationMinutes})
	if err != nil {
		writeError(w, err)
		return
	}
	s.writeAdminSchedule(w, r)
}

// handleScheduleDelete is POST /api/admin/schedule/event/delete {id, cancel}.
func (s *Surface) handleScheduleDelete(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID     string `json:"id"`
		Cancel bool   `json:"cancel"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if req.ID == "" {
		writeError(w, fault.New(fault.Invalid, "id is required"))
		return
	}
	if err := s.d.Schedule.Delete(r.Context(), req.ID, req.Cancel); err != nil {
		writeError(w, err)
		return
	}
	s.writeAdminSchedule(w, r)
}

// handleSchedulePreview is POST /api/admin/schedule/preview {recurrence}:
// the next five starts.
func (s *Surface) handleSchedulePreview(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Recurrence string `json:"recurrence"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	occ, err := s.d.Schedule.Preview(req.Recurrence)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]string, 0, len(occ))
	for _, t := range occ {
		out = append(out, t.UTC().Format(time.RFC3339))
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"occurrences": out})
}
