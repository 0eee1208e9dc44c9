package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/stagechat"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// TestOwncastStoresContract runs the stage chat and webhook stores on every
// engine.
func TestOwncastStoresContract(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			ids := db.Identity()
			acct := func(kind identity.Kind, name string) *identity.Account {
				a := &identity.Account{ID: identity.NewID(), Kind: kind, Username: name, CreatedAt: now, UpdatedAt: now}
				if err := ids.CreateAccount(ctx, a); err != nil {
					t.Fatal(err)
				}
				return a
			}
			g, bot := acct(identity.Guest, "g1"), acct(identity.Integration, "i1")
			st := db.StageChat()
			u := &stagechat.User{ID: g.ID, DisplayName: "Zoë", DisplayColor: 3, CreatedAt: now, PreviousNames: []string{"a", "b'c"},
				Scopes: []string{stagechat.ModeratorScope}}
			if err := st.SaveUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			if err := st.SaveUser(ctx, &stagechat.User{ID: bot.ID, DisplayName: "Bot", CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
			got, err := st.User(ctx, g.ID)
			if err != nil || got.DisplayName != "Zoë" || got.DisplayColor != 3 || len(got.PreviousNames) != 2 || got.PreviousNames[1] != "b'c" ||
				!got.IsModerator() || got.IsBot || !got.CreatedAt.Equal(now) {
				t.Fatalf("user %+v %v", got, err)
			}
			if b, _ := st.User(ctx, bot.ID); !b.IsBot {
				t.Fatal("integration account not a bot")
			}
			if byName, err := st.UserByName(ctx, "ZOË"); err != nil || byName.ID != g.ID {
				t.Fatalf("by name %v", err)
			}
			if _, err := st.UserByName(ctx, "' OR 1=1--"); !errors.Is(err, fault.NotFound) {
				t.Fatalf("injection-looking name: %v", err)
			}
			if mods, _ := st.Users(ctx, stagechat.Moderators); len(mods) != 1 {
				t.Fatalf("moderators %d", len(mods))
			}
			// The admin user list: search (LIKE wildcards are literal),
			// status, paging, order.
			for _, c := range []struct {
				q     stagechat.UserQuery
				total int
				first string
			}{
				{stagechat.UserQuery{Limit: 10, Status: stagechat.UserStatusAll}, 2, bot.ID},
				{stagechat.UserQuery{Limit: 10, Status: stagechat.UserStatusAll, Oldest: true}, 2, g.ID},
				{stagechat.UserQuery{Limit: 10, Search: "ZO", Status: stagechat.UserStatusAll}, 1, g.ID},
				{stagechat.UserQuery{Limit: 10, Search: "%", Status: stagechat.UserStatusAll}, 0, ""},
				{stagechat.UserQuery{Limit: 10, Status: stagechat.UserStatusBots}, 1, bot.ID},
				{stagechat.UserQuery{Limit: 10, Status: stagechat.UserStatusActive}, 2, bot.ID},
				{stagechat.UserQuery{Limit: 10, Status: stagechat.UserStatusAuthenticated}, 0, ""},
				{stagechat.UserQuery{Limit: 10, Status: stagechat.UserStatusModerators}, 1, g.ID},
				{stagechat.UserQuery{Limit: 10, Search: "bot", Status: stagechat.UserStatusModerators}, 0, ""},
				{stagechat.UserQuery{Limit: 10, Status: stagechat.UserStatusBanned}, 0, ""},
				{stagechat.UserQuery{Limit: 1, Offset: 1, Status: stagechat.UserStatusAll}, 2, g.ID},
			} {
				us, total, err := st.ListUsers(ctx, c.q)
				if err != nil || total != c.total || (c.first != "" && (len(us) == 0 || us[0].ID != c.first)) || (c.first == "" && len(us) != 0) {
					t.Fatalf("list %+v: %d users, total %d, %v", c.q, len(us), total, err)
				}
			}
			// Counts: both chat users; the conversation's messages, hidden
			// ones included, deleted ones and other conversations' not.
			msgs, err := messages.New(db.Messages(), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			var posted []string
			for i, conv := range []string{"stage:x", "stage:x", "stage:x", "elsewhere"} {
				m, err := msgs.Post(ctx, messages.PostInput{ConversationID: conv, Kind: messages.KindStage, AuthorID: g.ID, Body: fmt.Sprint("m", i)})
				if err != nil {
					t.Fatal(err)
				}
				posted = append(posted, m.ID)
			}
			if _, err := msgs.SetHidden(ctx, "stage:x", posted[:1], true); err != nil {
				t.Fatal(err)
			}
			if _, err := msgs.Delete(ctx, posted[1]); err != nil {
				t.Fatal(err)
			}
			if users, n, err := st.Counts(ctx, "stage:x"); err != nil || users != 2 || n != 2 {
				t.Fatalf("counts %d users, %d messages, %v", users, n, err)
			}
			if err := ids.SetDisabled(ctx, g.ID, &now, now); err != nil {
				t.Fatal(err)
			}
			if dis, _ := st.Users(ctx, stagechat.DisabledUsers); len(dis) != 1 || dis[0].DisabledAt == nil {
				t.Fatalf("disabled %+v", dis)
			}
			if err := st.CreateChatToken(ctx, "h1", g.ID, "", now); err != nil {
				t.Fatal(err)
			}
			if id, err := st.ChatTokenAccount(ctx, "h1"); err != nil || id != g.ID {
				t.Fatalf("token %q %v", id, err)
			}
			if _, err := st.ChatTokenAccount(ctx, "h2"); !errors.Is(err, fault.NotFound) {
				t.Fatalf("missing token %v", err)
			}
			wantUser, err := st.User(ctx, g.ID)
			if err != nil {
				t.Fatal(err)
			}
			if banned, acct, _, u, err := st.ChatAdmit(ctx, "h1", "::1"); err != nil || banned || acct != g.ID ||
				!reflect.DeepEqual(u, wantUser) {
				t.Fatalf("admit %v %q %+v %v, want the user %+v", banned, acct, u, err, wantUser)
			}
			if banned, acct, _, u, err := st.ChatAdmit(ctx, "h2", "::1"); err != nil || banned || acct != "" || u != nil {
				t.Fatalf("admit with no such token %v %q %+v %v", banned, acct, u, err)
			}
			for range 2 { // idempotent
				if err := st.AddIPBan(ctx, stagechat.IPBan{IP: "::1", Notes: "n", CreatedAt: now}); err != nil {
					t.Fatal(err)
				}
			}
			if b, _ := st.IPBans(ctx); len(b) != 1 || b[0].IP != "::1" {
				t.Fatalf("bans %+v", b)
			}
			if banned, _, _, _, err := st.ChatAdmit(ctx, "h2", "::1"); err != nil || !banned {
				t.Fatalf("admit from a banned address: banned %v, %v", banned, err)
			}
			// An IPv6 ban covers its /64, an IPv4 one its address alone.
			if banned, _, _, _, err := st.ChatAdmit(ctx, "h1", "::2"); err != nil || !banned {
				t.Fatalf("admit from another address of the banned /64: banned %v, %v", banned, err)
			}
			if banned, acct, _, _, err := st.ChatAdmit(ctx, "h1", "0:0:0:1::1"); err != nil || banned || acct != g.ID {
				t.Fatalf("admit from another /64: banned %v, %q, %v", banned, acct, err)
			}
			if err := st.AddIPBan(ctx, stagechat.IPBan{IP: "192.0.2.1", CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
			for ip, want := range map[string]bool{"::1": true, "::1:2:3": true, "0:0:0:1::": false, "192.0.2.1": true, "192.0.2.2": false} {
				if ok, err := st.IPBanned(ctx, ip); err != nil || ok != want {
					t.Fatalf("IPBanned(%s) = %v, %v; want %v", ip, ok, err, want)
				}
			}
			for _, ip := range []string{"::1", "192.0.2.1"} {
				if err := st.RemoveIPBan(ctx, ip); err != nil {
					t.Fatal(err)
				}
			}
			for _, ip := range []string{"::1", "::2", "192.0.2.1"} {
				if ok, _ := st.IPBanned(ctx, ip); ok {
					t.Fatalf("%s still banned", ip)
				}
			}

			wh := db.Webhooks()
			w := &webhooks.Webhook{ID: identity.NewID(), URL: "https://example.org/h", Events: []string{"CHAT", "USER_JOINED"}, Secret: "s", CreatedAt: now}
			if err := wh.CreateWebhook(ctx, w); err != nil {
				t.Fatal(err)
			}
			if err := wh.RecordDelivery(ctx, w.ID, now, "boom"); err != nil {
				t.Fatal(err)
			}
			if err := wh.RecordDelivery(ctx, w.ID, now, ""); err != nil {
				t.Fatal(err)
			}
			list, err := wh.Webhooks(ctx)
			if err != nil || len(list) != 1 || len(list[0].Events) != 2 || list[0].LastUsedAt == nil || list[0].LastError != "boom" {
				t.Fatalf("webhooks %+v %v", list, err)
			}
			if err := wh.DeleteWebhook(ctx, "' OR 1=1--"); !errors.Is(err, fault.NotFound) {
				t.Fatalf("delete injection id: %v", err)
			}
			if err := wh.DeleteWebhook(ctx, w.ID); err != nil {
				t.Fatal(err)
			}
			if err := wh.RecordDelivery(ctx, w.ID, now, ""); !errors.Is(err, fault.NotFound) {
				t.Fatalf("record on deleted: %v", err)
			}
		})
	}
}
