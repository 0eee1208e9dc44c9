package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/schedule"
)

// Schedule is the schedule's store.
type Schedule struct{ db *DB }

// Schedule returns the schedule's store.
func (db *DB) Schedule() *Schedule { return &Schedule{db: db} }

// ScheduleSettings returns the stored settings (zero values when unset).
func (s *Schedule) ScheduleSettings(ctx context.Context) (schedule.Settings, error) {
	var doc string
	var out schedule.Settings
	err := s.db.QueryRowContext(ctx, `SELECT doc FROM schedule_settings WHERE id=1`).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	return out, json.Unmarshal([]byte(doc), &out)
}

// SaveScheduleSettings stores the settings.
func (s *Schedule) SaveScheduleSettings(ctx context.Context, set schedule.Settings) error {
	b, err := json.Marshal(set)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO schedule_settings (id, doc) VALUES (1, $1)
		ON CONFLICT (id) DO UPDATE SET doc=excluded.doc`, string(b))
	return err
}

// ScheduleSeries lists every series, oldest first.
func (s *Schedule) ScheduleSeries(ctx context.Context) ([]schedule.Series, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, description, recurrence, timezone, duration_minutes, active, created_at
		FROM schedule_series ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []schedule.Series{}
	for rows.Next() {
		var x schedule.Series
		var at int64
		if err := rows.Scan(&x.ID, &x.Name, &x.Description, &x.Recurrence, &x.Timezone, &x.DurationMinutes, &x.Active, &at); err != nil {
			return nil, err
		}
		x.CreatedAt = FromMicros(at)
		out = append(out, x)
	}
	return out, rows.Err()
}

// SaveScheduleSeries inserts or replaces a series.
func (s *Schedule) SaveScheduleSeries(ctx context.Context, x schedule.Series) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO schedule_series (id, name, description, recurrence, timezone, duration_minutes, active, created_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (id) DO UPDATE SET name=excluded.name, description=excluded.description,
		recurrence=excluded.recurrence, timezone=excluded.timezone, duration_minutes=excluded.duration_minutes, active=excluded.active`,
		x.ID, x.Name, x.Description, x.Recurrence, x.Timezone, x.DurationMinutes, x.Active, Micros(x.CreatedAt))
	return err
}

// DeleteScheduleSeries removes a series (its events are the caller's).
func (s *Schedule) DeleteScheduleSeries(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM schedule_series WHERE id=$1`, id)
	return err
}

// ScheduleEvents lists every event by start.
func (s *Schedule) ScheduleEvents(ctx context.Context) ([]schedule.Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, series_id, name, description, start_at, timezone, duration_minutes, status
		FROM schedule_events ORDER BY start_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []schedule.Event{}
	for rows.Next() {
		var x schedule.Event
		var at int64
		if err := rows.Scan(&x.ID, &x.SeriesID, &x.Name, &x.Description, &at, &x.Timezone, &x.DurationMinutes, &x.Status); err != nil {
			return nil, err
		}
		x.Start = FromMicros(at)
		out = append(out, x)
	}
	return out, rows.Err()
}

// SaveScheduleEvent inserts or replaces an event. An occurrence of a
// series at the start of another of the same series (schedule_events_occurrence)
// is a conflict.
func (s *Schedule) SaveScheduleEvent(ctx context.Context, x schedule.Event) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO schedule_events (id, series_id, name, description, start_at, timezone, duration_minutes, status)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (id) DO UPDATE SET name=excluded.name, description=excluded.description,
		start_at=excluded.start_at, timezone=excluded.timezone, duration_minutes=excluded.duration_minutes, status=excluded.status`,
		x.ID, x.SeriesID, x.Name, x.Description, Micros(x.Start), x.Timezone, x.DurationMinutes, x.Status)
	if IsUniqueViolation(err) {
		return fault.Wrap(fault.Conflict, "another event of this series starts at the same time", err)
	}
	return err
}

// DeleteScheduleEvent removes an event.
func (s *Schedule) DeleteScheduleEvent(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM schedule_events WHERE id=$1`, id)
	return err
}

var _ schedule.Store = (*Schedule)(nil)
