package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/live"
)

// Live is the live-streaming store.
type Live struct{ db *DB }

// Live returns the live store on db.
func (db *DB) Live() *Live { return &Live{db: db} }

var _ live.Store = (*Live)(nil)

const stageCols = `id, name, is_default, stream_title, video_codec, latency_level, variants, last_connect_at, last_disconnect_at, overall_peak_viewers, created_at, updated_at`

func scanStage(row interface{ Scan(...any) error }) (*live.Stage, error) {
	var st live.Stage
	var variants string
	var lc, ld sql.NullInt64
	var created, updated int64
	if err := row.Scan(&st.ID, &st.Name, &st.Default, &st.Title, &st.VideoCodec, &st.LatencyLevel, &variants, &lc, &ld,
		&st.OverallPeak, &created, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fault.NotFound
		}
		return nil, err
	}
	if err := json.Unmarshal([]byte(variants), &st.Variants); err != nil {
		return nil, fmt.Errorf("stage %s variants: %w", st.ID, err)
	}
	st.LastConnect, st.LastDisconnect = TimePtr(lc), TimePtr(ld)
	st.CreatedAt, st.UpdatedAt = FromMicros(created), FromMicros(updated)
	return &st, nil
}

// CreateStage inserts a stage and its keys in one transaction.
func (l *Live) CreateStage(ctx context.Context, st *live.Stage, keys []live.StreamKey) error {
	vj, err := json.Marshal(st.Variants)
	if err != nil {
		return err
	}
	return l.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO live_stages (`+stageCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
			st.ID, st.Name, st.Default, st.Title, st.VideoCodec, st.LatencyLevel, string(vj), NullMicros(st.LastConnect),
			NullMicros(st.LastDisconnect), st.OverallPeak, Micros(st.CreatedAt), Micros(st.UpdatedAt))
		if err != nil {
			if IsUniqueViolation(err) {
				return fault.Wrap(fault.Conflict, "stage already exists", err)
			}
			return err
		}
		return insertKeys(ctx, tx, st.ID, keys)
	})
}

func insertKeys(ctx context.Context, tx *sql.Tx, stageID string, keys []live.StreamKey) error {
	now := Micros(time.Now())
	for i, k := range keys {
		if _, err := tx.ExecContext(ctx, `INSERT INTO live_stream_keys (key, stage_id, comment, position, created_at, account_id) VALUES ($1,$2,$3,$4,$5,$6)`,
			k.Key, stageID, k.Comment, i, now, nullID(k.Holder)); err != nil {
			if IsUniqueViolation(err) {
				return fault.Wrap(fault.Conflict, "stream key is already in use", err)
			}
			return err
		}
	}
	return nil
}

// DefaultStage returns the default stage.
func (l *Live) DefaultStage(ctx context.Context) (*live.Stage, error) {
	return scanStage(l.db.QueryRowContext(ctx, `SELECT `+stageCols+` FROM live_stages WHERE is_default`))
}

// Stage returns a stage by id.
func (l *Live) Stage(ctx context.Context, id string) (*live.Stage, error) {
	return scanStage(l.db.QueryRowContext(ctx, `SELECT `+stageCols+` FROM live_stages WHERE id = $1`, id))
}

// Stages lists every stage, the default first, then by creation.
func (l *Live) Stages(ctx context.Context) ([]*live.Stage, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT `+stageCols+` FROM live_stages ORDER BY is_default DESC, created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*live.Stage
	for rows.Next() {
		st, err := scanStage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// UpdateStage writes every mutable field.
func (l *Live) UpdateStage(ctx context.Context, st *live.Stage) error {
	vj, err := json.Marshal(st.Variants)
	if err != nil {
		return err
	}
	res, err := l.db.ExecContext(ctx, `UPDATE live_stages SET name=$2, stream_title=$3, video_codec=$4, latency_level=$5, variants=$6,
		last_connect_at=$7, last_disconnect_at=$8, overall_peak_viewers=$9, updated_at=$10 WHERE id=$1`,
		st.ID, st.Name, st.Title, st.VideoCodec, st.LatencyLevel, string(vj), NullMicros(st.LastConnect), NullMicros(st.LastDisconnect),
		st.OverallPeak, Micros(st.UpdatedAt))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fault.NotFound
	}
	return nil
}

// StreamKeys lists a stage's keys in the order they were set.
func (l *Live) StreamKeys(ctx context.Context, stageID string) ([]live.StreamKey, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT key, comment, COALESCE(account_id, '') FROM live_stream_keys WHERE stage_id = $1 ORDER BY position, created_at`, stageID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	keys := []live.StreamKey{}
	for rows.Next() {
		var k live.StreamKey
		if err := rows.Scan(&k.Key, &k.Comment, &k.Holder); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// SetStreamKeys replaces a stage's keys.
func (l *Live) SetStreamKeys(ctx context.Context, stageID string, keys []live.StreamKey) error {
	return l.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM live_stream_keys WHERE stage_id = $1`, stageID); err != nil {
			return err
		}
		return insertKeys(ctx, tx, stageID, keys)
	})
}

// KeyStage finds the stage a key belongs to and the key's holder ("" for
// the default stage's keys).
func (l *Live) KeyStage(ctx context.Context, key string) (stageID, holder string, err error) {
	err = l.db.QueryRowContext(ctx, `SELECT stage_id, COALESCE(account_id, '') FROM live_stream_keys WHERE key = $1`, key).Scan(&stageID, &holder)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", fault.NotFound
	}
	return stageID, holder, err
}

// HolderKey is the key of stageID issued to holder.
func (l *Live) HolderKey(ctx context.Context, stageID, holder string) (string, error) {
	var key string
	err := l.db.QueryRowContext(ctx, `SELECT key FROM live_stream_keys WHERE stage_id = $1 AND account_id = $2`, stageID, holder).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fault.NotFound
	}
	return key, err
}

// SetHolderKey replaces holder's key of stageID; the stage's other keys
// stay. Two at once for one holder: one wins, the other is Conflict.
func (l *Live) SetHolderKey(ctx context.Context, stageID, holder, key, comment string) error {
	return l.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM live_stream_keys WHERE stage_id = $1 AND account_id = $2`, stageID, holder); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO live_stream_keys (key, stage_id, comment, position, created_at, account_id) VALUES ($1,$2,$3,0,$4,$5)`,
			key, stageID, comment, Micros(time.Now()), holder)
		if IsUniqueViolation(err) {
			return fault.Wrap(fault.Conflict, "stream key changed meanwhile", err)
		}
		return err
	})
}

// Setting reads an instance-wide live setting.
func (l *Live) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := l.db.QueryRowContext(ctx, `SELECT value FROM live_settings WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fault.NotFound
	}
	return v, err
}

// SetSetting writes an instance-wide live setting.
func (l *Live) SetSetting(ctx context.Context, name, value string) error {
	_, err := l.db.ExecContext(ctx, `INSERT INTO live_settings (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	return err
}

// DeleteSetting removes a live setting (none is not an error).
func (l *Live) DeleteSetting(ctx context.Context, name string) error {
	_, err := l.db.ExecContext(ctx, `DELETE FROM live_settings WHERE name = $1`, name)
	return err
}

// StartBroadcast records a broadcast's start.
func (l *Live) StartBroadcast(ctx context.Context, id, stageID string, at time.Time, details string) error {
	_, err := l.db.ExecContext(ctx, `INSERT INTO live_broadcasts (id, stage_id, started_at, details) VALUES ($1,$2,$3,$4)`,
		id, stageID, Micros(at), details)
	return err
}

// EndBroadcast records a broadcast's end and peak viewers.
func (l *Live) EndBroadcast(ctx context.Context, id string, at time.Time, peak int) error {
	res, err := l.db.ExecContext(ctx, `UPDATE live_broadcasts SET ended_at = $2, peak_viewers = $3 WHERE id = $1`, id, Micros(at), peak)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fault.NotFound
	}
	return nil
}

// AddViewerSample stores one viewer-count sample.
func (l *Live) AddViewerSample(ctx context.Context, stageID string, at time.Time, viewers int) error {
	_, err := l.db.ExecContext(ctx, `INSERT INTO live_viewer_samples (stage_id, at, viewers) VALUES ($1,$2,$3)
		ON CONFLICT (stage_id, at) DO UPDATE SET viewers = excluded.viewers`, stageID, Micros(at), viewers)
	return err
}

// ViewerSamples lists samples since a time, oldest first.
func (l *Live) ViewerSamples(ctx context.Context, stageID string, since time.Time) ([]live.Sample, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT at, viewers FROM live_viewer_samples WHERE stage_id = $1 AND at >= $2 ORDER BY at LIMIT 10000`,
		stageID, Micros(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []live.Sample{}
	for rows.Next() {
		var at int64
		var s live.Sample
		if err := rows.Scan(&at, &s.Value); err != nil {
			return nil, err
		}
		s.Time = FromMicros(at)
		out = append(out, s)
	}
	return out, rows.Err()
}
