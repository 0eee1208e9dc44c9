package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/recording"
)

// Recordings is the recordings store.
type Recordings struct{ db *DB }

// Recordings returns the recordings store on db.
func (db *DB) Recordings() *Recordings { return &Recordings{db: db} }

var _ recording.Store = (*Recordings)(nil)

const recCols = `id, stage_id, title, started_at, ended_at, duration_ms, size_bytes, pinned, node_id, lease_until`

func scanRecording(row interface{ Scan(...any) error }) (*recording.Recording, error) {
	var r recording.Recording
	var started, dur, lease int64
	var ended sql.NullInt64
	if err := row.Scan(&r.ID, &r.StageID, &r.Title, &started, &ended, &dur, &r.Size, &r.Pinned, &r.NodeID, &lease); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fault.New(fault.NotFound, "recording not found")
		}
		return nil, err
	}
	r.StartedAt, r.EndedAt, r.LeaseUntil = FromMicros(started), TimePtr(ended), FromMicros(lease)
	r.Duration = time.Duration(dur) * time.Millisecond
	return &r, nil
}

// CreateRecording inserts a recording.
func (s *Recordings) CreateRecording(ctx context.Context, r *recording.Recording) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO recordings (`+recCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
		r.ID, r.StageID, r.Title, Micros(r.StartedAt), NullMicros(r.EndedAt), r.Duration.Milliseconds(), r.Size, r.Pinned,
		r.NodeID, Micros(r.LeaseUntil))
	return err
}

// Recording returns one recording.
func (s *Recordings) Recording(ctx context.Context, id string) (*recording.Recording, error) {
	return scanRecording(s.db.QueryRowContext(ctx, `SELECT `+recCols+` FROM recordings WHERE id = $1`, id))
}

func (s *Recordings) list(ctx context.Context, q string, args ...any) ([]*recording.Recording, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*recording.Recording
	for rows.Next() {
		r, err := scanRecording(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Recordings lists a stage's recordings ("" = every stage), newest first.
func (s *Recordings) Recordings(ctx context.Context, stageID string) ([]*recording.Recording, error) {
	if stageID == "" {
		return s.list(ctx, `SELECT `+recCols+` FROM recordings ORDER BY started_at DESC, id DESC`)
	}
	return s.list(ctx, `SELECT `+recCols+` FROM recordings WHERE stage_id = $1 ORDER BY started_at DESC, id DESC`, stageID)
}

// OpenRecordings lists recordings not yet ended.
func (s *Recordings) OpenRecordings(ctx context.Context) ([]*recording.Recording, error) {
	return s.list(ctx, `SELECT `+recCols+` FROM recordings WHERE ended_at IS NULL`)
}

// UpdateRecording stores every mutable field.
func (s *Recordings) UpdateRecording(ctx context.Context, r *recording.Recording) error {
	res, err := s.db.ExecContext(ctx, `UPDATE recordings SET title=$2, ended_at=$3, duration_ms=$4, size_bytes=$5, pinned=$6,
		node_id=$7, lease_until=$8 WHERE id=$1`, r.ID, r.Title, NullMicros(r.EndedAt), r.Duration.Milliseconds(), r.Size, r.Pinned,
		r.NodeID, Micros(r.LeaseUntil))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fault.New(fault.NotFound, "recording not found")
	}
	return nil
}

// DeleteRecording removes a recording.
func (s *Recordings) DeleteRecording(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM recordings WHERE id = $1`, id)
	return err
}

const clipCols = `id, stage_id, recording_id, title, offset_ms, duration_ms, size_bytes, created_by, created_at, node_id, message_id`

func scanClip(row interface{ Scan(...any) error }) (*recording.Clip, error) {
	var c recording.Clip
	var off, dur, created int64
	if err := row.Scan(&c.ID, &c.StageID, &c.RecordingID, &c.Title, &off, &dur, &c.Size, &c.CreatedBy, &created, &c.NodeID, &c.MessageID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fault.New(fault.NotFound, "clip not found")
		}
		return nil, err
	}
	c.Offset, c.Duration, c.CreatedAt = time.Duration(off)*time.Millisecond, time.Duration(dur)*time.Millisecond, FromMicros(created)
	return &c, nil
}

// CreateClip inserts a clip.
func (s *Recordings) CreateClip(ctx context.Context, c *recording.Clip) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO recording_clips (`+clipCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
		c.ID, c.StageID, c.RecordingID, c.Title, c.Offset.Milliseconds(), c.Duration.Milliseconds(), c.Size, c.CreatedBy, Micros(c.CreatedAt), c.NodeID,
		c.MessageID)
	return err
}

// Clip returns one clip.
func (s *Recordings) Clip(ctx context.Context, id string) (*recording.Clip, error) {
	return scanClip(s.db.QueryRowContext(ctx, `SELECT `+clipCols+` FROM recording_clips WHERE id = $1`, id))
}

// Clips lists a stage's clips, newest first.
func (s *Recordings) Clips(ctx context.Context, stageID string) ([]*recording.Clip, error) {
	q, args := `SELECT `+clipCols+` FROM recording_clips ORDER BY created_at DESC, id DESC`, []any(nil)
	if stageID != "" {
		q, args = `SELECT `+clipCols+` FROM recording_clips WHERE stage_id = $1 ORDER BY created_at DESC, id DESC`, []any{stageID}
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*recording.Clip
	for rows.Next() {
		c, err := scanClip(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// SetClipMessage records the chat message that announced a clip;
// NotFound when the clip is gone.
func (s *Recordings) SetClipMessage(ctx context.Context, id, messageID string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE recording_clips SET message_id = $2 WHERE id = $1`, id, messageID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fault.New(fault.NotFound, "clip not found")
	}
	return nil
}

// DeleteClip removes a clip and returns the id of the message that
// announced it, read from the row it deleted (one statement: a
// SetClipMessage just before is in it, one just after finds no clip);
// NotFound when there is no such clip.
func (s *Recordings) DeleteClip(ctx context.Context, id string) (string, error) {
	var msg string
	err := s.db.QueryRowContext(ctx, `DELETE FROM recording_clips WHERE id = $1 RETURNING message_id`, id).Scan(&msg)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fault.New(fault.NotFound, "clip not found")
	}
	return msg, err
}

const recSetCols = `stage_id, enabled, max_age_s, max_count, max_bytes`

func scanRecSettings(row interface{ Scan(...any) error }) (*recording.StageSettings, error) {
	var st recording.StageSettings
	var en sql.NullBool
	var age int64
	if err := row.Scan(&st.StageID, &en, &age, &st.MaxCount, &st.MaxBytes); err != nil {
		return nil, err
	}
	if en.Valid {
		v := en.Bool
		st.Enabled = &v
	}
	st.MaxAge = time.Duration(age) * time.Second
	return &st, nil
}

// RecordingSettings returns a stage's settings (defaults when none stored).
func (s *Recordings) RecordingSettings(ctx context.Context, stageID string) (*recording.StageSettings, error) {
	st, err := scanRecSettings(s.db.QueryRowContext(ctx, `SELECT `+recSetCols+` FROM recording_settings WHERE stage_id = $1`, stageID))
	if errors.Is(err, sql.ErrNoRows) {
		return &recording.StageSettings{StageID: stageID}, nil
	}
	return st, err
}

// AllRecordingSettings lists every stored stage setting.
func (s *Recordings) AllRecordingSettings(ctx context.Context) ([]*recording.StageSettings, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+recSetCols+` FROM recording_settings ORDER BY stage_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*recording.StageSettings
	for rows.Next() {
		st, err := scanRecSettings(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// SetRecordingSettings stores a stage's settings.
func (s *Recordings) SetRecordingSettings(ctx context.Context, st *recording.StageSettings) error {
	var en sql.NullBool
	if st.Enabled != nil {
		en = sql.NullBool{Bool: *st.Enabled, Valid: true}
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO recording_settings (`+recSetCols+`) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (stage_id) DO UPDATE SET enabled=excluded.enabled, max_age_s=excluded.max_age_s,
		max_count=excluded.max_count, max_bytes=excluded.max_bytes`,
		st.StageID, en, int64(st.MaxAge/time.Second), st.MaxCount, st.MaxBytes)
	return err
}

// ClaimJob records that this node runs the job named key.
func (s *Recordings) ClaimJob(ctx context.Context, key string, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO recording_job_claims (job_key, claimed_at) VALUES ($1,$2)
		ON CONFLICT (job_key) DO NOTHING`, key, Micros(at))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// PruneJobClaims forgets claims made before before.
func (s *Recordings) PruneJobClaims(ctx context.Context, before time.Time) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM recording_job_claims WHERE claimed_at < $1`, Micros(before))
	return err
}

// TakeClip charges one clip to account's budget in clip_buckets (burst
// clips, one back every every), shared by every node; see takeBucket.
func (s *Recordings) TakeClip(ctx context.Context, account string, burst int, every time.Duration, now time.Time) (bool, time.Duration, error) {
	if burst <= 0 || every <= 0 {
		return false, 0, errors.New("store: clip budget: burst and every must be positive")
	}
	return takeBucket(ctx, s.db, "clip_buckets", account, burst, every, now)
}
