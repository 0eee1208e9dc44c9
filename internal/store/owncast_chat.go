package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// StageChat implements stagechat.Store.
type StageChat struct {
	db *DB
	*Identity
}

// StageChat returns the stage chat store.
func (db *DB) StageChat() *StageChat { return &StageChat{db: db, Identity: db.Identity()} }

var _ stagechat.Store = (*StageChat)(nil)

const chatUserCols = `u.account_id, u.display_name, u.display_color, u.previous_names, u.name_changed_at, u.scopes,
	u.authenticated_at, u.created_at, a.disabled_at, a.kind`

const chatUserFrom = ` FROM owncast_chat_users u JOIN accounts a ON a.id = u.account_id `

func scanChatUser(row interface{ Scan(...any) error }) (*stagechat.User, error) {
	var u stagechat.User
	var prev, scopes, kind string
	var changed, authed, disabled sql.NullInt64
	var created int64
	if err := row.Scan(&u.ID, &u.DisplayName, &u.DisplayColor, &prev, &changed, &scopes, &authed, &created, &disabled, &kind); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fault.NotFound
		}
		return nil, err
	}
	u.PreviousNames = []string{}
	if prev != "" {
		_ = json.Unmarshal([]byte(prev), &u.PreviousNames)
	}
	if scopes != "" {
		u.Scopes = strings.Split(scopes, ",")
	}
	u.NameChangedAt, u.AuthenticatedAt, u.DisabledAt = TimePtr(changed), TimePtr(authed), TimePtr(disabled)
	u.CreatedAt = FromMicros(created)
	u.IsBot = kind == "bot" || kind == "integration"
	return &u, nil
}

// SaveUser inserts or updates a chat profile.
func (s *StageChat) SaveUser(ctx context.Context, u *stagechat.User) error {
	return conflictOr(saveChatUser(ctx, s.db, u))
}

// ClaimName saves u unless another chat user has its name's
// identity.NameKey (stagechat.ErrNameTaken): the look and the write share a transaction,
// which holds the name on PostgreSQL (an advisory lock on it; SQLite's
// write transactions run one at a time), so of the users taking one name
// at once only one gets it.
func (s *StageChat) ClaimName(ctx context.Context, u *stagechat.User) error {
	key := identity.NameKey(u.DisplayName)
	return conflictOr(s.db.InTx(ctx, func(tx *sql.Tx) error {
		if s.db.Engine == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('chatname:' || $1))`, key); err != nil {
				return err
			}
		}
		var taken bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM owncast_chat_users WHERE name_key=$1 AND account_id<>$2)`,
			key, u.ID).Scan(&taken); err != nil {
			return err
		}
		if taken {
			return stagechat.ErrNameTaken
		}
		return saveChatUser(ctx, tx, u)
	}))
}

func saveChatUser(ctx context.Context, e execer, u *stagechat.User) error {
	prev, _ := json.Marshal(u.PreviousNames)
	if u.PreviousNames == nil {
		prev = []byte("[]")
	}
	_, err := e.ExecContext(ctx, `INSERT INTO owncast_chat_users (account_id, display_name, name_key, display_color,
		previous_names, name_changed_at, scopes, authenticated_at, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
		ON CONFLICT (account_id) DO UPDATE SET display_name=excluded.display_name, name_key=excluded.name_key,
		display_color=excluded.display_color, previous_names=excluded.previous_names,
		name_changed_at=excluded.name_changed_at, scopes=excluded.scopes, authenticated_at=excluded.authenticated_at`,
		u.ID, u.DisplayName, identity.NameKey(u.DisplayName), u.DisplayColor, string(prev), NullMicros(u.NameChangedAt),
		strings.Join(u.Scopes, ","), NullMicros(u.AuthenticatedAt), Micros(u.CreatedAt))
	return err
}

// User returns a chat user by account id.
func (s *StageChat) User(ctx context.Context, id string) (*stagechat.User, error) {
	return scanChatUser(s.db.QueryRowContext(ctx, `SELECT `+chatUserCols+chatUserFrom+`WHERE u.account_id=$1`, id))
}

// UserByName finds a chat user by display name (by identity.NameKey).
func (s *StageChat) UserByName(ctx context.Context, name string) (*stagechat.User, error) {
	return scanChatUser(s.db.QueryRowContext(ctx, `SELECT `+chatUserCols+chatUserFrom+`WHERE u.name_key=$1 LIMIT 1`,
		identity.NameKey(name)))
}

// Users lists moderators or disabled users.
func (s *StageChat) Users(ctx context.Context, f stagechat.UserFilter) ([]*stagechat.User, error) {
	var where string
	switch f {
	case stagechat.Moderators:
		where = `WHERE (',' || u.scopes || ',') LIKE '%,MODERATOR,%'`
	case stagechat.DisabledUsers:
		where = `WHERE a.disabled_at IS NOT NULL`
	default:
		return nil, fault.New(fault.Invalid, "unknown user filter")
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+chatUserCols+chatUserFrom+where+` ORDER BY u.created_at LIMIT 1000`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*stagechat.User{}
	for rows.Next() {
		u, err := scanChatUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// ListUsers returns one page of the chat users q selects, and the total.
func (s *StageChat) ListUsers(ctx context.Context, q stagechat.UserQuery) ([]*stagechat.User, int, error) {
	var conds []string
	var args []any
	if q.Search != "" {
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(identity.NameKey(q.Search))
		args = append(args, "%"+esc+"%")
		conds = append(conds, fmt.Sprintf(`u.name_key LIKE $%d ESCAPE '\'`, len(args)))
	}
	switch q.Status {
	case stagechat.UserStatusActive:
		conds = append(conds, `a.disabled_at IS NULL`)
	case stagechat.UserStatusBots:
		conds = append(conds, `a.kind IN ('bot','integration')`)
	case stagechat.UserStatusAuthenticated:
		conds = append(conds, `u.authenticated_at IS NOT NULL`)
	case stagechat.UserStatusModerators:
		// A parameter, not a literal: the query is built with Sprintf.
		args = append(args, "%,MODERATOR,%")
		conds = append(conds, fmt.Sprintf(`(',' || u.scopes || ',') LIKE $%d`, len(args)))
	case stagechat.UserStatusBanned:
		conds = append(conds, `a.disabled_at IS NOT NULL`)
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*)`+chatUserFrom+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	order := "DESC"
	if q.Oldest {
		order = "ASC"
	}
	args = append(args, q.Limit, q.Offset)
	rows, err := s.db.QueryContext(ctx, fmt.Sprintf(`SELECT `+chatUserCols+chatUserFrom+where+
		` ORDER BY u.created_at %s, u.account_id %s LIMIT $%d OFFSET $%d`, order, order, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []*stagechat.User{}
	for rows.Next() {
		u, err := scanChatUser(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, u)
	}
	return out, total, rows.Err()
}

// CreateChatToken stores a chat token's hash; sessionID is the session it
// was taken with ("" for none: a guest's).
func (s *StageChat) CreateChatToken(ctx context.Context, hash, accountID, sessionID string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO owncast_chat_tokens (token_hash, account_id, session_id, created_at) VALUES ($1,$2,$3,$4)`,
		hash, accountID, sql.NullString{String: sessionID, Valid: sessionID != ""}, Micros(at))
	return conflictOr(err)
}

// ChatTokenAccount resolves a chat token hash to its account.
func (s *StageChat) ChatTokenAccount(ctx context.Context, hash string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT account_id FROM owncast_chat_tokens WHERE token_hash=$1`, hash).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fault.NotFound
	}
	return id, err
}

// ChatAdmit is the chat socket's connect check in one query instead of
// three (IPBanned, ChatTokenAccount, User): whether ip is banned, and the
// chat user of the token whose hash is given. account is the token's
// account ("" for no such token) and session the session it was taken with
// ("" for none); u is nil when the token has no chat user.
func (s *StageChat) ChatAdmit(ctx context.Context, hash, ip string) (banned bool, account, session string, u *stagechat.User, err error) {
	var tokAccount, tokSession sql.NullString
	var hasUser bool
	row := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM owncast_ip_bans WHERE net=$3 OR ip=$2), t.account_id, t.session_id,
		u.account_id IS NOT NULL AND a.id IS NOT NULL,
		COALESCE(u.account_id, ''), COALESCE(u.display_name, ''), COALESCE(u.display_color, 0),
		COALESCE(u.previous_names, ''), u.name_changed_at, COALESCE(u.scopes, ''), u.authenticated_at,
		COALESCE(u.created_at, 0), a.disabled_at, COALESCE(a.kind, '')
		FROM (SELECT 1 AS one) one
		LEFT JOIN owncast_chat_tokens t ON t.token_hash=$1
		LEFT JOIN owncast_chat_users u ON u.account_id = t.account_id
		LEFT JOIN accounts a ON a.id = u.account_id`, hash, ip, stagechat.BanNet(ip))
	cu, err := scanChatUser(prefixScanner{row: row, pre: []any{&banned, &tokAccount, &tokSession, &hasUser}})
	if err != nil {
		return false, "", "", nil, err
	}
	if !hasUser {
		cu = nil
	}
	return banned, tokAccount.String, tokSession.String, cu, nil
}

// prefixScanner scans a row's leading columns into pre and the rest into
// the caller's destinations (to reuse scanChatUser behind other columns).
type prefixScanner struct {
	row interface{ Scan(...any) error }
	pre []any
}

func (p prefixScanner) Scan(dest ...any) error {
	return p.row.Scan(append(p.pre[:len(p.pre):len(p.pre)], dest...)...)
}

// AddIPBan bans an address, and so its net (idempotent).
func (s *StageChat) AddIPBan(ctx context.Context, b stagechat.IPBan) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO owncast_ip_bans (ip, notes, created_at, net) VALUES ($1,$2,$3,$4)
		ON CONFLICT (ip) DO NOTHING`, b.IP, b.Notes, Micros(b.CreatedAt), stagechat.BanNet(b.IP))
	return err
}

// RemoveIPBan lifts a ban.
func (s *StageChat) RemoveIPBan(ctx context.Context, ip string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM owncast_ip_bans WHERE ip=$1`, ip)
	return err
}

// IPBans lists bans, oldest first.
func (s *StageChat) IPBans(ctx context.Context) ([]stagechat.IPBan, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT ip, notes, created_at FROM owncast_ip_bans ORDER BY created_at, ip`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []stagechat.IPBan{}
	for rows.Next() {
		var b stagechat.IPBan
		var at int64
		if err := rows.Scan(&b.IP, &b.Notes, &at); err != nil {
			return nil, err
		}
		b.CreatedAt = FromMicros(at)
		out = append(out, b)
	}
	return out, rows.Err()
}

// Counts reports how many chat users exist and how many messages of
// conversation are stored (deleted ones excluded; hidden ones counted, as
// Owncast counts every saved row).
func (s *StageChat) Counts(ctx context.Context, conversation string) (users, msgs int, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM owncast_chat_users),
		(SELECT COUNT(*) FROM messages WHERE conversation_id=$1 AND NOT deleted)`, conversation).Scan(&users, &msgs)
	return users, msgs, err
}

// IPBanned reports whether a ban covers ip: one of ip's net, or (a ban a
// node without net wrote) of ip itself.
func (s *StageChat) IPBanned(ctx context.Context, ip string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM owncast_ip_bans WHERE net=$2 OR ip=$1`, ip, stagechat.BanNet(ip)).Scan(&n)
	return n > 0, err
}
