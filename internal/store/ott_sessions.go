package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
)

// OttSessions implements the OTT surface's SessionStore (checked where it is wired).
type OttSessions struct{ db *DB }

// OttSessions returns the OpenTogetherTube session store.
func (db *DB) OttSessions() *OttSessions { return &OttSessions{db: db} }

// CreateOttSession inserts s.
func (s *OttSessions) CreateOttSession(ctx context.Context, x *OTTSession) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO ott_sessions (token_hash, account_id, guest_id, session_id, created_at, expires_at)
		VALUES ($1,$2,$3,$4,$5,$6)`, x.TokenHash, x.AccountID, x.GuestID, sql.NullString{String: x.SessionID, Valid: x.SessionID != ""}, Micros(x.CreatedAt), Micros(x.ExpiresAt))
	return conflictOr(err)
}

// OttSessionByHash looks a session up by its token hash.
func (s *OttSessions) OttSessionByHash(ctx context.Context, hash string) (*OTTSession, error) {
	var x OTTSession
	var created, expires int64
	var session sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT token_hash, account_id, guest_id, session_id, created_at, expires_at
		FROM ott_sessions WHERE token_hash=$1`, hash).Scan(&x.TokenHash, &x.AccountID, &x.GuestID, &session, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fault.NotFound
	}
	if err != nil {
		return nil, err
	}
	x.SessionID = session.String
	x.CreatedAt, x.ExpiresAt = FromMicros(created), FromMicros(expires)
	return &x, nil
}

// UpdateOttSession stores the session's account, the Hearth session that
// signed it in and its expiry.
func (s *OttSessions) UpdateOttSession(ctx context.Context, x *OTTSession) error {
	res, err := s.db.ExecContext(ctx, `UPDATE ott_sessions SET account_id=$2, session_id=$3, expires_at=$4 WHERE token_hash=$1`,
		x.TokenHash, x.AccountID, sql.NullString{String: x.SessionID, Valid: x.SessionID != ""}, Micros(x.ExpiresAt))
	if err != nil {
		return err
	}
	return expectOne(res)
}

// DeleteExpiredOttSessions removes sessions that expired before t whose
// guest is still used by a live session. The other expired sessions stay
// until their guest is deleted (ExpiredOttGuests), which takes them along.
func (s *OttSessions) DeleteExpiredOttSessions(ctx context.Context, t time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM ott_sessions WHERE expires_at < $1 AND EXISTS (
		SELECT 1 FROM ott_sessions o WHERE (o.guest_id = ott_sessions.guest_id OR o.account_id = ott_sessions.guest_id)
		AND o.expires_at >= $1)`, Micros(t))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// ExpiredOttGuests returns up to limit guest accounts that OTT sessions
// were minted for and that no session has used since t: every session
// naming them (as its guest or its current account) expired before t.
func (s *OttSessions) ExpiredOttGuests(ctx context.Context, t time.Time, limit int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT s.guest_id FROM ott_sessions s JOIN accounts a ON a.id = s.guest_id
		WHERE s.expires_at < $1 AND a.kind = 'guest' AND NOT EXISTS (
			SELECT 1 FROM ott_sessions o WHERE (o.guest_id = s.guest_id OR o.account_id = s.guest_id) AND o.expires_at >= $1)
		ORDER BY s.guest_id LIMIT $2`, Micros(t), limit)
	return collect(rows, err, scanString)
}
