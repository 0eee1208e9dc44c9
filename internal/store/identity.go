package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

// Identity implements identity.Store.
type Identity struct{ db *DB }

// Identity returns the identity store.
func (db *DB) Identity() *Identity { return &Identity{db: db} }

var _ identity.Store = (*Identity)(nil)

const accountCols = `id, kind, username, display_name, COALESCE(email_typed, email), password_hash, avatar_url, is_admin, disabled_at, created_by, created_at, updated_at`

func scanAccount(row interface{ Scan(...any) error }) (*identity.Account, error) {
	var a identity.Account
	var email, createdBy sql.NullString
	var disabled sql.NullInt64
	var created, updated int64
	if err := row.Scan(&a.ID, &a.Kind, &a.Username, &a.DisplayName, &email, &a.PasswordHash, &a.AvatarURL,
		&a.IsAdmin, &disabled, &createdBy, &created, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fault.NotFound
		}
		return nil, err
	}
	if email.Valid {
		a.Email = &email.String
	}
	if createdBy.Valid {
		a.CreatedBy = &createdBy.String
	}
	a.DisabledAt = TimePtr(disabled)
	a.CreatedAt, a.UpdatedAt = FromMicros(created), FromMicros(updated)
	return &a, nil
}

func nullString(p *string) sql.NullString {
	if p == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *p, Valid: true}
}

func conflictOr(err error) error {
	if IsUniqueViolation(err) {
		return fault.Wrap(fault.Conflict, "already exists", err)
	}
	return err
}

// CreateAccount inserts a. Its email is kept as typed (email_typed, what
// reads return) and lowercased (email, unique: lookups ignore case).
func (s *Identity) CreateAccount(ctx context.Context, a *identity.Account) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO accounts (id, kind, username, display_name, email, password_hash,
		avatar_url, is_admin, disabled_at, created_by, created_at, updated_at, username_key, email_typed, display_name_key)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)`,
		a.ID, a.Kind, a.Username, a.DisplayName, nullString(lowerPtr(a.Email)), a.PasswordHash, a.AvatarURL, a.IsAdmin,
		NullMicros(a.DisabledAt), nullString(a.CreatedBy), Micros(a.CreatedAt), Micros(a.UpdatedAt), strings.ToLower(a.Username),
		nullString(a.Email), identity.NameKey(a.DisplayName))
	return conflictOr(err)
}

func lowerPtr(p *string) *string {
	if p == nil {
		return nil
	}
	l := strings.ToLower(*p)
	return &l
}

// setList builds the SET clause of an UPDATE that writes only the columns
// an edit names: each column is bound to the placeholder after the
// arguments already given (the WHERE clause's, first).
type setList struct {
	cols []string
	args []any
}

func setAfter(where ...any) *setList { return &setList{args: where} }

func (l *setList) add(col string, v any) {
	l.args = append(l.args, v)
	l.cols = append(l.cols, col+"=$"+strconv.Itoa(len(l.args)))
}

func (l *setList) clause() string { return strings.Join(l.cols, ", ") }

func expectOne(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fault.NotFound
	}
	return nil
}

// AccountByID looks an account up by id.
func (s *Identity) AccountByID(ctx context.Context, id string) (*identity.Account, error) {
	return scanAccount(s.db.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id=$1`, id))
}

// AccountByUsername looks an account up by username, ignoring case.
func (s *Identity) AccountByUsername(ctx context.Context, username string) (*identity.Account, error) {
	return scanAccount(s.db.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE username_key=$1`, strings.ToLower(username)))
}

// AccountByName finds a non-guest account whose username or display name
// has name's identity.NameKey (names of accounts are held on every
// surface). A username is ASCII, so its key is its lower case.
func (s *Identity) AccountByName(ctx context.Context, name string) (*identity.Account, error) {
	key := identity.NameKey(name)
	if key == "" {
		return nil, fault.NotFound
	}
	return scanAccount(s.db.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts
		WHERE kind <> 'guest' AND (username_key=$1 OR display_name_key=$1) ORDER BY created_at, id LIMIT 1`, key))
}

// AccountByEmail looks an account up by email, ignoring case.
func (s *Identity) AccountByEmail(ctx context.Context, email string) (*identity.Account, error) {
	return scanAccount(s.db.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE email=$1`, strings.ToLower(email)))
}

// ListAccounts lists accounts of a kind ("" for all), oldest first.
func (s *Identity) ListAccounts(ctx context.Context, kind identity.Kind, limit, offset int) ([]*identity.Account, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE ($1 = '' OR kind = $1)
		ORDER BY created_at, id LIMIT $2 OFFSET $3`, string(kind), limit, offset)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*identity.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// CountAccounts counts accounts of a kind ("" for all).
func (s *Identity) CountAccounts(ctx context.Context, kind identity.Kind) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE ($1 = '' OR kind = $1)`, string(kind)).Scan(&n)
	return n, err
}

// AnyAdmin reports whether an admin account exists.
func (s *Identity) AnyAdmin(ctx context.Context) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE is_admin`).Scan(&n)
	return n > 0, err
}

// Admins lists every instance admin account, oldest first.
func (s *Identity) Admins(ctx context.Context) ([]*identity.Account, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE is_admin ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*identity.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

const sessionCols = `id, account_id, refresh_hash, user_agent, created_at, last_used_at, expires_at, revoked_at`

// CreateSession inserts a session and deletes the account's sessions
// beyond its newest keep (live, expired or revoked alike; the oldest live
// ones are signed out), in one transaction.
func (s *Identity) CreateSession(ctx context.Context, x *identity.Session, keep int) error {
	return conflictOr(s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.db.lockRow(ctx, tx, "accounts", x.AccountID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
			x.ID, x.AccountID, x.RefreshHash, x.UserAgent, Micros(x.CreatedAt), Micros(x.LastUsedAt), Micros(x.ExpiresAt), NullMicros(x.RevokedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE account_id=$1 AND id NOT IN
			(SELECT id FROM sessions WHERE account_id=$1 ORDER BY created_at DESC, id DESC LIMIT $2)`, x.AccountID, keep)
		return err
	}))
}

// SessionByID looks a session up.
func (s *Identity) SessionByID(ctx context.Context, id string) (*identity.Session, error) {
	var x identity.Session
	var c, l, e int64
	var r sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id=$1`, id).
		Scan(&x.ID, &x.AccountID, &x.RefreshHash, &x.UserAgent, &c, &l, &e, &r)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fault.NotFound
	}
	if err != nil {
		return nil, err
	}
	x.CreatedAt, x.LastUsedAt, x.ExpiresAt, x.RevokedAt = FromMicros(c), FromMicros(l), FromMicros(e), TimePtr(r)
	return &x, nil
}

// accountColsA is accountCols for the accounts table named a in a join.
const accountColsA = `a.id, a.kind, a.username, a.display_name, COALESCE(a.email_typed, a.email), a.password_hash, a.avatar_url, a.is_admin, a.disabled_at, a.created_by, a.created_at, a.updated_at`

// SessionAccount looks a session and the account it belongs to up in one
// query, as every request signed with an access token needs both;
// fault.NotFound when either is missing.
func (s *Identity) SessionAccount(ctx context.Context, id string) (*identity.Account, *identity.Session, error) {
	var x identity.Session
	var c, l, e int64
	var r sql.NullInt64
	row := s.db.QueryRowContext(ctx, `SELECT `+accountColsA+`, s.id, s.account_id, s.refresh_hash, s.user_agent, s.created_at, s.last_used_at, s.expires_at, s.revoked_at
		FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.id=$1`, id)
	a, err := scanAccount(joinedRow{row, []any{&x.ID, &x.AccountID, &x.RefreshHash, &x.UserAgent, &c, &l, &e, &r}})
	if err != nil {
		return nil, nil, err
	}
	x.CreatedAt, x.LastUsedAt, x.ExpiresAt, x.RevokedAt = FromMicros(c), FromMicros(l), FromMicros(e), TimePtr(r)
	return a, &x, nil
}

// joinedRow scans a row whose first columns are one scanner's (scanAccount)
// and the rest into more.
type joinedRow struct {
	row  *sql.Row
	more []any
}

func (j joinedRow) Scan(dest ...any) error { return j.row.Scan(append(dest, j.more...)...) }

// RotateSession compare-and-sets the refresh hash and records the rotation.
func (s *Identity) RotateSession(ctx context.Context, id, oldHash, newHash string, now, expires time.Time, r identity.Rotation) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE sessions SET refresh_hash=$3, last_used_at=$4, expires_at=$5,
		rotated_from=$6, rotated_pair=$7, rotated_client=$8, rotated_until=$9
		WHERE id=$1 AND refresh_hash=$2 AND revoked_at IS NULL AND expires_at > $4`,
		id, oldHash, newHash, Micros(now), Micros(expires), r.From, r.Pair, r.Client, Micros(r.Until))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// LastRotation reads a live session's last rotation.
func (s *Identity) LastRotation(ctx context.Context, id string, now time.Time) (identity.Rotation, error) {
	var r identity.Rotation
	var from, pair, client sql.NullString
	var until sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT rotated_from, rotated_pair, rotated_client, rotated_until FROM sessions
		WHERE id=$1 AND revoked_at IS NULL AND expires_at > $2`, id, Micros(now)).Scan(&from, &pair, &client, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fault.New(fault.NotFound, "session not found")
	}
	if err != nil {
		return r, err
	}
	r.From, r.Pair, r.Client = from.String, pair.String, client.String
	if until.Valid {
		r.Until = FromMicros(until.Int64)
	}
	return r, nil
}

// BotsMadeBy lists the ids of the bot accounts creatorID made.
func (s *Identity) BotsMadeBy(ctx context.Context, creatorID string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM accounts WHERE created_by=$1 AND kind=$2 ORDER BY id`, creatorID, string(identity.Bot))
	return collect(rows, err, scanString)
}

// HasLiveToken reports whether accountID holds a token not revoked.
func (s *Identity) HasLiveToken(ctx context.Context, accountID string) (bool, error) {
	var ok bool
	err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM tokens WHERE account_id=$1 AND revoked_at IS NULL)`, accountID).Scan(&ok)
	return ok, err
}

// RevokeSession marks a session revoked.
// The Owncast chat tokens taken with the session go with it, and the
// OpenTogetherTube tokens its access token signed in act as their guests
// again (as after OTT's logout).
func (s *Identity) RevokeSession(ctx context.Context, id string, now time.Time) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at=$2 WHERE id=$1 AND revoked_at IS NULL`, id, Micros(now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM owncast_chat_tokens WHERE session_id=$1`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE ott_sessions SET account_id=guest_id, session_id=NULL WHERE session_id=$1`, id)
		return err
	})
}

// RevokeAccountSessions revokes every live session of an account, and signs
// out every OpenTogetherTube token signed in to it but the one whose hash
// is keepOTT: each acts as its own guest again (as after OTT's logout), so
// a token that was signed in before a password change does not outlive it.
func (s *Identity) RevokeAccountSessions(ctx context.Context, accountID string, now time.Time, keepOTT string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at=$2 WHERE account_id=$1 AND revoked_at IS NULL`,
			accountID, Micros(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE ott_sessions SET account_id=guest_id, session_id=NULL WHERE account_id=$1 AND guest_id<>$1 AND token_hash<>$2`,
			accountID, keepOTT)
		return err
	})
}

// SignOutChatTokens deletes every Owncast chat token that acts as the
// account: a browser that still holds one registers again (the web app
// does on the 401), one taken before a password change is dead.
func (s *Identity) SignOutChatTokens(ctx context.Context, accountID string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM owncast_chat_tokens WHERE account_id=$1`, accountID)
	return err
}

const tokenCols = `id, account_id, kind, name, token_hash, scopes, created_at, last_used_at, revoked_at`

func scanToken(row interface{ Scan(...any) error }) (*identity.Token, error) {
	var t identity.Token
	var scopes string
	var c int64
	var l, r sql.NullInt64
	if err := row.Scan(&t.ID, &t.AccountID, &t.Kind, &t.Name, &t.Hash, &scopes, &c, &l, &r); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fault.NotFound
		}
		return nil, err
	}
	if scopes != "" {
		t.Scopes = strings.Split(scopes, ",")
	}
	t.CreatedAt, t.LastUsedAt, t.RevokedAt = FromMicros(c), TimePtr(l), TimePtr(r)
	return &t, nil
}

// CreateToken inserts a token.
func (s *Identity) CreateToken(ctx context.Context, t *identity.Token) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO tokens (`+tokenCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
		t.ID, t.AccountID, t.Kind, t.Name, t.Hash, strings.Join(t.Scopes, ","), Micros(t.CreatedAt), NullMicros(t.LastUsedAt), NullMicros(t.RevokedAt))
	return conflictOr(err)
}

// TokenByHash looks a token up by the hash of its secret.
func (s *Identity) TokenByHash(ctx context.Context, hash string) (*identity.Token, error) {
	return scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE token_hash=$1`, hash))
}

// TokenByID looks a token up by id.
func (s *Identity) TokenByID(ctx context.Context, id string) (*identity.Token, error) {
	return scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE id=$1`, id))
}

// ListTokens lists tokens of a kind, newest first.
func (s *Identity) ListTokens(ctx context.Context, kind identity.TokenKind) ([]*identity.Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE kind=$1 ORDER BY created_at DESC, id`, string(kind))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*identity.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken marks a token revoked.
func (s *Identity) RevokeToken(ctx context.Context, id string, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE tokens SET revoked_at=COALESCE(revoked_at, $2) WHERE id=$1`, id, Micros(now))
	if err != nil {
		return err
	}
	return expectOne(res)
}

// TouchToken records a token's last use.
func (s *Identity) TouchToken(ctx context.Context, id string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE tokens SET last_used_at=$2 WHERE id=$1`, id, Micros(now))
	return err
}

// InstanceValue reads an instance-wide value.
func (s *Identity) InstanceValue(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM instance_kv WHERE key=$1`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fault.NotFound
	}
	return v, err
}

// SetInstanceValueOnce stores value unless key exists; returns the stored
// value. A key already stored is only read, so callers on a read path (the
// Together admin settings) take no write lock.
func (s *Identity) SetInstanceValueOnce(ctx context.Context, key, value string) (string, error) {
	if v, err := s.InstanceValue(ctx, key); !errors.Is(err, fault.NotFound) {
		return v, err
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO instance_kv (key, value) VALUES ($1,$2) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
		return "", err
	}
	return s.InstanceValue(ctx, key)
}

// SetInstanceValue stores value under key.
func (s *Identity) SetInstanceValue(ctx context.Context, key, value string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO instance_kv (key, value) VALUES ($1,$2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}
