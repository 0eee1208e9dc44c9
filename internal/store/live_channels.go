package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
)

// DeleteStage removes a stage with its keys, broadcasts, samples, publish
// lease and channel bindings. The default stage cannot be deleted; an unknown id is
// fault.NotFound.
func (l *Live) DeleteStage(ctx context.Context, id string) error {
	return l.db.InTx(ctx, func(tx *sql.Tx) error {
		// Explicit deletes: the children go whatever the engine's
		// foreign-key settings.
		for _, q := range []string{
			`DELETE FROM live_channel_stages WHERE stage_id = $1`,
			`DELETE FROM live_viewer_samples WHERE stage_id = $1`,
			`DELETE FROM live_broadcasts WHERE stage_id = $1`,
			`DELETE FROM live_stream_keys WHERE stage_id = $1`,
			`DELETE FROM live_publish_leases WHERE stage_id = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM live_stages WHERE id = $1 AND NOT is_default`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fault.NotFound
		}
		return nil
	})
}

// ChannelStage returns the stage a channel is bound to (fault.NotFound:
// none, the channel uses the stage of its own id).
func (l *Live) ChannelStage(ctx context.Context, channelID string) (string, error) {
	var id string
	err := l.db.QueryRowContext(ctx, `SELECT stage_id FROM live_channel_stages WHERE channel_id = $1`, channelID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fault.NotFound
	}
	return id, err
}

// SetChannelStage binds a channel to a stage; stageID "" removes the
// binding.
func (l *Live) SetChannelStage(ctx context.Context, channelID, stageID string) error {
	if stageID == "" {
		_, err := l.db.ExecContext(ctx, `DELETE FROM live_channel_stages WHERE channel_id = $1`, channelID)
		return err
	}
	_, err := l.db.ExecContext(ctx, `INSERT INTO live_channel_stages (channel_id, stage_id, created_at) VALUES ($1,$2,$3)
		ON CONFLICT (channel_id) DO UPDATE SET stage_id = excluded.stage_id`, channelID, stageID, Micros(time.Now()))
	if err != nil && isForeignKeyViolation(err) {
		return fault.Wrap(fault.NotFound, "stage not found", err)
	}
	return err
}

// ChannelsOfStage lists the channels bound to a stage.
func (l *Live) ChannelsOfStage(ctx context.Context, stageID string) ([]string, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT channel_id FROM live_channel_stages WHERE stage_id = $1 ORDER BY channel_id`, stageID)
	return collect(rows, err, scanString)
}
