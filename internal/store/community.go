package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
)

// Community implements community.Store.
type Community struct{ db *DB }

// Community returns the community store.
func (db *DB) Community() *Community { return &Community{db: db} }

var _ community.Store = (*Community)(nil)

type scanner interface{ Scan(...any) error }

func noRows(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fault.NotFound
	}
	return err
}

// communityCols ends with member_count, which triggers on community_members
// keep (migration 01700): reading a community costs the same at any size.
const communityCols = `c.id, c.name, c.owner_id, c.icon_url, c.is_public, c.require_invite, c.created_at, c.updated_at,
	c.member_count`

func scanCommunity(row scanner) (*community.Community, error) {
	var c community.Community
	var icon sql.NullString
	var created, updated int64
	if err := row.Scan(&c.ID, &c.Name, &c.OwnerID, &icon, &c.IsPublic, &c.RequireInvite, &created, &updated, &c.MemberCount); err != nil {
		return nil, noRows(err)
	}
	c.IconURL = strPtr(icon)
	c.CreatedAt, c.UpdatedAt = FromMicros(created), FromMicros(updated)
	return &c, nil
}

func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// eachRow is collect for rows that fn files away itself.
func eachRow(rows *sql.Rows, err error, fn func(scanner) error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// scanString scans a row of one text column (an id).
func scanString(r scanner) (string, error) {
	var v string
	return v, r.Scan(&v)
}

// CreateCommunity inserts c, its owner as first member, and channels;
// ErrTooManyServers when the owner is already in maxJoined.
func (s *Community) CreateCommunity(ctx context.Context, c *community.Community, channels []*community.Channel, maxJoined int) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.roomToJoin(ctx, tx, c.OwnerID, maxJoined); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO communities (id, name, owner_id, icon_url, is_public, require_invite, created_at, updated_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`, c.ID, c.Name, c.OwnerID, nullString(c.IconURL), c.IsPublic, c.RequireInvite,
			Micros(c.CreatedAt), Micros(c.UpdatedAt)); err != nil {
			return conflictOr(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO community_members (community_id, account_id, joined_at) VALUES ($1,$2,$3)`,
			c.ID, c.OwnerID, Micros(c.CreatedAt)); err != nil {
			return err
		}
		for _, ch := range channels {
			if err := insertChannel(ctx, tx, ch); err != nil {
				return err
			}
		}
		return nil
	})
}

// UpdateCommunity writes c's columns named by f and its updated_at, and no
// other: a whole-row write from the caller's read undid a change of
// is_public or require_invite made after that read.
func (s *Community) UpdateCommunity(ctx context.Context, c *community.Community, f community.CommunityFields) error {
	set := setAfter(c.ID)
	set.add("updated_at", Micros(c.UpdatedAt))
	if f&community.CommunityName != 0 {
		set.add("name", c.Name)
	}
	if f&community.CommunityIcon != 0 {
		set.add("icon_url", nullString(c.IconURL))
	}
	if f&community.CommunityPublic != 0 {
		set.add("is_public", c.IsPublic)
	}
	if f&community.CommunityRequireInvite != 0 {
		set.add("require_invite", c.RequireInvite)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE communities SET `+set.clause()+` WHERE id=$1`, set.args...)
	if err != nil {
		return err
	}
	return expectOne(res)
}

// DeleteCommunity removes a community and everything hanging off it.
func (s *Community) DeleteCommunity(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM communities WHERE id=$1`, id)
	if err != nil {
		return err
	}
	return expectOne(res)
}

// Community returns one community.
func (s *Community) Community(ctx context.Context, id string) (*community.Community, error) {
	return scanCommunity(s.db.QueryRowContext(ctx, `SELECT `+communityCols+` FROM communities c WHERE c.id=$1`, id))
}

// MemberStanding reads a community, whether accountID is a member, the
// end of its timeout, and the community's roles marked with those
// accountID holds: two queries.
func (s *Community) MemberStanding(ctx context.Context, communityID, accountID string) (*community.Standing, error) {
	var st community.Standing
	var until sql.NullInt64
	c, err := scanCommunity(scanFunc(func(d ...any) error {
		return s.db.QueryRowContext(ctx, `SELECT `+communityCols+`,
			EXISTS (SELECT 1 FROM community_members m WHERE m.community_id = c.id AND m.account_id = $2),
			(SELECT t.until FROM member_timeouts t WHERE t.community_id = c.id AND t.account_id = $2)
			FROM communities c WHERE c.id = $1`, communityID, accountID).Scan(append(d, &st.Member, &until)...)
	}))
	if err != nil {
		return nil, err
	}
	st.Community, st.TimeoutUntil = c, TimePtr(until)
	st.Roles, st.RoleIDs, err = s.HeldRoles(ctx, c.ID, accountID)
	return &st, err
}

// ChannelStanding reads a channel, its community, whether accountID is a
// member, the end of its timeout and the channel's overrides in one query
// (a row per override), then the community's roles marked with those
// accountID holds.
func (s *Community) ChannelStanding(ctx context.Context, channelID, accountID string) (*community.Standing, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+qualify("ch.", channelCols)+`, `+communityCols+`,
		EXISTS (SELECT 1 FROM community_members m WHERE m.community_id = c.id AND m.account_id = $2),
		(SELECT t.until FROM member_timeouts t WHERE t.community_id = c.id AND t.account_id = $2),
		o.id, o.role_id, o.account_id, o.allow_bits, o.deny_bits
		FROM channels ch JOIN communities c ON c.id = ch.community_id
		LEFT JOIN channel_overrides o ON o.channel_id = ch.id
		WHERE ch.id = $1 ORDER BY o.id`, channelID, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	st := community.Standing{Overrides: []*community.Override{}}
	for rows.Next() {
		var oid, role, acct sql.NullString
		var allow, deny, until sql.NullInt64
		ch, c, err := scanJoined(rows, scanChannel, scanCommunity, &st.Member, &until, &oid, &role, &acct, &allow, &deny)
		if err != nil {
			return nil, err
		}
		st.Channel, st.Community, st.TimeoutUntil = ch, c, TimePtr(until)
		if oid.Valid {
			st.Overrides = append(st.Overrides, &community.Override{ID: oid.String, ChannelID: ch.ID, RoleID: strPtr(role),
				AccountID: strPtr(acct), Allow: allow.Int64, Deny: deny.Int64})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if st.Channel == nil {
		return nil, fault.NotFound
	}
	st.Roles, st.RoleIDs, err = s.HeldRoles(ctx, st.Community.ID, accountID)
	return &st, err
}

// HeldRoles lists a community's roles (as Roles does) and the ids of those
// accountID holds, in one query.
func (s *Community) HeldRoles(ctx context.Context, communityID, accountID string) (roles []*community.Role, held []string, err error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+qualify("r.", roleCols)+`,
		EXISTS (SELECT 1 FROM member_roles mr WHERE mr.community_id = r.community_id AND mr.account_id = $2 AND mr.role_id = r.id)
		FROM roles r WHERE r.community_id = $1 ORDER BY r.position DESC, r.created_at`, communityID, accountID)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	roles, held = []*community.Role{}, []string{}
	for rows.Next() {
		var holds bool
		r, err := scanRole(scanFunc(func(d ...any) error { return rows.Scan(append(d, &holds)...) }))
		if err != nil {
			return nil, nil, err
		}
		roles = append(roles, r)
		if holds {
			held = append(held, r.ID)
		}
	}
	return roles, held, rows.Err()
}

// scanFunc is a scanner made of a function: it lets a scan function
// (scanRole, scanCommunity) read its columns from a row that has more.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// scanJoined scans one row whose columns are a's, then b's, then more,
// with a's and b's own scan functions (each finishes its value once the
// row is scanned).
func scanJoined[A, B any](row scanner, a func(scanner) (A, error), b func(scanner) (B, error), more ...any) (A, B, error) {
	var bv B
	av, err := a(scanFunc(func(da ...any) error {
		var err error
		bv, err = b(scanFunc(func(db ...any) error {
			return row.Scan(slices.Concat(da, db, more)...)
		}))
		return err
	}))
	return av, bv, err
}

// CommunitiesOf lists the communities accountID belongs to.
func (s *Community) CommunitiesOf(ctx context.Context, accountID string) ([]*community.Community, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+communityCols+` FROM communities c
		JOIN community_members cm ON cm.community_id = c.id WHERE cm.account_id=$1 ORDER BY cm.joined_at, c.id`, accountID)
	return collect(rows, err, scanCommunity)
}

// CommunityListingsOf lists the communities accountID belongs to, in
// CommunitiesOf's order, each with its roles (as HeldRoles: highest
// position first, those accountID holds marked), its channels (as
// Channels) and every override of them (as OverridesOfCommunity). Four
// queries whatever the count (READY read three to six per community): the
// communities, then the roles, channels and overrides of all of them,
// picked by accountID's memberships (ofMemberships), so every text is fixed
// (no IN list of ids). The queries run apart, not in one transaction
// (SQLite's take the write lock): a community joined between them is left
// out, one left between them comes with what was read.
func (s *Community) CommunityListingsOf(ctx context.Context, accountID string) ([]*community.CommunityListing, error) {
	cs, err := s.CommunitiesOf(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := make([]*community.CommunityListing, len(cs))
	byID := make(map[string]*community.CommunityListing, len(cs))
	for i, c := range cs {
		out[i] = &community.CommunityListing{Community: c, Roles: []*community.Role{}, RoleIDs: []string{},
			Channels: []*community.Channel{}, Overrides: []*community.Override{}}
		byID[c.ID] = out[i]
	}
	if len(cs) == 0 {
		return out, nil
	}

	rows, err := s.db.QueryContext(ctx, `SELECT `+qualify("r.", roleCols)+`,
		EXISTS (SELECT 1 FROM member_roles mr WHERE mr.community_id = r.community_id AND mr.account_id = $1 AND mr.role_id = r.id)
		FROM roles r WHERE `+s.ofMemberships("r.community_id")+`
		ORDER BY r.community_id, r.position DESC, r.created_at, r.id`, accountID)
	if err := eachRow(rows, err, func(r scanner) error {
		var holds bool
		ro, err := scanRole(scanFunc(func(d ...any) error { return r.Scan(append(d, &holds)...) }))
		if err != nil {
			return err
		}
		if l := byID[ro.CommunityID]; l != nil {
			l.Roles = append(l.Roles, ro)
			if holds {
				l.RoleIDs = append(l.RoleIDs, ro.ID)
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}

	rows, err = s.db.QueryContext(ctx, `SELECT `+qualify("ch.", channelCols)+`
		FROM channels ch WHERE `+s.ofMemberships("ch.community_id")+`
		ORDER BY ch.community_id, ch.position, ch.created_at, ch.id`, accountID)
	chans, err := collect(rows, err, scanChannel)
	if err != nil {
		return nil, err
	}
	for _, ch := range chans {
		if l := byID[ch.CommunityID]; l != nil {
			l.Channels = append(l.Channels, ch)
		}
	}

	rows, err = s.db.QueryContext(ctx, `SELECT `+qualify("o.", overrideCols)+`, ch.community_id
		FROM channels ch JOIN channel_overrides o ON o.channel_id = ch.id
		WHERE `+s.ofMemberships("ch.community_id")+` ORDER BY o.id`, accountID)
	err = eachRow(rows, err, func(r scanner) error {
		var cid string
		o, err := scanOverride(scanFunc(func(d ...any) error { return r.Scan(append(d, &cid)...) }))
		if err != nil {
			return err
		}
		if l := byID[cid]; l != nil {
			l.Overrides = append(l.Overrides, o)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ofMemberships is the condition that col names a community of the
// account $1, one fixed text per engine that looks the rows up by
// col's index: SQLite runs IN (subquery) as a list of the account's
// communities searched one by one in the index; PostgreSQL plans IN as a
// join, which for an account in 200 communities it runs as a hash join
// over a scan of the whole table (20 ms in a table of 100,000 channels,
// against 0.7 ms by the index), so there it reads the list first
// (ARRAY(subquery), an InitPlan) and the index with = ANY.
func (s *Community) ofMemberships(col string) string {
	memberships := `SELECT cm.community_id FROM community_members cm WHERE cm.account_id = $1`
	if s.db.Engine == Postgres {
		return col + ` = ANY(ARRAY(` + memberships + `))`
	}
	return col + ` IN (` + memberships + `)`
}

// PublicCommunities lists public communities, largest first.
func (s *Community) PublicCommunities(ctx context.Context) ([]*community.Community, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+communityCols+` FROM communities c WHERE c.is_public
		ORDER BY 9 DESC, c.created_at LIMIT 200`)
	return collect(rows, err, scanCommunity)
}

// AllCommunities pages through every community (instance admin).
func (s *Community) AllCommunities(ctx context.Context, limit, offset int) ([]*community.Community, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+communityCols+` FROM communities c ORDER BY c.created_at, c.id LIMIT $1 OFFSET $2`, limit, offset)
	return collect(rows, err, scanCommunity)
}

// CountCommunities counts communities.
func (s *Community) CountCommunities(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM communities`).Scan(&n)
	return n, err
}

// AddMember adds a member; Conflict when already one, ErrTooManyServers
// when the account is already in maxJoined, ErrBanned when it is banned
// (looked at under the account's row, which Ban holds too). With an inviteID it spends one
// use of that invite in the same transaction, after the member is added
// (community.ErrInviteUsedUp when it has none left at at, and then no
// member is added), so a join refused for any reason spends none.
func (s *Community) AddMember(ctx context.Context, communityID, accountID string, at time.Time, maxJoined int, inviteID string) error {
	return conflictOr(s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.roomToJoin(ctx, tx, accountID, maxJoined); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO community_members (community_id, account_id, joined_at) SELECT $1,$2,$3
			WHERE NOT EXISTS (SELECT 1 FROM community_bans WHERE community_id=$1 AND account_id=$2)`,
			communityID, accountID, Micros(at))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, community.ErrBanned)
		}
		if inviteID == "" {
			return nil
		}
		res, err = tx.ExecContext(ctx, `UPDATE invites SET uses = uses + 1 WHERE id=$1
			AND (expires_at IS NULL OR expires_at > $2) AND (max_uses IS NULL OR uses < max_uses)`, inviteID, Micros(at))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, community.ErrInviteUsedUp)
		}
		return nil
	}))
}

// roomToJoin is ErrTooManyServers when accountID is in max communities,
// holding the account's row until tx ends (lockRow). Bots have no bound
// (as on Discord): one bot serves every server that adds it.
func (s *Community) roomToJoin(ctx context.Context, tx *sql.Tx, accountID string, max int) error {
	return s.db.underBound(ctx, tx, "accounts", accountID, `SELECT COUNT(*) FROM community_members WHERE account_id=$1
		AND NOT EXISTS (SELECT 1 FROM accounts WHERE id=$1 AND kind='bot')`, max, community.ErrTooManyServers)
}

// RemoveMember removes a member (and their roles, by cascade).
func (s *Community) RemoveMember(ctx context.Context, communityID, accountID string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM community_members WHERE community_id=$1 AND account_id=$2`, communityID, accountID)
	if err != nil {
		return err
	}
	return expectOne(res)
}

// IsMember reports membership.
func (s *Community) IsMember(ctx context.Context, communityID, accountID string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM community_members WHERE community_id=$1 AND account_id=$2`,
		communityID, accountID).Scan(&n)
	return n > 0, err
}

// Members lists members with account and profile fields and role ids.
func (s *Community) Members(ctx context.Context, communityID string) ([]*community.Member, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT cm.account_id, a.username, a.avatar_url, cm.nickname, cm.joined_at,
		COALESCE(p.status, 'offline'), p.custom_status, p.activity
		FROM community_members cm JOIN accounts a ON a.id = cm.account_id
		LEFT JOIN profiles p ON p.account_id = cm.account_id
		WHERE cm.community_id=$1 ORDER BY cm.joined_at, cm.account_id`, communityID)
	members, err := collect(rows, err, func(r scanner) (*community.Member, error) {
		m := &community.Member{CommunityID: communityID, RoleIDs: []string{}}
		var nick, custom, activity sql.NullString
		var joined int64
		if err := r.Scan(&m.AccountID, &m.Username, &m.AvatarURL, &nick, &joined, &m.Profile.Status, &custom, &activity); err != nil {
			return nil, err
		}
		m.Nickname, m.Profile.CustomStatus, m.Profile.Activity = strPtr(nick), strPtr(custom), strPtr(activity)
		m.Profile.AccountID = m.AccountID
		m.JoinedAt = FromMicros(joined)
		return m, nil
	})
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*community.Member, len(members))
	for _, m := range members {
		byID[m.AccountID] = m
	}
	rrows, err := s.db.QueryContext(ctx, `SELECT account_id, role_id FROM member_roles WHERE community_id=$1`, communityID)
	if err != nil {
		return nil, err
	}
	defer rrows.Close()
	for rrows.Next() {
		var acct, role string
		if err := rrows.Scan(&acct, &role); err != nil {
			return nil, err
		}
		if m := byID[acct]; m != nil {
			m.RoleIDs = append(m.RoleIDs, role)
		}
	}
	return members, rrows.Err()
}

// CoMembers lists every account sharing a community with accountID.
func (s *Community) CoMembers(ctx context.Context, accountID string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT b.account_id FROM community_members a
		JOIN community_members b ON b.community_id = a.community_id WHERE a.account_id=$1`, accountID)
	return collect(rows, err, scanString)
}

const channelCols = `id, community_id, name, kind, position, category, topic, created_at`

func scanChannel(row scanner) (*community.Channel, error) {
	var c community.Channel
	var cat, topic sql.NullString
	var created int64
	if err := row.Scan(&c.ID, &c.CommunityID, &c.Name, &c.Kind, &c.Position, &cat, &topic, &created); err != nil {
		return nil, noRows(err)
	}
	c.Category, c.Topic, c.CreatedAt = strPtr(cat), strPtr(topic), FromMicros(created)
	return &c, nil
}

type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

func insertChannel(ctx context.Context, e execer, ch *community.Channel) error {
	_, err := e.ExecContext(ctx, `INSERT INTO channels (`+channelCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		ch.ID, ch.CommunityID, ch.Name, ch.Kind, ch.Position, nullString(ch.Category), nullString(ch.Topic), Micros(ch.CreatedAt))
	return conflictOr(err)
}

// CreateChannel inserts a channel; ErrTooManyChannels when its community
// already has max.
func (s *Community) CreateChannel(ctx context.Context, ch *community.Channel, max int) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.db.underBound(ctx, tx, "communities", ch.CommunityID, `SELECT COUNT(*) FROM channels WHERE community_id=$1`, max,
			community.ErrTooManyChannels); err != nil {
			return err
		}
		return insertChannel(ctx, tx, ch)
	})
}

// UpdateChannel stores the mutable fields.
func (s *Community) UpdateChannel(ctx context.Context, ch *community.Channel) error {
	res, err := s.db.ExecContext(ctx, `UPDATE channels SET name=$2, position=$3, category=$4, topic=$5 WHERE id=$1`,
		ch.ID, ch.Name, ch.Position, nullString(ch.Category), nullString(ch.Topic))
	if err != nil {
		return err
	}
	return expectOne(res)
}

// DeleteChannel removes a channel.
func (s *Community) DeleteChannel(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM channels WHERE id=$1`, id)
	if err != nil {
		return err
	}
	return expectOne(res)
}

// Channel returns one channel.
func (s *Community) Channel(ctx context.Context, id string) (*community.Channel, error) {
	return scanChannel(s.db.QueryRowContext(ctx, `SELECT `+channelCols+` FROM channels WHERE id=$1`, id))
}

// Channels lists a community's channels by position.
func (s *Community) Channels(ctx context.Context, communityID string) ([]*community.Channel, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+channelCols+` FROM channels WHERE community_id=$1 ORDER BY position, created_at, id`, communityID)
	return collect(rows, err, scanChannel)
}

// MaxChannelPosition is the highest position in use (-1 when none).
func (s *Community) MaxChannelPosition(ctx context.Context, communityID string) (int, error) {
	var n sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(position) FROM channels WHERE community_id=$1`, communityID).Scan(&n)
	if !n.Valid {
		return -1, err
	}
	return int(n.Int64), err
}

const roleCols = `id, community_id, name, permissions, color, position, created_at`

func scanRole(row scanner) (*community.Role, error) {
	var r community.Role
	var color sql.NullString
	var created int64
	if err := row.Scan(&r.ID, &r.CommunityID, &r.Name, &r.Permissions, &color, &r.Position, &created); err != nil {
		return nil, noRows(err)
	}
	r.Color, r.CreatedAt = strPtr(color), FromMicros(created)
	return &r, nil
}

// CreateRole inserts a role; ErrTooManyRoles when its community already
// has max.
func (s *Community) CreateRole(ctx context.Context, r *community.Role, max int) error {
	return conflictOr(s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.db.underBound(ctx, tx, "communities", r.CommunityID, `SELECT COUNT(*) FROM roles WHERE community_id=$1`, max,
			community.ErrTooManyRoles); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO roles (`+roleCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
			r.ID, r.CommunityID, r.Name, r.Permissions, nullString(r.Color), r.Position, Micros(r.CreatedAt))
		return err
	}))
}

// UpdateRole writes r's columns named by f, and no other, if the stored
// role still has was's permissions and position (the values its edit was
// checked against), and returns the row as stored; ok false, nothing
// written, when they changed or the role is gone. A whole-row write from
// the caller's read put back a permission another manager had just
// removed.
func (s *Community) UpdateRole(ctx context.Context, was, r *community.Role, f community.RoleFields) (*community.Role, bool, error) {
	set := setAfter(r.ID, was.Permissions, was.Position)
	if f&community.RoleName != 0 {
		set.add("name", r.Name)
	}
	if f&community.RolePermissions != 0 {
		set.add("permissions", r.Permissions)
	}
	if f&community.RoleColor != 0 {
		set.add("color", nullString(r.Color))
	}
	if f&community.RolePosition != 0 {
		set.add("position", r.Position)
	}
	if len(set.cols) == 0 {
		// Nothing to write: the compare alone, so an empty edit still
		// answers the row as it is.
		set.cols = append(set.cols, "name=name")
	}
	got, err := scanRole(s.db.QueryRowContext(ctx, `UPDATE roles SET `+set.clause()+
		` WHERE id=$1 AND permissions=$2 AND position=$3 RETURNING `+roleCols, set.args...))
	if errors.Is(err, fault.NotFound) {
		return nil, false, nil
	}
	return got, err == nil, err
}

// DeleteRole removes a role (member grants and overrides cascade).
func (s *Community) DeleteRole(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM roles WHERE id=$1`, id)
	if err != nil {
		return err
	}
	return expectOne(res)
}

// Role returns one role.
func (s *Community) Role(ctx context.Context, id string) (*community.Role, error) {
	return scanRole(s.db.QueryRowContext(ctx, `SELECT `+roleCols+` FROM roles WHERE id=$1`, id))
}

// Roles lists a community's roles, highest position first.
func (s *Community) Roles(ctx context.Context, communityID string) ([]*community.Role, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+roleCols+` FROM roles WHERE community_id=$1 ORDER BY position DESC, created_at`, communityID)
	return collect(rows, err, scanRole)
}

// AddMemberRole grants a role; Conflict when already granted.
func (s *Community) AddMemberRole(ctx context.Context, communityID, accountID, roleID string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO member_roles (community_id, account_id, role_id) VALUES ($1,$2,$3)`,
		communityID, accountID, roleID)
	return conflictOr(err)
}

// RemoveMemberRole takes a role away; NotFound when not granted.
func (s *Community) RemoveMemberRole(ctx context.Context, communityID, accountID, roleID string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM member_roles WHERE community_id=$1 AND account_id=$2 AND role_id=$3`,
		communityID, accountID, roleID)
	if err != nil {
		return err
	}
	return expectOne(res)
}

const overrideCols = `id, channel_id, role_id, account_id, allow_bits, deny_bits`

func scanOverride(row scanner) (*community.Override, error) {
	var o community.Override
	var role, acct sql.NullString
	if err := row.Scan(&o.ID, &o.ChannelID, &role, &acct, &o.Allow, &o.Deny); err != nil {
		return nil, noRows(err)
	}
	o.RoleID, o.AccountID = strPtr(role), strPtr(acct)
	return &o, nil
}

// UpsertOverride creates or replaces the override for o's target and
// returns the stored row (keeping the existing id on replace). A new target
// on a channel that already has max overrides is ErrTooManyOverrides; the
// count and the insert hold the channel's row (underBound).
func (s *Community) UpsertOverride(ctx context.Context, o *community.Override, max int) (*community.Override, error) {
	target := "r:"
	if o.RoleID != nil {
		target += *o.RoleID
	} else {
		target = "u:" + *o.AccountID
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.db.underBound(ctx, tx, "channels", o.ChannelID, `SELECT COUNT(*) FROM channel_overrides
			WHERE channel_id=$1 AND NOT EXISTS (SELECT 1 FROM channel_overrides WHERE channel_id=$1 AND target=$2)`,
			max, community.ErrTooManyOverrides, target); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO channel_overrides (`+overrideCols+`, target) VALUES ($1,$2,$3,$4,$5,$6,$7)
		ON CONFLICT (channel_id, target) DO UPDATE SET allow_bits = excluded.allow_bits, deny_bits = excluded.deny_bits`,
			o.ID, o.ChannelID, nullString(o.RoleID), nullString(o.AccountID), o.Allow, o.Deny, target)
		return err
	})
	if err != nil {
		return nil, err
	}
	return scanOverride(s.db.QueryRowContext(ctx, `SELECT `+overrideCols+` FROM channel_overrides WHERE channel_id=$1 AND target=$2`,
		o.ChannelID, target))
}

// DeleteOverride removes an override of a channel.
func (s *Community) DeleteOverride(ctx context.Context, channelID, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM channel_overrides WHERE channel_id=$1 AND id=$2`, channelID, id)
	if err != nil {
		return err
	}
	return expectOne(res)
}

// Overrides lists a channel's overrides.
func (s *Community) Overrides(ctx context.Context, channelID string) ([]*community.Override, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+overrideCols+` FROM channel_overrides WHERE channel_id=$1 ORDER BY id`, channelID)
	return collect(rows, err, scanOverride)
}

// OverridesOfCommunity lists every override in a community's channels.
func (s *Community) OverridesOfCommunity(ctx context.Context, communityID string) ([]*community.Override, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT o.id, o.channel_id, o.role_id, o.account_id, o.allow_bits, o.deny_bits
		FROM channel_overrides o JOIN channels c ON c.id = o.channel_id WHERE c.community_id=$1 ORDER BY o.id`, communityID)
	return collect(rows, err, scanOverride)
}

const inviteCols = `id, community_id, code, created_by, max_uses, uses, expires_at, created_at`

func scanInvite(row scanner) (*community.Invite, error) {
	var inv community.Invite
	var maxUses, expires sql.NullInt64
	var created int64
	if err := row.Scan(&inv.ID, &inv.CommunityID, &inv.Code, &inv.CreatedBy, &maxUses, &inv.Uses, &expires, &created); err != nil {
		return nil, noRows(err)
	}
	if maxUses.Valid {
		n := int(maxUses.Int64)
		inv.MaxUses = &n
	}
	inv.ExpiresAt, inv.CreatedAt = TimePtr(expires), FromMicros(created)
	return &inv, nil
}

// deadInvite is the condition of an invite that no longer works at $2:
// expired, or its uses spent.
const deadInvite = `((expires_at IS NOT NULL AND expires_at <= $2) OR (max_uses IS NOT NULL AND uses >= max_uses))`

// CreateInvite inserts an invite; ErrTooManyInvites when its community
// has max that still work (not expired at inv.CreatedAt, uses left). In
// the same transaction it deletes the community's invites that no longer
// work beyond the newest keepDead.
func (s *Community) CreateInvite(ctx context.Context, inv *community.Invite, max, keepDead int) error {
	var maxUses sql.NullInt64
	if inv.MaxUses != nil {
		maxUses = sql.NullInt64{Int64: int64(*inv.MaxUses), Valid: true}
	}
	return conflictOr(s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.db.underBound(ctx, tx, "communities", inv.CommunityID, `SELECT COUNT(*) FROM invites WHERE community_id=$1
			AND (expires_at IS NULL OR expires_at > $2) AND (max_uses IS NULL OR uses < max_uses)`, max,
			community.ErrTooManyInvites, Micros(inv.CreatedAt)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO invites (`+inviteCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
			inv.ID, inv.CommunityID, inv.Code, inv.CreatedBy, maxUses, inv.Uses, NullMicros(inv.ExpiresAt), Micros(inv.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM invites WHERE community_id=$1 AND `+deadInvite+` AND id NOT IN
			(SELECT id FROM invites WHERE community_id=$1 AND `+deadInvite+` ORDER BY created_at DESC, id DESC LIMIT $3)`,
			inv.CommunityID, Micros(inv.CreatedAt), keepDead)
		return err
	}))
}

// InviteByCode looks an invite up by its code.
func (s *Community) InviteByCode(ctx context.Context, code string) (*community.Invite, error) {
	return scanInvite(s.db.QueryRowContext(ctx, `SELECT `+inviteCols+` FROM invites WHERE code=$1`, code))
}

// Invites lists a community's invites, newest first.
func (s *Community) Invites(ctx context.Context, communityID string) ([]*community.Invite, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+inviteCols+` FROM invites WHERE community_id=$1 ORDER BY created_at DESC`, communityID)
	return collect(rows, err, scanInvite)
}

// DeleteInvite removes an invite of a community.
func (s *Community) DeleteInvite(ctx context.Context, communityID, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM invites WHERE community_id=$1 AND id=$2`, communityID, id)
	if err != nil {
		return err
	}
	return expectOne(res)
}

// SpendInvite counts one use of an invite when it is unexpired at now and
// not used up, and reports whether it did: one conditional update, so uses
// spent side by side never pass max_uses.
func (s *Community) SpendInvite(ctx context.Context, id string, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE invites SET uses = uses + 1 WHERE id=$1
		AND (expires_at IS NULL OR expires_at > $2) AND (max_uses IS NULL OR uses < max_uses)`, id, Micros(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Ban records a ban (one already there is kept as it is) and removes the
// account's membership, in one transaction that holds the account's row on
// PostgreSQL: the row a join holds while it adds a member (AddMember), so
// a join racing the ban either lands before it, and is removed, or sees it
// and is refused. NotFound when the account does not exist.
func (s *Community) Ban(ctx context.Context, b *community.Ban) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.db.lockRow(ctx, tx, "accounts", b.AccountID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO community_bans (community_id, account_id, reason, banned_by, created_at)
			VALUES ($1,$2,$3,$4,$5) ON CONFLICT (community_id, account_id) DO NOTHING`,
			b.CommunityID, b.AccountID, nullString(b.Reason), b.BannedBy, Micros(b.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM community_members WHERE community_id=$1 AND account_id=$2`, b.CommunityID, b.AccountID)
		return err
	})
	if isForeignKeyViolation(err) {
		return fault.New(fault.NotFound, "User not found")
	}
	return err
}

// isForeignKeyViolation reports a reference to a missing row on either engine.
func isForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

// RemoveBan lifts a ban.
func (s *Community) RemoveBan(ctx context.Context, communityID, accountID string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM community_bans WHERE community_id=$1 AND account_id=$2`, communityID, accountID)
	if err != nil {
		return err
	}
	return expectOne(res)
}

// IsBanned reports whether accountID is banned.
func (s *Community) IsBanned(ctx context.Context, communityID, accountID string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM community_bans WHERE community_id=$1 AND account_id=$2`,
		communityID, accountID).Scan(&n)
	return n > 0, err
}

// Bans lists a community's bans, newest first.
func (s *Community) Bans(ctx context.Context, communityID string) ([]*community.Ban, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT b.community_id, b.account_id, a.username, b.reason, b.banned_by, b.created_at
		FROM community_bans b JOIN accounts a ON a.id = b.account_id WHERE b.community_id=$1 ORDER BY b.created_at DESC`, communityID)
	return collect(rows, err, func(r scanner) (*community.Ban, error) {
		var b community.Ban
		var reason sql.NullString
		var created int64
		if err := r.Scan(&b.CommunityID, &b.AccountID, &b.Username, &reason, &b.BannedBy, &created); err != nil {
			return nil, err
		}
		b.Reason, b.CreatedAt = strPtr(reason), FromMicros(created)
		return &b, nil
	})
}

// SetTimeout sets (until != nil) or clears a member's timeout.
func (s *Community) SetTimeout(ctx context.Context, communityID, accountID string, until *time.Time) error {
	if until == nil {
		_, err := s.db.ExecContext(ctx, `DELETE FROM member_timeouts WHERE community_id=$1 AND account_id=$2`, communityID, accountID)
		return err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO member_timeouts (community_id, account_id, until) VALUES ($1,$2,$3)
		ON CONFLICT (community_id, account_id) DO UPDATE SET until = excluded.until`, communityID, accountID, Micros(*until))
	return err
}

const dmCols = `id, member_a, member_b, created_at, last_message_at`

func scanDM(row scanner) (*community.DMChannel, error) {
	var d community.DMChannel
	var created int64
	var last sql.NullInt64
	if err := row.Scan(&d.ID, &d.Members[0], &d.Members[1], &created, &last); err != nil {
		return nil, noRows(err)
	}
	d.CreatedAt, d.LastMessageAt = FromMicros(created), TimePtr(last)
	return &d, nil
}

// DMChannel returns one DM channel.
func (s *Community) DMChannel(ctx context.Context, id string) (*community.DMChannel, error) {
	return scanDM(s.db.QueryRowContext(ctx, `SELECT `+dmCols+` FROM dm_channels WHERE id=$1`, id))
}

// DMChannelBetween finds the DM channel of two accounts.
func (s *Community) DMChannelBetween(ctx context.Context, a, b string) (*community.DMChannel, error) {
	if b < a {
		a, b = b, a
	}
	return scanDM(s.db.QueryRowContext(ctx, `SELECT `+dmCols+` FROM dm_channels WHERE member_a=$1 AND member_b=$2`, a, b))
}

// CreateDMChannel inserts a DM channel (Members sorted); ErrTooManyDMs
// when opener is already in max, holding opener's row until the insert
// (underBound) so DMs opened at once stop there too.
func (s *Community) CreateDMChannel(ctx context.Context, d *community.DMChannel, opener string, max int) error {
	return conflictOr(s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.db.underBound(ctx, tx, "accounts", opener, `SELECT COUNT(*) FROM dm_channels WHERE member_a=$1 OR member_b=$1`,
			max, community.ErrTooManyDMs); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO dm_channels (`+dmCols+`) VALUES ($1,$2,$3,$4,$5)`,
			d.ID, d.Members[0], d.Members[1], Micros(d.CreatedAt), NullMicros(d.LastMessageAt))
		return err
	}))
}

// DMChannelsOf lists an account's DM channels, most recently active first:
// at most limit (every one when limit <= 0).
func (s *Community) DMChannelsOf(ctx context.Context, accountID string, limit int) ([]*community.DMChannel, error) {
	q := `SELECT ` + dmCols + ` FROM dm_channels WHERE member_a=$1 OR member_b=$1
		ORDER BY COALESCE(last_message_at, created_at) DESC, id DESC`
	args := []any{accountID}
	if limit > 0 {
		q += ` LIMIT $2`
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	return collect(rows, err, scanDM)
}

// DMListingsOf lists an account's DM channels in DMChannelsOf's order, each
// joined with its other participant's account and profile: one query
// whatever the count (a list of 1,000 read two more per channel before). A
// participant with no stored profile gets the default one, as
// community.Service.Profile gives.
func (s *Community) DMListingsOf(ctx context.Context, accountID string, limit int) ([]*community.DMListing, error) {
	q := `SELECT d.id, d.member_a, d.member_b, d.created_at, d.last_message_at,
		a.id, a.username, a.avatar_url, a.is_admin, a.created_at,
		p.bio, p.pronouns, COALESCE(p.status, 'offline'), p.custom_status, p.activity
		FROM dm_channels d
		JOIN accounts a ON a.id = CASE WHEN d.member_a = $1 THEN d.member_b ELSE d.member_a END
		LEFT JOIN profiles p ON p.account_id = a.id
		WHERE d.member_a = $1 OR d.member_b = $1
		ORDER BY COALESCE(d.last_message_at, d.created_at) DESC, d.id DESC`
	args := []any{accountID}
	if limit > 0 {
		q += ` LIMIT $2`
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	return collect(rows, err, func(r scanner) (*community.DMListing, error) {
		var l community.DMListing
		rc := &l.Recipient
		var created, recipientCreated int64
		var last sql.NullInt64
		var bio, pronouns, custom, activity sql.NullString
		if err := r.Scan(&l.ID, &l.Members[0], &l.Members[1], &created, &last,
			&rc.AccountID, &rc.Username, &rc.AvatarURL, &rc.IsAdmin, &recipientCreated,
			&bio, &pronouns, &rc.Profile.Status, &custom, &activity); err != nil {
			return nil, err
		}
		l.CreatedAt, l.LastMessageAt = FromMicros(created), TimePtr(last)
		rc.CreatedAt = FromMicros(recipientCreated)
		rc.Profile.AccountID = rc.AccountID
		rc.Profile.Bio, rc.Profile.Pronouns = strPtr(bio), strPtr(pronouns)
		rc.Profile.CustomStatus, rc.Profile.Activity = strPtr(custom), strPtr(activity)
		return &l, nil
	})
}

// TouchDMChannel sets last_message_at.
func (s *Community) TouchDMChannel(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE dm_channels SET last_message_at=$2 WHERE id=$1`, id, Micros(at))
	return err
}

// Profile returns a stored profile.
func (s *Community) Profile(ctx context.Context, accountID string) (*community.Profile, error) {
	var p community.Profile
	var bio, pronouns, custom, activity sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT account_id, bio, pronouns, status, custom_status, activity FROM profiles WHERE account_id=$1`,
		accountID).Scan(&p.AccountID, &bio, &pronouns, &p.Status, &custom, &activity)
	if err != nil {
		return nil, noRows(err)
	}
	p.Bio, p.Pronouns, p.CustomStatus, p.Activity = strPtr(bio), strPtr(pronouns), strPtr(custom), strPtr(activity)
	return &p, nil
}

// SetPresence is the status write behind presence transitions.
func (s *Community) SetPresence(ctx context.Context, accountID string, online, repair bool) (bool, error) {
	var res sql.Result
	var err error
	switch {
	case online && !repair:
		res, err = s.db.ExecContext(ctx, `INSERT INTO profiles (account_id, status) VALUES ($1, 'online')
			ON CONFLICT (account_id) DO UPDATE SET status='online', custom_status=NULL, activity=NULL`, accountID)
	case online:
		res, err = s.db.ExecContext(ctx, `UPDATE profiles SET status='online' WHERE account_id=$1 AND status='offline'`, accountID)
	default:
		res, err = s.db.ExecContext(ctx, `UPDATE profiles SET status='offline' WHERE account_id=$1 AND status<>'offline'`, accountID)
	}
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// PresentAccounts lists accounts whose stored status is not offline.
func (s *Community) PresentAccounts(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT account_id FROM profiles WHERE status<>'offline'`)
	return collect(rows, err, scanString)
}

// SaveProfile upserts a profile, writing to an existing row only the
// columns f names (community.Store).
func (s *Community) SaveProfile(ctx context.Context, p *community.Profile, f community.ProfileFields) error {
	var set []string
	for _, c := range []struct {
		f   community.ProfileFields
		col string
	}{{community.ProfileBio, "bio"}, {community.ProfilePronouns, "pronouns"}, {community.ProfileStatus, "status"},
		{community.ProfileCustomStatus, "custom_status"}, {community.ProfileActivity, "activity"}} {
		if f&c.f != 0 {
			set = append(set, c.col+"=excluded."+c.col)
		}
	}
	// An existing row gets only the named columns: the others in p are as
	// the caller read them, maybe before another edit, and writing them
	// back undid it.
	conflict := `DO NOTHING`
	if len(set) > 0 {
		conflict = `DO UPDATE SET ` + strings.Join(set, ", ")
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO profiles (account_id, bio, pronouns, status, custom_status, activity)
		VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (account_id) `+conflict,
		p.AccountID, nullString(p.Bio), nullString(p.Pronouns), p.Status, nullString(p.CustomStatus), nullString(p.Activity))
	return err
}
