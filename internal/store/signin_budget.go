package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
)

// The sign-in limiter's shared buckets (identity.SignInBudget), one row per
// key in signin_buckets. A bucket of burst tokens refilling one every
// `every` is the instant tat at which it would be full: a charge moves tat
// to max(tat, now)+every and is allowed while that stays within
// burst*every of now. The charge is one INSERT ... ON CONFLICT DO UPDATE
// ... WHERE ... RETURNING, atomic on both engines, so nodes charging the
// same key at once each see the other's charge.

var _ identity.SignInBudget = (*Identity)(nil)

// TakeSignIn implements identity.SignInBudget.
func (s *Identity) TakeSignIn(ctx context.Context, key string, burst int, every time.Duration, now time.Time) (bool, time.Duration, error) {
	if burst <= 0 || every <= 0 {
		return false, 0, errors.New("store: sign-in bucket: burst and every must be positive")
	}
	return takeBucket(ctx, s.db, "signin_buckets", key, burst, every, now)
}

// takeBucket charges one token to key's GCRA bucket in table (key TEXT
// PRIMARY KEY, tat BIGINT): the one atomic charge TakeSignIn describes,
// shared by every bucket table (signin_buckets, clip_buckets). table is a
// constant of this package, never input.
func takeBucket(ctx context.Context, db *DB, table, key string, burst int, every time.Duration, now time.Time) (bool, time.Duration, error) {
	greatest := "GREATEST"
	if db.Engine == SQLite {
		greatest = "MAX"
	}
	n, ev, window := Micros(now), every.Microseconds(), int64(burst)*every.Microseconds()
	// Full buckets are rows whose tat has passed; clear them as we go (an
	// index on tat makes this cheap, and it is one statement per attempt).
	// A sweep that fails (two nodes sweeping at once may conflict on
	// PostgreSQL) is housekeeping only: the charge below still decides.
	if _, err := db.ExecContext(ctx, `DELETE FROM `+table+` WHERE tat < $1`, n); err != nil && ctx.Err() == nil {
		db.log.Debug("bucket sweep", "table", table, "err", err)
	}
	var tat int64
	err := db.QueryRowContext(ctx, `INSERT INTO `+table+` (key, tat) VALUES ($1, CAST($2 AS BIGINT) + CAST($3 AS BIGINT))
ON CONFLICT (key) DO UPDATE SET tat = `+greatest+`(`+table+`.tat, CAST($2 AS BIGINT)) + CAST($3 AS BIGINT)
WHERE `+greatest+`(`+table+`.tat, CAST($2 AS BIGINT)) + CAST($3 AS BIGINT) - CAST($4 AS BIGINT) <= CAST($2 AS BIGINT)
RETURNING tat`, key, n, ev, window).Scan(&tat)
	if err == nil {
		return true, 0, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return false, 0, fmt.Errorf("store: %s: %w", table, err)
	}
	// Refused: how long until one more charge fits.
	if err := db.QueryRowContext(ctx, `SELECT tat FROM `+table+` WHERE key = $1`, key).Scan(&tat); err != nil {
		if errors.Is(err, sql.ErrNoRows) { // emptied meanwhile
			return false, every, nil
		}
		return false, 0, fmt.Errorf("store: %s: %w", table, err)
	}
	return false, time.Duration(max(tat, n)+ev-window-n) * time.Microsecond, nil
}

// RefundSignIn implements identity.SignInBudget. Moving tat back below now
// is the same as a full bucket, since a charge starts from max(tat, now).
func (s *Identity) RefundSignIn(ctx context.Context, key string, every time.Duration, _ time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE signin_buckets SET tat = tat - $2 WHERE key = $1`, key, every.Microseconds()); err != nil {
		return fmt.Errorf("store: sign-in refund: %w", err)
	}
	return nil
}

// ForgetSignIn implements identity.SignInBudget.
func (s *Identity) ForgetSignIn(ctx context.Context, key string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM signin_buckets WHERE key = $1`, key); err != nil {
		return fmt.Errorf("store: sign-in forget: %w", err)
	}
	return nil
}
