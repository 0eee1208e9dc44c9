package store

import (
	"context"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
)

// AddNotification registers a destination on a channel (idempotent).
func (s *StageChat) AddNotification(ctx context.Context, channel, destination string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO owncast_notifications (id, channel, destination, created_at)
		VALUES ($1,$2,$3,$4) ON CONFLICT (channel, destination) DO NOTHING`,
		identity.NewID(), channel, destination, Micros(at))
	return err
}

// NotificationDestinations lists a channel's destinations, oldest first.
func (s *StageChat) NotificationDestinations(ctx context.Context, channel string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT destination FROM owncast_notifications WHERE channel=$1 ORDER BY created_at, id`, channel)
	return collect(rows, err, scanString)
}

// RemoveNotification forgets a destination.
func (s *StageChat) RemoveNotification(ctx context.Context, channel, destination string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM owncast_notifications WHERE channel=$1 AND destination=$2`, channel, destination)
	return err
}
