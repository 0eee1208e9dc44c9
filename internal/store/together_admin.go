package store

import (
	"context"
	"strings"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
)

// AdminAccount is one row of Together's /admin/users: a registered account
// with its presence status, how many servers it is in, and how many
// channel messages it wrote (deleted ones too, as Together counts; not DMs).
type AdminAccount struct {
	Account  *identity.Account
	Status   string
	Servers  int
	Messages int64
}

// AdminCommunity is one row of Together's /admin/servers.
type AdminCommunity struct {
	Community     *community.Community
	OwnerUsername string
	Channels      int
	Messages      int64
}

// AdminSort orders /admin/users: "username", "message_count", or anything
// else for the newest first (Together's sort_by).
type AdminSort string

// likeContains is a LIKE pattern (with ESCAPE '\') for text containing s,
// case-folded as the searched keys are; "" matches everything.
func likeContains(s string) string {
	if s == "" {
		return ""
	}
	return "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(s)) + "%"
}

// AdminAccounts answers one page of /admin/users in two queries whatever
// the page's size: the registered accounts whose username or email
// contains search (case-insensitive, wildcards taken literally), in the
// order sort asks for, and how many match in all.
func (s *TogetherExtras) AdminAccounts(ctx context.Context, search string, sort AdminSort, limit, offset int) ([]AdminAccount, int, error) {
	const where = ` FROM accounts a WHERE a.kind='registered'
		AND ($1 = '' OR a.username_key LIKE $1 ESCAPE '\' OR a.email LIKE $1 ESCAPE '\')`
	pattern := likeContains(search)
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*)`+where, pattern).Scan(&total); err != nil {
		return nil, 0, err
	}
	order := `a.created_at DESC, a.id DESC`
	switch sort {
	case "username":
		order = `a.username_key, a.id`
	case "message_count":
		order = `message_count DESC, a.created_at DESC, a.id DESC`
	}
	// The subqueries name their own tables' columns, so accountCols
	// (unqualified) can only mean the outer accounts row.
	rows, err := s.db.QueryContext(ctx, `SELECT `+accountCols+`,
		COALESCE((SELECT p.status FROM profiles p WHERE p.account_id = a.id), 'offline'),
		(SELECT COUNT(*) FROM community_members cm WHERE cm.account_id = a.id),
		(SELECT COUNT(*) FROM messages m WHERE m.conversation_kind = 'channel' AND m.author_id = a.id) AS message_count`+
		where+` ORDER BY `+order+` LIMIT $2 OFFSET $3`, pattern, limit, offset)
	out := []AdminAccount{}
	err = eachRow(rows, err, func(row scanner) error {
		var r AdminAccount
		acc, err := scanAccount(scanFunc(func(d ...any) error { return row.Scan(append(d, &r.Status, &r.Servers, &r.Messages)...) }))
		if err != nil {
			return err
		}
		r.Account = acc
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// AdminCommunities answers one page of /admin/servers in two queries: the
// servers whose name contains search (case-insensitive, wildcards taken
// literally), newest first as Together lists them, with their owner's
// username and channel and message counts, and how many match in all.
func (s *TogetherExtras) AdminCommunities(ctx context.Context, search string, limit, offset int) ([]AdminCommunity, int, error) {
	const where = ` FROM communities c WHERE ($1 = '' OR LOWER(c.name) LIKE $1 ESCAPE '\')`
	pattern := likeContains(search)
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*)`+where, pattern).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+communityCols+`,
		COALESCE((SELECT o.username FROM accounts o WHERE o.id = c.owner_id), ''),
		(SELECT COUNT(*) FROM channels ch WHERE ch.community_id = c.id),
		(SELECT COUNT(*) FROM messages m JOIN channels ch ON ch.id = m.conversation_id
			WHERE m.conversation_kind = 'channel' AND ch.community_id = c.id)`+
		where+` ORDER BY c.created_at DESC, c.id DESC LIMIT $2 OFFSET $3`, pattern, limit, offset)
	out := []AdminCommunity{}
	err = eachRow(rows, err, func(row scanner) error {
		var r AdminCommunity
		c, err := scanCommunity(scanFunc(func(d ...any) error { return row.Scan(append(d, &r.OwnerUsername, &r.Channels, &r.Messages)...) }))
		if err != nil {
			return err
		}
		r.Community = c
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}
