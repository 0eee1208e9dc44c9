package owncast_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
)

func TestIntegrations(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	var tok map[string]any
	r := n.do(t, "POST", "/api/admin/accesstokens/create", "admin", map[string]any{"name": "Bot Bob",
		"scopes": []string{"CAN_SEND_SYSTEM_MESSAGES", "CAN_SEND_MESSAGES", "HAS_ADMIN_ACCESS"}})
	r.json(t, &tok)
	raw, _ := tok["accessToken"].(string)
	if r.status != 200 || raw == "" || tok["displayName"] != "Bot Bob" || tok["createdAt"] == nil || len(tok["scopes"].([]any)) != 3 {
		t.Fatalf("create token %d %s", r.status, r.body)
	}
	var limited map[string]any
	n.do(t, "POST", "/api/admin/accesstokens/create", "admin", map[string]any{"name": "Limited",
		"scopes": []string{"CAN_SEND_MESSAGES"}}).json(t, &limited)
	if r := n.do(t, "POST", "/api/admin/accesstokens/create", "admin", map[string]any{"name": "x", "scopes": []string{"ROOT"}}); r.status != 400 {
		t.Fatalf("unknown scope: %d", r.status)
	}

	viewer := n.register(t, "viewer")
	c := n.dial(t, viewer.AccessToken)
	c.await("CONNECTED_USER_INFO", nil)

	cases := []struct {
		name, method, path, auth string
		body                     any
		status                   int
		event                    string
	}{
		{"system message, lowercase bearer", "POST", "/api/integrations/chat/system", "bearer " + raw, map[string]string{"body": "system **note**"}, 200, "SYSTEM"},
		{"send as bot", "POST", "/api/integrations/chat/send", "bearer:" + raw, map[string]string{"body": "bot says hi"}, 200, "CHAT"},
		{"action", "POST", "/api/integrations/chat/action", "bearer:" + raw, map[string]string{"body": "did a thing"}, 200, "CHAT_ACTION"},
		{"deprecated user route", "POST", "/api/integrations/chat/user", "bearer:" + raw, map[string]string{"body": "x"}, 400, ""},
		{"history", "GET", "/api/integrations/chat", "bearer:" + raw, nil, 200, ""},
		{"clients", "GET", "/api/integrations/clients", "bearer:" + raw, nil, 200, ""},
		{"invalid token", "GET", "/api/integrations/chat", "bearer:invalidToken", nil, 401, ""},
		{"no token", "GET", "/api/integrations/chat", "", nil, 401, ""},
		{"missing scope", "GET", "/api/integrations/chat", "bearer:" + limited["accessToken"].(string), nil, 401, ""},
		{"missing scope system", "POST", "/api/integrations/chat/system", "bearer:" + limited["accessToken"].(string), map[string]string{"body": "x"}, 401, ""},
		{"bad body", "POST", "/api/integrations/chat/send", "bearer:" + raw, "{", 400, ""},
	}
	for _, tc := range cases {
		r := n.do(t, tc.method, tc.path, tc.auth, tc.body)
		if r.status != tc.status {
			t.Fatalf("%s: status %d, want %d (%s)", tc.name, r.status, tc.status, r.body)
		}
		if r.status == 200 && r.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("%s: ACAO %q", tc.name, r.header.Get("Access-Control-Allow-Origin"))
		}
		if tc.event != "" {
			ev := c.await(tc.event, nil)
			switch tc.event {
			case "SYSTEM":
				if ev["body"] != "<p>system <strong>note</strong></p>" || ev["user"].(map[string]any)["displayName"] != "Test Stage" {
					t.Fatalf("SYSTEM %v", ev)
				}
			case "CHAT":
				u := ev["user"].(map[string]any)
				if u["displayName"] != "Bot Bob" || u["isBot"] != true {
					t.Fatalf("bot CHAT %v", ev)
				}
			}
		}
	}
	// A system message to one connection, by the id /clients reports.
	var clients []map[string]any
	n.do(t, "GET", "/api/integrations/clients", "bearer:"+raw, nil).json(t, &clients)
	if len(clients) != 1 || clients[0]["user"].(map[string]any)["id"] != viewer.ID {
		t.Fatalf("clients %v", clients)
	}
	id := fmt.Sprint(int64(clients[0]["id"].(float64)))
	if r := n.do(t, "POST", "/api/integrations/chat/system/client/"+id, "bearer:"+raw, map[string]string{"body": "just you"}); r.status != 200 {
		t.Fatalf("system to client: %d %s", r.status, r.body)
	}
	if ev := c.await("SYSTEM", nil); ev["body"] != "<p>just you</p>" {
		t.Fatalf("client SYSTEM %v", ev)
	}
	if r := n.do(t, "POST", "/api/integrations/chat/system/client/999999", "bearer:"+raw, map[string]string{"body": "x"}); r.status != 400 {
		t.Fatalf("unknown client: %d", r.status)
	}
	r = n.do(t, "OPTIONS", "/api/integrations/chat", "bearer:"+raw, nil)
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("OPTIONS: %d %v", r.status, r.header)
	}

	// Owncast's suite ("check access tokens") expects the listing to carry
	// each token; it is re-derived from the token's id, while the database
	// holds only its hash.
	var list []map[string]any
	n.do(t, "GET", "/api/admin/accesstokens", "admin", nil).json(t, &list)
	if len(list) != 2 {
		t.Fatalf("tokens %v", list)
	}
	want := map[string]string{tok["id"].(string): raw, limited["id"].(string): limited["accessToken"].(string)}
	for _, l := range list {
		id, _ := l["id"].(string)
		if want[id] == "" || l["accessToken"] != want[id] {
			t.Fatalf("listed token %v, want accessToken %q", l, want[id])
		}
		stored, err := n.id.Store().TokenByID(context.Background(), id)
		if err != nil || stored.Hash != identity.HashToken(want[id]) || strings.Contains(stored.Hash, want[id]) {
			t.Fatalf("stored token %+v %v: must be the hash only", stored, err)
		}
	}
	if r := n.do(t, "POST", "/api/admin/accesstokens/delete", "admin", map[string]any{"token": raw}); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := n.do(t, "POST", "/api/integrations/chat/action", "bearer:"+raw, map[string]string{"body": "x"}); r.status != 401 {
		t.Fatalf("deleted token still works: %d", r.status)
	}
	// Delete by the id a listing shows (Owncast's admin UI sends it back).
	if r := n.do(t, "POST", "/api/admin/accesstokens/delete", "admin", map[string]any{"token": limited["id"]}); r.status != 200 {
		t.Fatalf("delete by id: %d %s", r.status, r.body)
	}
	n.do(t, "GET", "/api/admin/accesstokens", "admin", nil).json(t, &list)
	if len(list) != 0 {
		t.Fatalf("tokens after delete %v", list)
	}
}

// TestAccessTokenListingOmitsUnderivable: a token whose stored hash does not
// match its derivation (issued before tokens were derived, or under another
// signing secret) is listed without accessToken, never with a wrong one, and
// can still be deleted by id.
func TestAccessTokenListingOmitsUnderivable(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	ctx := context.Background()
	a, _, _, err := n.id.CreateIntegrationToken(ctx, "owner", []string{"CAN_SEND_MESSAGES"})
	if err != nil {
		t.Fatal(err)
	}
	old := &identity.Token{ID: identity.NewID(), AccountID: a.ID, Kind: identity.IntegrationToken, Name: "old",
		Hash: identity.HashToken("an older random token"), Scopes: []string{"CAN_SEND_MESSAGES"}, CreatedAt: time.Now()}
	if err := n.id.Store().CreateToken(ctx, old); err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	n.do(t, "GET", "/api/admin/accesstokens", "admin", nil).json(t, &list)
	found := false
	for _, l := range list {
		if l["id"] == old.ID {
			found = true
			if _, has := l["accessToken"]; has {
				t.Fatalf("underivable token listed with accessToken: %v", l)
			}
		} else if l["accessToken"] == nil {
			t.Fatalf("derived token listed without accessToken: %v", l)
		}
	}
	if !found {
		t.Fatalf("old token not listed: %v", list)
	}
	if _, err := n.id.AuthenticateToken(ctx, identity.IntegrationToken, "an older random token"); err != nil {
		t.Fatalf("old token must keep working: %v", err)
	}
	if r := n.do(t, "POST", "/api/admin/accesstokens/delete", "admin", map[string]any{"token": old.ID}); r.status != 200 {
		t.Fatalf("delete by id: %d %s", r.status, r.body)
	}
}

// TestModerationHistoryOnlyUserMessages: Owncast's moderation history
// (/api/admin/chat/messages, /api/integrations/chat) joins each message to
// its user, so system messages and actions (no user) are not in it, and
// every entry carries a user with an id. Owncast's own suite reads
// `obj.user.id` of every entry (004_chatusers), which threw on a
// CHAT_ACTION an integration had posted earlier in the run.
func TestModerationHistoryOnlyUserMessages(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	var tok map[string]any
	n.do(t, "POST", "/api/admin/accesstokens/create", "admin", map[string]any{"name": "Bot",
		"scopes": []string{"CAN_SEND_SYSTEM_MESSAGES", "CAN_SEND_MESSAGES", "HAS_ADMIN_ACCESS"}}).json(t, &tok)
	raw, _ := tok["accessToken"].(string)
	viewer := n.register(t, "viewer")
	c := n.dial(t, viewer.AccessToken)
	c.await("CONNECTED_USER_INFO", nil)
	for _, p := range []struct{ path, event string }{
		{"/api/integrations/chat/system", "SYSTEM"},
		{"/api/integrations/chat/action", "CHAT_ACTION"},
		{"/api/integrations/chat/send", "CHAT"},
	} {
		if r := n.do(t, "POST", p.path, "Bearer "+raw, map[string]string{"body": "from " + p.path}); r.status != 200 {
			t.Fatalf("%s: %d %s", p.path, r.status, r.body)
		}
		c.await(p.event, nil)
	}
	c.send(map[string]any{"type": "CHAT", "body": "viewer says hi"})
	c.await("CHAT", func(ev map[string]any) bool { return ev["body"] == "<p>viewer says hi</p>" })

	for _, src := range []struct{ path, auth string }{
		{"/api/admin/chat/messages", "admin"},
		{"/api/integrations/chat", "Bearer " + raw},
	} {
		var hist []map[string]any
		r := n.do(t, "GET", src.path, src.auth, nil)
		r.json(t, &hist)
		if r.status != 200 || len(hist) != 2 {
			t.Fatalf("%s: %d, want the 2 user messages: %s", src.path, r.status, r.body)
		}
		for _, m := range hist {
			u, _ := m["user"].(map[string]any)
			if m["type"] != "CHAT" || u == nil || u["id"] == nil || u["id"] == "" {
				t.Fatalf("%s: entry without a user: %v", src.path, m)
			}
		}
	}
}
