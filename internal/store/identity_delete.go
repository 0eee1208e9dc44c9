package store

import (
	"context"
	"database/sql"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

// DeleteAccount deletes an account in one transaction. Sessions and tokens
// are deleted and authored messages (channel and DM alike) lose their
// author explicitly; memberships, roles, reactions, read states, DM
// channels and profiles go through their ON DELETE CASCADE keys; the
// account's clip budget (clip_buckets, keyed by account id with no foreign
// key, as every bucket table) goes too, not an hour later. The owner
// check sits in the same statement as the delete, so a community created
// concurrently is never cascaded away with its owner. The last active admin
// is not deleted (identity.ErrLastAdmin), checked under lockAdmins.
func (s *Identity) DeleteAccount(ctx context.Context, id string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		exists, active, others, err := s.db.lockAdmins(ctx, tx, id)
		if err != nil {
			return err
		}
		var owns bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM communities WHERE owner_id=$1)`, id).Scan(&owns); err != nil {
			return err
		}
		switch {
		case !exists:
			return fault.NotFound
		case owns:
			return identity.ErrOwnsCommunities
		case active && others == 0:
			return identity.ErrLastAdmin
		}
		for _, q := range []string{
			`DELETE FROM sessions WHERE account_id=$1`,
			`DELETE FROM tokens WHERE account_id=$1`,
			`UPDATE messages SET author_id=NULL WHERE author_id=$1`,
			`DELETE FROM clip_buckets WHERE key=$1`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE id=$1
			AND NOT EXISTS (SELECT 1 FROM communities WHERE owner_id=$1)`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return identity.ErrOwnsCommunities
		}
		return nil
	})
}
