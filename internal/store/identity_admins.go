package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

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

// The privileged columns of an account (is_admin, disabled_at,
// password_hash) are written only by SetAdmin, SetDisabled and
// SetPasswordHash, each of which sets just its column; UpdateProfile never
// writes them. So a profile edit made from a read taken before an admin
// demoted or disabled the account, or before its password changed, cannot
// write the old value back (a lost update that would undo the demotion).

// UpdateProfile stores the profile columns of a that f names (username,
// display name, email, avatar URL) and updated_at, and no other: not the
// profile columns f does not name (a's copy of them may be older than the
// row's, and writing it back undid a concurrent edit: an avatar change
// undoing a rename), and never is_admin, disabled_at or password_hash,
// whatever a holds.
func (s *Identity) UpdateProfile(ctx context.Context, a *identity.Account, f identity.ProfileFields) error {
	set := setAfter(a.ID)
	set.add("updated_at", Micros(a.UpdatedAt))
	if f&identity.ProfileUsername != 0 {
		set.add("username", a.Username)
		set.add("username_key", strings.ToLower(a.Username))
	}
	if f&identity.ProfileDisplayName != 0 {
		set.add("display_name", a.DisplayName)
		set.add("display_name_key", identity.NameKey(a.DisplayName))
	}
	if f&identity.ProfileEmail != 0 {
		set.add("email", nullString(lowerPtr(a.Email)))
		set.add("email_typed", nullString(a.Email))
	}
	if f&identity.ProfileAvatar != 0 {
		set.add("avatar_url", a.AvatarURL)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE accounts SET `+set.clause()+` WHERE id=$1`, set.args...)
	if err != nil {
		return conflictOr(err)
	}
	return expectOne(res)
}

// SetPasswordHash replaces the account's password hash ("": none) and
// nothing else but updated_at; fault.NotFound for an unknown account.
func (s *Identity) SetPasswordHash(ctx context.Context, id, hash string, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE accounts SET password_hash=$2, updated_at=$3 WHERE id=$1`, id, hash, Micros(now))
	if err != nil {
		return err
	}
	return expectOne(res)
}

// SetAdmin sets the account's admin role and nothing else but updated_at.
// Demoting the last active admin is refused with identity.ErrLastAdmin.
func (s *Identity) SetAdmin(ctx context.Context, id string, admin bool, now time.Time) error {
	return s.setPrivileged(ctx, id, `is_admin=$2`, admin, now, !admin)
}

// SetDisabled sets (at) or clears (nil) the account's disabled time and
// nothing else but updated_at. Disabling the last active admin is refused
// with identity.ErrLastAdmin.
func (s *Identity) SetDisabled(ctx context.Context, id string, at *time.Time, now time.Time) error {
	return s.setPrivileged(ctx, id, `disabled_at=$2`, NullMicros(at), now, at != nil)
}

// setPrivileged runs UPDATE accounts SET <set>, updated_at=$3 WHERE id=$1
// with value as $2. A write that cannot remove an active admin (removes
// false), or that changes an account which is not one, is one statement
// (its condition is checked again on the row's latest version, so it never
// removes an admin promoted or re-enabled meanwhile); one that demotes or
// disables an active admin runs under lockAdmins and is refused with
// identity.ErrLastAdmin when no other active admin remains.
func (s *Identity) setPrivileged(ctx context.Context, id, set string, value any, now time.Time, removes bool) error {
	q := `UPDATE accounts SET ` + set + `, updated_at=$3 WHERE id=$1`
	args := []any{id, value, Micros(now)}
	res, err := s.db.ExecContext(ctx, q+` AND ($4 OR NOT `+activeAdmin+`)`, append(args, !removes)...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	// No row: id is unknown, or the write removes an active admin.
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		found, active, others, err := s.db.lockAdmins(ctx, tx, id)
		switch {
		case err != nil:
			return err
		case !found:
			return fault.NotFound
		case active && others == 0:
			return identity.ErrLastAdmin
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		return expectOne(res)
	})
}
