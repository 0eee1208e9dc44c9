package store

import (
	"context"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
)

// StartGoLive records a channel's go-live session; fault.Conflict when the
// channel already has one (the primary key decides between nodes).
func (s *TogetherExtras) StartGoLive(ctx context.Context, channelID string, g *GoLive) error {
	res, err := s.db.ExecContext(ctx, `INSERT INTO together_go_live (channel_id, broadcaster_id, quality, started_at)
		VALUES ($1,$2,$3,$4) ON CONFLICT (channel_id) DO NOTHING`, channelID, g.BroadcasterID, g.Quality, Micros(g.StartedAt))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fault.Conflict
	}
	return nil
}

// GoLive returns a channel's go-live session (fault.NotFound if none).
func (s *TogetherExtras) GoLive(ctx context.Context, channelID string) (*GoLive, error) {
	var g GoLive
	var at int64
	if err := s.db.QueryRowContext(ctx, `SELECT broadcaster_id, quality, started_at FROM together_go_live WHERE channel_id=$1`,
		channelID).Scan(&g.BroadcasterID, &g.Quality, &at); err != nil {
		return nil, noRows(err)
	}
	g.StartedAt = FromMicros(at).UTC().Truncate(time.Microsecond)
	return &g, nil
}

// StopGoLive ends a channel's session if broadcasterID still holds it
// (fault.NotFound otherwise), so a stop never ends a newer session.
func (s *TogetherExtras) StopGoLive(ctx context.Context, channelID, broadcasterID string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM together_go_live WHERE channel_id=$1 AND broadcaster_id=$2`, channelID, broadcasterID)
	if err != nil {
		return err
	}
	return expectOne(res)
}

// GoLiveBy lists the channels where accountID broadcasts a go-live session.
func (s *TogetherExtras) GoLiveBy(ctx context.Context, accountID string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT channel_id FROM together_go_live WHERE broadcaster_id=$1`, accountID)
	return collect(rows, err, func(row scanner) (string, error) {
		var id string
		err := row.Scan(&id)
		return id, err
	})
}
