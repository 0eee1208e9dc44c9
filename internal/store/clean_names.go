package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// cleanNamesVersion numbers the Go migration that brings rows written before
// names and URLs had one rule under that rule (issue 13). It is a Go
// migration, on both engines, because the rule is identity.CleanName and
// identity.ValidHTTPURL, which SQL cannot express; it runs after every table
// it reads exists.
const cleanNamesVersion = 1300

func cleanNamesMigration() *goose.Migration {
	return goose.NewGoMigration(cleanNamesVersion, &goose.GoFunc{RunTx: cleanNamesAndURLs}, nil)
}

// cleanNamesAndURLs strips markup from stored display names (accounts, chat
// users, pending chat sign-ins, member nicknames) and clears stored URLs that
// are not http(s) (account avatars, community icons).
func cleanNamesAndURLs(ctx context.Context, tx *sql.Tx) error {
	type fix struct {
		query, update string
		clean         func(id, v string) (string, bool)
	}
	name := func(limit int) func(string, string) (string, bool) {
		return func(_, v string) (string, bool) { c := identity.CleanName(v, limit); return c, c != v }
	}
	chatName := func(id, v string) (string, bool) {
		c := identity.CleanName(v, stagechat.MaxNameLength)
		if c == "" {
			c = "user-" + id[max(0, len(id)-8):]
		}
		return c, c != v
	}
	url := func(_, v string) (string, bool) {
		if v == "" || identity.ValidHTTPURL(v) {
			return v, false
		}
		return "", true
	}
	fixes := []fix{
		{`SELECT id, display_name FROM accounts WHERE display_name <> ''`, `UPDATE accounts SET display_name=$1 WHERE id=$2`, name(identity.MaxDisplayNameLength)},
		{`SELECT id, avatar_url FROM accounts WHERE avatar_url <> ''`, `UPDATE accounts SET avatar_url=$1 WHERE id=$2`, url},
		{`SELECT id, icon_url FROM communities WHERE icon_url IS NOT NULL`, `UPDATE communities SET icon_url=NULLIF($1, '') WHERE id=$2`, url},
		{`SELECT account_id, display_name FROM owncast_chat_users`, `UPDATE owncast_chat_users SET display_name=$1, name_key=lower($1) WHERE account_id=$2`, chatName},
		{`SELECT state, display_name FROM owncast_auth_requests`, `UPDATE owncast_auth_requests SET display_name=$1 WHERE state=$2`, chatName},
		{`SELECT community_id || ' ' || account_id, nickname FROM community_members WHERE nickname IS NOT NULL`,
			`UPDATE community_members SET nickname=NULLIF($1, '') WHERE community_id || ' ' || account_id=$2`, name(identity.MaxDisplayNameLength)},
	}
	for _, f := range fixes {
		rows, err := tx.QueryContext(ctx, f.query)
		if err != nil {
			return fmt.Errorf("clean names: %q: %w", f.query, err)
		}
		type change struct{ id, v string }
		var changes []change
		for rows.Next() {
			var id, v string
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return err
			}
			if c, changed := f.clean(id, v); changed {
				changes = append(changes, change{id, c})
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, c := range changes {
			if _, err := tx.ExecContext(ctx, f.update, c.v, c.id); err != nil {
				return fmt.Errorf("clean names: %w", err)
			}
		}
	}
	return nil
}
