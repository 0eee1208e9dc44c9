package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// TestMigrationKeepsWebhookEventsOnce: migration 02980 rewrites a Together
// webhook's event types that repeat a name (stored before webhooks.Hooks
// kept each name once) with each name once, and leaves other lists as
// they are, on every engine.
func TestMigrationKeepsWebhookEventsOnce(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			st := db.TogetherExtras()
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			owner := newAccount(t, db, "owner")
			c := newCommunity(t, db, owner)
			var repeated []string
			for range 3_000 {
				repeated = append(repeated, "message.create", "member.join")
			}
			lists := map[string][]string{
				"repeated": repeated,
				"plain":    {"member.join", "message.create"},
			}
			ids := map[string]string{}
			for name, events := range lists {
				h := &webhooks.Hook{ID: identity.NewID(), CommunityID: c.ID, CreatedBy: owner, Name: name, URL: "https://example.org/h",
					Secret: "s", EventTypes: events, Enabled: true, CreatedAt: now, UpdatedAt: now}
				if err := st.CreateWebhook(ctx, h, webhooks.MaxHooks); err != nil {
					t.Fatal(err)
				}
				ids[name] = h.ID
			}
			if _, err := db.ExecContext(ctx, `DELETE FROM goose_db_version WHERE version_id = 2980`); err != nil {
				t.Fatal(err)
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			for name, want := range map[string][]string{"repeated": {"member.join", "message.create"}, "plain": {"member.join", "message.create"}} {
				h, err := st.Webhook(ctx, c.ID, ids[name])
				if err != nil {
					t.Fatal(err)
				}
				got := slices.Clone(h.EventTypes)
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("%s hook: %d event types after the migration, want %q", name, len(h.EventTypes), want)
				}
			}
			if h, _ := st.Webhook(ctx, c.ID, ids["plain"]); !slices.Equal(h.EventTypes, lists["plain"]) {
				t.Errorf("a list with no repeat was rewritten: %q", h.EventTypes)
			}
		})
	}
}
