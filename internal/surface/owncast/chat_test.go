package owncast_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/surface/owncast"
)

func TestRegister(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	cases := []struct {
		name, body, forwarded, want string
	}{
		{"forwarded user header", "", "test-user", "test-user"},
		{"body wins over header", `{"displayName":"TestUserChat"}`, "test-user", "TestUserChat"},
		{"forbidden name replaced", `{"displayName":"Admin"}`, "", ""},
		{"sql-looking name kept verbatim", `{"displayName":"' OR 1=1--"}`, "", "' OR 1=1--"},
		{"generated when empty", "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.body != "" {
				body = c.body
			}
			r := n.do(t, "POST", "/api/chat/register", "", body, "X-Forwarded-User", c.forwarded)
			if r.status != 200 {
				t.Fatalf("status %d %s", r.status, r.body)
			}
			var reg registration
			r.json(t, &reg)
			if reg.ID == "" || reg.AccessToken == "" || reg.DisplayName == "" {
				t.Fatalf("incomplete registration %s", r.body)
			}
			if c.want != "" && reg.DisplayName != c.want {
				t.Fatalf("displayName %q, want %q", reg.DisplayName, c.want)
			}
			if strings.EqualFold(reg.DisplayName, "admin") {
				t.Fatal("forbidden name was granted")
			}
		})
	}
	// A body that is no request still registers, as in Owncast.
	for _, bad := range []string{"{not json", `{"displayName":42}`, "[]"} {
		var reg struct{ ID, AccessToken, DisplayName string }
		if r := n.do(t, "POST", "/api/chat/register", "", bad); r.status != 200 {
			t.Fatalf("body %q: %d %s", bad, r.status, r.body)
		} else if r.json(t, &reg); reg.AccessToken == "" || reg.DisplayName == "" {
			t.Fatalf("body %q: %+v", bad, reg)
		}
	}
	if r := n.do(t, "GET", "/api/chat?accessToken=nope", "", nil); r.status != 401 {
		t.Fatalf("bad token: %d", r.status)
	}
}

func TestChatRoundTrip(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{chat: func(o *owncast.ChatOptions) { o.FloodRate = -1 }})
	alice, bob := n.register(t, "alice"), n.register(t, "bob")
	a, b := n.dial(t, alice.AccessToken), n.dial(t, bob.AccessToken)
	if info := a.await("CONNECTED_USER_INFO", nil); info["user"].(map[string]any)["displayName"] != "alice" {
		t.Fatalf("user info %v", info)
	}
	b.await("CONNECTED_USER_INFO", nil)

	a.send(map[string]any{"type": "CHAT", "body": "hello **bob**"})
	ev := b.await("CHAT", nil)
	if ev["body"] != "<p>hello <strong>bob</strong></p>" || ev["user"].(map[string]any)["displayName"] != "alice" || ev["visible"] != true {
		t.Fatalf("CHAT event %v", ev)
	}

	var hist []map[string]any
	r := n.do(t, "GET", "/api/chat?accessToken="+bob.AccessToken, "", nil)
	r.json(t, &hist)
	if r.status != 200 || len(hist) != 1 || hist[0]["body"] != "<p>hello <strong>bob</strong></p>" || hist[0]["type"] != "CHAT" {
		t.Fatalf("history %d %s", r.status, r.body)
	}
	r = n.do(t, "GET", "/api/admin/chat/messages", "admin", nil)
	r.json(t, &hist)
	if r.status != 200 || len(hist) != 1 || hist[0]["user"].(map[string]any)["displayName"] != "alice" {
		t.Fatalf("admin messages %d %s", r.status, r.body)
	}
	// Owncast's stored-chat gauges: two chat users, one saved message.
	want := map[string]string{"owncast_instance_total_chat_users": "2", "owncast_instance_current_chat_message_count": "1"}
	prom := string(n.do(t, "GET", "/api/admin/prometheus", "admin", nil).body)
	for _, line := range strings.Split(prom, "\n") {
		name, rest, _ := strings.Cut(line, "{")
		if v, ok := want[name]; ok {
			if _, got, _ := strings.Cut(rest, "} "); got != v {
				t.Fatalf("%s = %q, want %s", name, got, v)
			}
			delete(want, name)
		}
	}
	if len(want) > 0 {
		t.Fatalf("prometheus lacks %v:\n%s", want, prom)
	}

	// Name changes: the others see NAME_CHANGE, the renamed user gets
	// fresh user info; a forbidden or taken name gets a notice.
	a.send(map[string]any{"type": "NAME_CHANGE", "newName": "alicia"})
	nc := b.await("NAME_CHANGE", nil)
	if nc["oldName"] != "alice" || nc["user"].(map[string]any)["displayName"] != "alicia" {
		t.Fatalf("NAME_CHANGE %v", nc)
	}
	a.await("CONNECTED_USER_INFO", func(e map[string]any) bool { return e["user"].(map[string]any)["displayName"] == "alicia" })
	a.send(map[string]any{"type": "NAME_CHANGE", "newName": "bob"})
	if n := a.await("CHAT_ACTION", nil); !strings.Contains(n["body"].(string), "already registered") {
		t.Fatalf("taken-name notice %v", n)
	}
	a.send(map[string]any{"type": "COLOR_CHANGE", "newColor": 3})
	a.await("CONNECTED_USER_INFO", func(e map[string]any) bool { return e["user"].(map[string]any)["displayColor"] == float64(3) })
}

// TestChatXSS covers research perf.md §6.2 items 1 and 3: script, event
// handler attributes and emoji traversal never reach a client.
func TestChatXSS(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{chat: func(o *owncast.ChatOptions) { o.FloodRate = -1 }})
	u := n.register(t, "mallory")
	c := n.dial(t, u.AccessToken)
	c.await("CONNECTED_USER_INFO", nil)
	bodies := []string{
		"<script>alert(1)</script>",
		`<img src=x onerror=alert(1)>`,
		`[click](javascript:alert(1))`,
		`<img src="/img/emoji/../../thumbnail.jpg" class="emoji">`,
		`<img src="/img/emoji/%2E%2E/%2E%2E/thumbnail.jpg" class="emoji">`,
		`<img src="/img/emoji/a.png" class="emoji fullscreen-overlay">`,
		`<iframe src="https://evil.example"></iframe>`,
	}
	for _, b := range bodies {
		c.send(map[string]any{"type": "CHAT", "body": b})
		ev := c.await("CHAT", nil)
		got := strings.ToLower(ev["body"].(string))
		for _, bad := range []string{"<script", "onerror", "javascript:", "thumbnail", "overlay", "<iframe", "%2e"} {
			if strings.Contains(got, bad) {
				t.Errorf("body %q delivered as %q (contains %q)", b, ev["body"], bad)
			}
		}
	}
}

func TestFloodLimit(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{chat: func(o *owncast.ChatOptions) { o.FloodRate = 0.5; o.FloodBlock = time.Minute }})
	u := n.register(t, "")
	c := n.dial(t, u.AccessToken)
	c.await("CONNECTED_USER_INFO", nil)
	for i := range 4 {
		c.send(map[string]any{"type": "CHAT", "body": "spam " + string(rune('a'+i))})
	}
	notice := c.await("CHAT_ACTION", nil)
	if !strings.Contains(notice["body"].(string), "perceived flooding") {
		t.Fatalf("flood notice %v", notice)
	}
	// Only the first message got through; the rest were dropped.
	c.send(map[string]any{"type": "CHAT", "body": "still blocked"})
	var hist []map[string]any
	n.do(t, "GET", "/api/chat?accessToken="+u.AccessToken, "", nil).json(t, &hist)
	if len(hist) != 1 || hist[0]["body"] != "<p>spam a</p>" {
		t.Fatalf("history after flood: %v", hist)
	}
}

func TestOversizePayloadNotice(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	u := n.register(t, "")
	c := n.dial(t, u.AccessToken)
	c.await("CONNECTED_USER_INFO", nil)
	c.send(map[string]any{"type": "CHAT", "body": strings.Repeat("x", owncast.MaxSocketPayload+10)})
	if ev := c.await("CHAT_ACTION", nil); !strings.Contains(ev["body"].(string), "too long") {
		t.Fatalf("oversize notice %v", ev)
	}
}

func TestSocketRejectsUnknownToken(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	c := n.dial(t, "not-a-token")
	c.await("ERROR_NEEDS_REGISTRATION", nil)
	c.awaitClosed()
}

// TestChatNamesCarryNoMarkup shows display names with HTML in them are
// stored and broadcast with the markup stripped, on register and on
// NAME_CHANGE, as Owncast does; a name with nothing left is refused with
// Owncast's notice and the user keeps their name.
func TestChatNamesCarryNoMarkup(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{chat: func(o *owncast.ChatOptions) { o.FloodRate = -1 }})
	r := n.do(t, "POST", "/api/chat/register", "", `{"displayName":"<script>alert(1)</script>mal<b>lory</b>"}`)
	var reg registration
	r.json(t, &reg)
	if r.status != 200 || reg.DisplayName != "mallory" {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	r = n.do(t, "POST", "/api/chat/register", "", nil, "X-Forwarded-User", "<img src=x onerror=alert(1)>")
	var gen registration
	r.json(t, &gen)
	if r.status != 200 || gen.DisplayName == "" || strings.ContainsAny(gen.DisplayName, "<>") {
		t.Fatalf("register from markup-only header: %d %s", r.status, r.body)
	}
	watcher := n.register(t, "watcher")
	c, w := n.dial(t, reg.AccessToken), n.dial(t, watcher.AccessToken)
	c.await("CONNECTED_USER_INFO", nil)
	w.await("CONNECTED_USER_INFO", nil)

	c.send(map[string]any{"type": "NAME_CHANGE", "newName": `<img src=x onerror=alert(1)>evil &lt;i&gt;one`})
	nc := w.await("NAME_CHANGE", nil)
	if got := nc["user"].(map[string]any)["displayName"]; got != "evil one" {
		t.Fatalf("NAME_CHANGE broadcast name %q", got)
	}
	c.await("CONNECTED_USER_INFO", func(e map[string]any) bool { return e["user"].(map[string]any)["displayName"] == "evil one" })

	c.send(map[string]any{"type": "NAME_CHANGE", "newName": "<script>x</script>  "})
	if a := c.await("CHAT_ACTION", nil); !strings.Contains(a["body"].(string), "Display name cannot be empty or contain only whitespace.") {
		t.Fatalf("empty-name notice %v", a)
	}
	c.await("CONNECTED_USER_INFO", func(e map[string]any) bool { return e["user"].(map[string]any)["displayName"] == "evil one" })
}

// TestSocketAdmission covers the chat socket's connect check (the IP ban,
// the token and its chat user, read in one store query): every revocation
// refuses the next connect, and lifting it admits the same token again.
func TestSocketAdmission(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	ok, disabled, gone := n.register(t, "ok"), n.register(t, "disabled"), n.register(t, "gone")
	upgrade := func(token string) int {
		return n.do(t, "GET", "/ws?accessToken="+token, "", nil, "Connection", "Upgrade", "Upgrade", "websocket",
			"Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==").status
	}
	isUser := func(id string) func(map[string]any) bool {
		return func(e map[string]any) bool { u, _ := e["user"].(map[string]any); return u["id"] == id }
	}
	n.dial(t, ok.AccessToken).await("CONNECTED_USER_INFO", isUser(ok.ID))

	// Disabled (while not connected, so no address is banned with it).
	if r := n.do(t, "POST", "/api/admin/chat/users/setenabled", "admin", map[string]any{"userId": disabled.ID, "enabled": false}); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	c := n.dial(t, disabled.AccessToken)
	c.await("ERROR_USER_DISABLED", nil)
	c.awaitClosed()
	if r := n.do(t, "POST", "/api/admin/chat/users/setenabled", "admin", map[string]any{"userId": disabled.ID, "enabled": true}); r.status != 200 {
		t.Fatalf("enable: %d %s", r.status, r.body)
	}
	n.dial(t, disabled.AccessToken).await("CONNECTED_USER_INFO", isUser(disabled.ID))

	// Deleted: the token leads nowhere.
	if r := n.do(t, "POST", "/api/admin/users/delete", "admin", map[string]any{"userId": gone.ID}); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	c = n.dial(t, gone.AccessToken)
	c.await("ERROR_NEEDS_REGISTRATION", nil)
	c.awaitClosed()

	// Banned address: refused before the upgrade whatever the token.
	for _, ip := range []string{"127.0.0.1", "::1"} {
		if r := n.do(t, "POST", "/api/admin/chat/users/ipbans/create", "admin", map[string]any{"value": ip}); r.status != 200 {
			t.Fatalf("ban %s: %d", ip, r.status)
		}
	}
	for _, tok := range []string{ok.AccessToken, "not-a-token", "", gone.AccessToken} {
		if st := upgrade(tok); st != 403 {
			t.Errorf("banned address, token %q: status %d, want 403", tok, st)
		}
	}
	for _, ip := range []string{"127.0.0.1", "::1"} {
		n.do(t, "POST", "/api/admin/chat/users/ipbans/remove", "admin", map[string]any{"value": ip})
	}
	n.dial(t, ok.AccessToken).await("CONNECTED_USER_INFO", isUser(ok.ID))
}
