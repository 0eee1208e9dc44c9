package owncast_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// Shapes Owncast's own spec (openapi.yaml, 0.2.4) fixes and its API suite's
// response validator checks on every answer: a webhook's id is an integer,
// and an access token never used has no lastUsedAt (a string where present).

func TestWebhookIDIsOwncastInteger(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	ids := make([]json.Number, 0, 2)
	for _, u := range []string{"https://hooks.example.org/a", "https://hooks.example.org/b"} {
		r := n.do(t, "POST", "/api/admin/webhooks/create", "admin", map[string]any{"url": u, "events": []string{"CHAT"}})
		var hook map[string]json.RawMessage
		r.json(t, &hook)
		var id json.Number
		if r.status != 200 || json.Unmarshal(hook["id"], &id) != nil {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		if v, err := id.Int64(); err != nil || v <= 0 || v >= 1<<53 {
			t.Fatalf("webhook id %s: not an integer in (0, 2^53)", hook["id"])
		}
		ids = append(ids, id)
	}
	list := func() string {
		r := n.do(t, "GET", "/api/admin/webhooks", "admin", nil)
		var hooks []map[string]json.RawMessage
		r.json(t, &hooks)
		got := make([]string, 0, len(hooks))
		for _, h := range hooks {
			got = append(got, string(h["id"]))
		}
		return strings.Join(got, ",")
	}
	if got := list(); !strings.Contains(got, ids[0].String()) || !strings.Contains(got, ids[1].String()) {
		t.Fatalf("listed ids %s, created %v", got, ids)
	}
	// Owncast's admin sends the id as a JSON number; a string of it works too.
	v0, _ := ids[0].Int64()
	if r := n.do(t, "POST", "/api/admin/webhooks/delete", "admin", map[string]any{"id": v0}); r.status != 200 {
		t.Fatalf("delete by number: %d %s", r.status, r.body)
	}
	if r := n.do(t, "POST", "/api/admin/webhooks/delete", "admin", map[string]any{"id": ids[1].String()}); r.status != 200 {
		t.Fatalf("delete by string: %d %s", r.status, r.body)
	}
	if got := list(); got != "" {
		t.Fatalf("left after delete: %s", got)
	}
}

func TestAccessTokenLastUsedAtOmittedUntilUsed(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	r := n.do(t, "POST", "/api/admin/accesstokens/create", "admin",
		map[string]any{"name": "bot", "scopes": []string{"CAN_SEND_SYSTEM_MESSAGES"}})
	var tok map[string]json.RawMessage
	r.json(t, &tok)
	if r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if v, ok := tok["lastUsedAt"]; ok {
		t.Fatalf("create: lastUsedAt %s before any use", v)
	}
	lastUsed := func() (json.RawMessage, bool) {
		var l []map[string]json.RawMessage
		n.do(t, "GET", "/api/admin/accesstokens", "admin", nil).json(t, &l)
		if len(l) != 1 {
			t.Fatalf("tokens: %d", len(l))
		}
		v, ok := l[0]["lastUsedAt"]
		return v, ok
	}
	if v, ok := lastUsed(); ok {
		t.Fatalf("list: lastUsedAt %s before any use", v)
	}
	var raw string
	_ = json.Unmarshal(tok["accessToken"], &raw)
	if r := n.do(t, "POST", "/api/integrations/chat/system", "bearer:"+raw, map[string]string{"body": "hi"}); r.status != 200 {
		t.Fatalf("use: %d %s", r.status, r.body)
	}
	v, ok := lastUsed()
	var at string
	if !ok || json.Unmarshal(v, &at) != nil || at == "" {
		t.Fatalf("after use: lastUsedAt %s (present %v), want a time string", v, ok)
	}
}
