package owncast_test

import (
	"encoding/json"
	"fmt"
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

// TestMetricsRefusalsAreOwncast400: Owncast's spec documents only 200 and 400
// for its two playback report endpoints (no default), so every refusal,
// size and rate limits included, must be a 400 with Owncast's body.
func TestMetricsRefusalsAreOwncast400(t *testing.T) {
	t.Parallel()
	n := newLiveNode(t, nil, 2)
	is400 := func(what string, code int) {
		t.Helper()
		if code != 400 {
			t.Fatalf("%s: %d, want 400", what, code)
		}
	}
	code, _ := n.report(t, "big", `{"x":"`+strings.Repeat("a", 5000)+`"}`)
	is400("playback over 4 KiB", code)
	code, _ = n.cmcd(t, "POST", "big", "", `{"e":"`+strings.Repeat("a", 70<<10)+`"}`)
	is400("cmcd over 64 KiB", code)
	code, _ = n.cmcd(t, "POST", "batch", "", "["+strings.Repeat(`{"mtp":1},`, 100)+`{"mtp":1}]`)
	is400("101 cmcd reports", code)
	// 32 players per address; the 33rd is refused on either endpoint.
	for i := 0; i < 32; i++ {
		if code, body := n.report(t, fmt.Sprintf("player-%d", i), `{"errors":0}`); code != 200 {
			t.Fatalf("player %d: %d %s", i, code, body)
		}
	}
	code, body := n.report(t, "player-33", `{"errors":0}`)
	is400("33rd player (playback)", code)
	var res struct {
		Success *bool  `json:"success"`
		Message string `json:"message"`
	}
	if json.Unmarshal([]byte(body), &res) != nil || res.Success == nil || *res.Success || res.Message == "" {
		t.Fatalf("refusal body %q is not Owncast's {success:false, message}", body)
	}
	code, _ = n.cmcd(t, "POST", "player-34", "", `{"mtp":1}`)
	is400("33rd player (cmcd)", code)
}

// TestSchedulePreflight: Owncast's spec has OPTIONS /api/schedule answer 204
// (the public schedule is read cross-origin), with no other status.
func TestSchedulePreflight(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	r := n.do(t, "OPTIONS", "/api/schedule", "", nil, "Origin", "https://example.com", "Access-Control-Request-Method", "GET")
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "GET") {
		t.Fatalf("preflight: %d %v %s", r.status, r.header, r.body)
	}
}
