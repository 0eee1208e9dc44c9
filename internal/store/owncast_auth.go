package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// CreateAuthRequest stores a pending external sign-in.
func (s *StageChat) CreateAuthRequest(ctx context.Context, r *stagechat.AuthRequest) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO owncast_auth_requests (state, account_id, token_hash, display_name, me,
		endpoint, redirect_uri, client_id, code_verifier, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
		r.State, r.AccountID, r.TokenHash, r.DisplayName, r.Me, r.Endpoint, r.RedirectURI, r.ClientID, r.CodeVerifier, Micros(r.CreatedAt))
	return conflictOr(err)
}

// TakeAuthRequest returns and deletes the pending request with state (each
// is used once); fault.NotFound if there is none.
func (s *StageChat) TakeAuthRequest(ctx context.Context, state string) (*stagechat.AuthRequest, error) {
	var r stagechat.AuthRequest
	var at int64
	err := s.db.QueryRowContext(ctx, `DELETE FROM owncast_auth_requests WHERE state=$1 RETURNING state, account_id,
		token_hash, display_name, me, endpoint, redirect_uri, client_id, code_verifier, created_at`, state).
		Scan(&r.State, &r.AccountID, &r.TokenHash, &r.DisplayName, &r.Me, &r.Endpoint, &r.RedirectURI, &r.ClientID, &r.CodeVerifier, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fault.NotFound
	}
	if err != nil {
		return nil, err
	}
	r.CreatedAt = FromMicros(at)
	return &r, nil
}

// PendingAuthRequests prunes requests made before before and counts the rest.
func (s *StageChat) PendingAuthRequests(ctx context.Context, before time.Time) (int, error) {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM owncast_auth_requests WHERE created_at < $1`, Micros(before)); err != nil {
		return 0, err
	}
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM owncast_auth_requests`).Scan(&n)
	return n, err
}

// AuthAccount returns the account an external identity is linked to.
func (s *StageChat) AuthAccount(ctx context.Context, provider, identifier string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT account_id FROM owncast_auth_identities WHERE provider=$1 AND identifier=$2`,
		provider, identifier).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fault.NotFound
	}
	return id, err
}

// LinkAuth links an external identity to an account (fault.Conflict if it
// is linked already).
func (s *StageChat) LinkAuth(ctx context.Context, provider, identifier, accountID string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO owncast_auth_identities (provider, identifier, account_id, created_at)
		VALUES ($1,$2,$3,$4)`, provider, identifier, accountID, Micros(at))
	return conflictOr(err)
}

// SetChatTokenAccount points an existing chat token at another account.
func (s *StageChat) SetChatTokenAccount(ctx context.Context, hash, accountID string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE owncast_chat_tokens SET account_id=$2 WHERE token_hash=$1`, hash, accountID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fault.NotFound
	}
	return nil
}
