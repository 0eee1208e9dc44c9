package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
)

// AccountLinks keeps accounts linked to an outside sign-in (Discord).
type AccountLinks struct{ db *DB }

// AccountLinks returns the account link store.
func (db *DB) AccountLinks() *AccountLinks { return &AccountLinks{db: db} }

// LinkAccount links accountID to subject at provider, replacing the
// account's earlier link there; fault.Conflict if another account holds
// subject.
func (s *AccountLinks) LinkAccount(ctx context.Context, provider, subject, accountID string, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM account_links WHERE provider=$1 AND account_id=$2 AND subject<>$3`,
		provider, accountID, subject); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO account_links (provider, subject, account_id, created_at)
		VALUES ($1,$2,$3,$4) ON CONFLICT (provider, subject) DO NOTHING`, provider, subject, accountID, Micros(at)); err != nil {
		return conflictOr(err)
	}
	owner, err := s.LinkedAccount(ctx, provider, subject)
	if err != nil {
		return err
	}
	if owner != accountID {
		return fault.New(fault.Conflict, "linked to another account")
	}
	return nil
}

// LinkedAccount returns the account linked to subject at provider.
func (s *AccountLinks) LinkedAccount(ctx context.Context, provider, subject string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT account_id FROM account_links WHERE provider=$1 AND subject=$2`, provider, subject).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fault.NotFound
	}
	return id, err
}

// AccountLink returns the subject an account is linked to at provider.
func (s *AccountLinks) AccountLink(ctx context.Context, provider, accountID string) (string, error) {
	var sub string
	err := s.db.QueryRowContext(ctx, `SELECT subject FROM account_links WHERE provider=$1 AND account_id=$2`, provider, accountID).Scan(&sub)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fault.NotFound
	}
	return sub, err
}

// UnlinkAccount removes the account's link at provider; fault.NotFound if
// it had none.
func (s *AccountLinks) UnlinkAccount(ctx context.Context, provider, accountID string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM account_links WHERE provider=$1 AND account_id=$2`, provider, accountID)
	if err != nil {
		return err
	}
	return expectOne(res)
}
