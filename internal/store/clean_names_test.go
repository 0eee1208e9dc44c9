package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/stagechat"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestMigrationCleansNamesAndURLs writes rows as an older Hearth could have
// (markup in names, javascript: URLs), re-runs the cleaning migration
// through Migrate, and checks every row follows the rule afterwards, on
// both engines.
func TestMigrationCleansNamesAndURLs(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			bad := &identity.Account{ID: identity.NewID(), Kind: identity.Guest, Username: "guest-1",
				DisplayName: "<script>alert(1)</script>Mallory", AvatarURL: "javascript:alert(1)", CreatedAt: now, UpdatedAt: now}
			good := &identity.Account{ID: identity.NewID(), Kind: identity.Guest, Username: "guest-2",
				DisplayName: "Tom & Jerry", AvatarURL: "https://example.org/a.png", CreatedAt: now, UpdatedAt: now}
			for _, a := range []*identity.Account{bad, good} {
				if err := db.Identity().CreateAccount(ctx, a); err != nil {
					t.Fatal(err)
				}
			}
			for _, u := range []*stagechat.User{{ID: bad.ID, DisplayName: `<img src=x onerror=alert(1)>`, CreatedAt: now},
				{ID: good.ID, DisplayName: "<b>bold</b>", CreatedAt: now}} {
				if err := db.StageChat().SaveUser(ctx, u); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO communities (id, name, owner_id, icon_url, created_at, updated_at)
				VALUES ('c1', 'one', $1, 'javascript:alert(1)', 0, 0), ('c2', 'two', $1, 'https://example.org/i.png', 0, 0)`, bad.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO community_members (community_id, account_id, nickname, joined_at)
				VALUES ('c1', $1, '<i></i>', 0), ('c2', $1, '<i>nick</i>', 0)`, bad.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `DELETE FROM goose_db_version WHERE version_id = 1300`); err != nil {
				t.Fatal(err)
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct{ id, name, avatar string }{{bad.ID, "Mallory", ""}, {good.ID, "Tom & Jerry", "https://example.org/a.png"}} {
				a, err := db.Identity().AccountByID(ctx, c.id)
				if err != nil {
					t.Fatal(err)
				}
				if a.DisplayName != c.name || a.AvatarURL != c.avatar {
					t.Fatalf("account after migration: %q %q, want %q %q", a.DisplayName, a.AvatarURL, c.name, c.avatar)
				}
			}
			if u, err := db.StageChat().User(ctx, bad.ID); err != nil || u.DisplayName != "user-"+bad.ID[len(bad.ID)-8:] {
				t.Fatalf("markup-only chat name: %+v %v", u, err)
			}
			if u, err := db.StageChat().UserByName(ctx, "BOLD"); err != nil || u.ID != good.ID || u.DisplayName != "bold" {
				t.Fatalf("chat name after migration: %+v %v", u, err)
			}
			rows, err := db.QueryContext(ctx, `SELECT c.id, COALESCE(c.icon_url, ''), COALESCE(m.nickname, '')
				FROM communities c JOIN community_members m ON m.community_id = c.id ORDER BY c.id`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			want := map[string][2]string{"c1": {"", ""}, "c2": {"https://example.org/i.png", "nick"}}
			for rows.Next() {
				var id, icon, nick string
				if err := rows.Scan(&id, &icon, &nick); err != nil {
					t.Fatal(err)
				}
				if w := want[id]; icon != w[0] || nick != w[1] {
					t.Fatalf("community %s after migration: icon %q nick %q, want %q", id, icon, nick, w)
				}
				delete(want, id)
			}
			if len(want) > 0 {
				t.Fatalf("rows missing: %v", want)
			}
		})
	}
}
