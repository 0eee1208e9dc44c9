package store

import (
	"context"
	"database/sql"
	"time"
)

// ClaimEvent records that this node delivers the event named key; it
// reports false when another node (or an earlier call) claimed it first.
func (s *StageChat) ClaimEvent(ctx context.Context, key string, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO owncast_event_claims (event_key, claimed_at) VALUES ($1,$2)
		ON CONFLICT (event_key) DO NOTHING`, key, Micros(at))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ClaimEventAgain claims key like ClaimEvent, and also when its last claim
// was made at or before since (the claim's time is then moved to at).
func (s *StageChat) ClaimEventAgain(ctx context.Context, key string, at, since time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO owncast_event_claims (event_key, claimed_at) VALUES ($1,$2)
		ON CONFLICT (event_key) DO UPDATE SET claimed_at = excluded.claimed_at WHERE owncast_event_claims.claimed_at <= $3`,
		key, Micros(at), Micros(since))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// PruneEventClaims forgets claims made before before.
func (s *StageChat) PruneEventClaims(ctx context.Context, before time.Time) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM owncast_event_claims WHERE claimed_at < $1`, Micros(before))
	return err
}

// LastEventClaim returns when the latest claim of a key starting with
// prefix (which holds no % or _) was made, zero when there is none.
func (s *StageChat) LastEventClaim(ctx context.Context, prefix string) (time.Time, error) {
	var at sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(claimed_at) FROM owncast_event_claims WHERE event_key LIKE $1`,
		prefix+"%").Scan(&at); err != nil || !at.Valid {
		return time.Time{}, err
	}
	return FromMicros(at.Int64), nil
}
