package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/stagechat"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestMigrationKeysNames: names stored before names were held by
// identity.NameKey (accounts with no display_name_key, chat users keyed by
// lower case alone) are keyed by it, so they are held in every spelling.
func TestMigrationKeysNames(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			a := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: "elise",
				DisplayName: "Élise", CreatedAt: now, UpdatedAt: now}
			if err := db.Identity().CreateAccount(ctx, a); err != nil {
				t.Fatal(err)
			}
			g := &identity.Account{ID: identity.NewID(), Kind: identity.Guest, Username: "guest-1", CreatedAt: now, UpdatedAt: now}
			if err := db.Identity().CreateAccount(ctx, g); err != nil {
				t.Fatal(err)
			}
			if err := db.StageChat().SaveUser(ctx, &stagechat.User{ID: g.ID, DisplayName: "Zoë", CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
			// As the rows were before: no display name key, a chat key
			// lowered by SQL.
			for _, q := range []string{`UPDATE accounts SET display_name_key=''`,
				`UPDATE owncast_chat_users SET name_key=lower(display_name)`,
				`DELETE FROM goose_db_version WHERE version_id = 2601`} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if got, err := db.Identity().AccountByName(ctx, "ÉLISE"); err != nil || got.ID != a.ID {
				t.Errorf("AccountByName(ÉLISE) = %v, %v; want the account", got, err)
			}
			if got, err := db.StageChat().UserByName(ctx, "ZOE\u0308"); err != nil || got.ID != g.ID {
				t.Errorf("UserByName(ZOË) = %v, %v; want the chat user", got, err)
			}
		})
	}
}
