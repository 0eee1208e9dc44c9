package store

import (
	"context"
	"database/sql"
	"strings"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

// The instance keeps an active admin (identity.ErrLastAdmin): a write that
// demotes, disables or deletes the last active (not disabled) admin is
// refused, and the count of the others is taken in the same transaction as
// the write, under locks, so two admins demoting each other at the same
// moment cannot both pass. On SQLite a transaction holds the write lock from
// BEGIN (_txlock=immediate), so writers already run one at a time. On
// PostgreSQL (READ COMMITTED) each transaction would see the other's row
// still active; lockAdmins makes them queue on the admin rows instead.

// activeAdmin is the SQL condition of an active admin's row.
const activeAdmin = `(is_admin AND disabled_at IS NULL)`

// lockAdmins locks, on PostgreSQL, the row of id and every active admin's
// row until tx ends, always in id order (so two such transactions never
// deadlock), and reports whether id exists, whether it is an active admin
// and how many other active admins there are. It is one statement: a row
// changed by a transaction it waited for is read again as committed, and
// dropped if it is no longer an active admin, so the count is of the
// latest state and stays true until tx ends. FOR NO KEY UPDATE, not FOR
// UPDATE: messages and memberships inserted meanwhile (their foreign keys
// take KEY SHARE on the account) need not wait.
func (db *DB) lockAdmins(ctx context.Context, tx *sql.Tx, id string) (found, active bool, others int, err error) {
	q := `SELECT id, ` + activeAdmin + ` FROM accounts WHERE ` + activeAdmin + ` OR id=$1 ORDER BY id`
	if db.Engine == Postgres {
		q += ` FOR NO KEY UPDATE`
	}
	rows, err := tx.QueryContext(ctx, q, id)
	if err != nil {
		return false, false, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var rid string
		var act bool
		if err := rows.Scan(&rid, &act); err != nil {
			return false, false, 0, err
		}
		switch {
		case rid == id:
			found, active = true, act
		case act:
			others++
		}
	}
	return found, active, others, rows.Err()
}

const updateAccountSQL = `UPDATE accounts SET username=$2, username_key=$3, display_name=$4, email=$5,
		password_hash=$6, avatar_url=$7, is_admin=$8, disabled_at=$9, updated_at=$10, email_typed=$11,
		display_name_key=$12 WHERE id=$1`

func updateAccountArgs(a *identity.Account) []any {
	return []any{a.ID, a.Username, strings.ToLower(a.Username), a.DisplayName, nullString(lowerPtr(a.Email)), a.PasswordHash,
		a.AvatarURL, a.IsAdmin, NullMicros(a.DisabledAt), Micros(a.UpdatedAt), nullString(a.Email), identity.NameKey(a.DisplayName)}
}

// UpdateAccount stores every mutable field of a. A write that leaves a an
// active admin, or that changes an account which is not one, is one
// statement (its condition is checked again on the row's latest version, so
// it never demotes an admin promoted meanwhile); one that demotes or
// disables an active admin runs under lockAdmins and is refused with
// identity.ErrLastAdmin when no other active admin remains.
func (s *Identity) UpdateAccount(ctx context.Context, a *identity.Account) error {
	args := updateAccountArgs(a)
	staysActive := a.IsAdmin && a.DisabledAt == nil
	res, err := s.db.ExecContext(ctx, updateAccountSQL+` AND ($13 OR NOT `+activeAdmin+`)`, append(args, staysActive)...)
	if err != nil {
		return conflictOr(err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	// No row: a is unknown, or the write removes an active admin.
	return conflictOr(s.db.InTx(ctx, func(tx *sql.Tx) error {
		found, active, others, err := s.db.lockAdmins(ctx, tx, a.ID)
		switch {
		case err != nil:
			return err
		case !found:
			return fault.NotFound
		case active && !staysActive && others == 0:
			return identity.ErrLastAdmin
		}
		res, err := tx.ExecContext(ctx, updateAccountSQL, args...)
		if err != nil {
			return err
		}
		return expectOne(res)
	}))
}
