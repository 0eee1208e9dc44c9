package owncast_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/surface/owncast"
)

func TestModeration(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{chat: func(o *owncast.ChatOptions) { o.FloodRate = -1 }})
	troll, mod := n.register(t, "troll"), n.register(t, "mod")
	tc, mc := n.dial(t, troll.AccessToken), n.dial(t, mod.AccessToken)
	tc.await("CONNECTED_USER_INFO", nil)
	mc.await("CONNECTED_USER_INFO", nil)
	tc.send(map[string]any{"type": "CHAT", "body": "first"})
	first := mc.await("CHAT", nil)

	// Not a moderator yet: the moderator routes refuse.
	if r := n.do(t, "POST", "/api/chat/messagevisibility?accessToken="+mod.AccessToken, "",
		map[string]any{"idArray": []string{first["id"].(string)}, "visible": false}); r.status != 401 {
		t.Fatalf("non-moderator hide: %d", r.status)
	}
	if r := n.do(t, "POST", "/api/admin/chat/users/setmoderator", "admin", map[string]any{"userId": mod.ID, "isModerator": true}); r.status != 200 {
		t.Fatalf("setmoderator: %d %s", r.status, r.body)
	}
	mc.await("CONNECTED_USER_INFO", func(e map[string]any) bool {
		sc, _ := e["user"].(map[string]any)["scopes"].([]any)
		return len(sc) == 1 && sc[0] == "MODERATOR"
	})
	var mods []map[string]any
	n.do(t, "GET", "/api/admin/chat/users/moderators", "admin", nil).json(t, &mods)
	if len(mods) != 1 || mods[0]["id"] != mod.ID {
		t.Fatalf("moderators %v", mods)
	}

	// Hide through the moderator route: a VISIBILITY-UPDATE reaches another
	// user's socket, the message leaves /api/chat, the admin still sees it,
	// with the time it was hidden (it was the message's own time).
	beforeHide := time.Now().Truncate(time.Microsecond)
	if r := n.do(t, "POST", "/api/chat/messagevisibility?accessToken="+mod.AccessToken, "",
		map[string]any{"idArray": []string{first["id"].(string)}, "visible": false}); r.status != 200 {
		t.Fatalf("moderator hide: %d %s", r.status, r.body)
	}
	vu := tc.await("VISIBILITY-UPDATE", nil)
	if vu["visible"] != false || vu["ids"].([]any)[0] != first["id"] {
		t.Fatalf("VISIBILITY-UPDATE %v", vu)
	}
	var hist []map[string]any
	n.do(t, "GET", "/api/chat?accessToken="+mod.AccessToken, "", nil).json(t, &hist)
	if len(hist) != 0 {
		t.Fatalf("hidden message still listed: %v", hist)
	}
	n.do(t, "GET", "/api/admin/chat/messages", "admin", nil).json(t, &hist)
	if len(hist) != 1 || hist[0]["hiddenAt"] == nil {
		t.Fatalf("admin view %v", hist)
	}
	if at, err := time.Parse(time.RFC3339Nano, hist[0]["hiddenAt"].(string)); err != nil || at.Before(beforeHide) {
		t.Errorf("hiddenAt %v, want the time it was hidden (not before %v)", hist[0]["hiddenAt"], beforeHide)
	}

	// Moderator's user details.
	var det map[string]any
	r := n.do(t, "GET", "/api/moderation/chat/user/"+troll.ID+"?accessToken="+mod.AccessToken, "", nil)
	r.json(t, &det)
	if r.status != 200 || det["user"].(map[string]any)["id"] != troll.ID || len(det["connectedClients"].([]any)) != 1 || len(det["messages"].([]any)) != 1 {
		t.Fatalf("user details %d %s", r.status, r.body)
	}

	// Disable: the user's socket gets ERROR_USER_DISABLED and closes,
	// everyone gets the removal notice, reconnecting is refused.
	tc.send(map[string]any{"type": "CHAT", "body": "second"})
	mc.await("CHAT", func(e map[string]any) bool { return e["body"] == "<p>second</p>" })
	if r := n.do(t, "POST", "/api/chat/users/setenabled?accessToken="+mod.AccessToken, "",
		map[string]any{"userId": troll.ID, "enabled": false}); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	tc.await("ERROR_USER_DISABLED", nil)
	tc.awaitClosed()
	got := mc.awaitAll("CHAT_ACTION", "VISIBILITY-UPDATE")
	if a := got["CHAT_ACTION"]; !strings.Contains(a["body"].(string), "removed from chat") {
		t.Fatalf("removal notice %v", a)
	}
	var disabled []map[string]any
	n.do(t, "GET", "/api/admin/chat/users/disabled", "admin", nil).json(t, &disabled)
	if len(disabled) != 1 || disabled[0]["id"] != troll.ID || disabled[0]["disabledAt"] == nil {
		t.Fatalf("disabled users %v", disabled)
	}
	if r := n.do(t, "GET", "/api/chat?accessToken="+troll.AccessToken, "", nil); r.status != 401 {
		t.Fatalf("disabled user history: %d", r.status)
	}
	again := n.dial(t, troll.AccessToken)
	again.await("ERROR_USER_DISABLED", nil)
	again.awaitClosed()

	// Re-enable: the same token works again.
	if r := n.do(t, "POST", "/api/admin/chat/users/setenabled", "admin", map[string]any{"userId": troll.ID, "enabled": true}); r.status != 200 {
		t.Fatalf("enable: %d", r.status)
	}
	if r := n.do(t, "GET", "/api/chat?accessToken="+troll.AccessToken, "", nil); r.status != 200 {
		t.Fatalf("re-enabled user history: %d", r.status)
	}
}

func TestIPBans(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	u := n.register(t, "")
	for _, ip := range []string{"127.0.0.1", "::1"} {
		if r := n.do(t, "POST", "/api/admin/chat/users/ipbans/create", "admin", map[string]any{"value": ip}); r.status != 200 {
			t.Fatalf("ban %s: %d", ip, r.status)
		}
	}
	for _, bad := range []string{"' OR 1=1--", "1.2.3.4; DROP TABLE owncast_ip_bans", ""} {
		if r := n.do(t, "POST", "/api/admin/chat/users/ipbans/create", "admin", map[string]any{"value": bad}); r.status != 400 {
			t.Fatalf("ban %q: %d", bad, r.status)
		}
	}
	var bans []map[string]any
	n.do(t, "GET", "/api/admin/chat/users/ipbans", "admin", nil).json(t, &bans)
	if len(bans) != 2 {
		t.Fatalf("bans %v", bans)
	}
	if r := n.do(t, "GET", "/api/chat?accessToken="+u.AccessToken, "", nil); r.status != 401 {
		t.Fatalf("banned history: %d", r.status)
	}
	if r := n.do(t, "GET", "/ws?accessToken="+u.AccessToken, "", nil, "Connection", "Upgrade", "Upgrade", "websocket",
		"Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="); r.status != 403 {
		t.Fatalf("banned socket: %d", r.status)
	}
	if r := n.do(t, "POST", "/api/chat/register", "", nil); r.status != 401 {
		t.Fatalf("banned register: %d", r.status)
	}
	for _, ip := range []string{"127.0.0.1", "::1"} {
		n.do(t, "POST", "/api/admin/chat/users/ipbans/remove", "admin", map[string]any{"value": ip})
	}
	n.do(t, "GET", "/api/admin/chat/users/ipbans", "admin", nil).json(t, &bans)
	if len(bans) != 0 {
		t.Fatalf("bans after removal %v", bans)
	}
	if r := n.do(t, "GET", "/api/chat?accessToken="+u.AccessToken, "", nil); r.status != 200 {
		t.Fatalf("unbanned history: %d", r.status)
	}
}

// TestIPBanCoversIPv6Prefix: a ban of an IPv6 address covers its /64
// (one host normally holds a whole /64, so the next address would walk
// past a ban of one), for the chat history, the socket and registration,
// while the ban is listed, and lifted, as the address given; an IPv4 ban
// covers that address alone. The addresses come through X-Forwarded-For
// with TrustProxy (this machine may have no routable IPv6).
func TestIPBanCoversIPv6Prefix(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{chat: func(o *owncast.ChatOptions) { o.TrustProxy = true }})
	u := n.register(t, "")
	banned := func(from string) []string {
		var refused []string
		if r := n.do(t, "GET", "/api/chat?accessToken="+u.AccessToken, "", nil, "X-Forwarded-For", from); r.status == 401 {
			refused = append(refused, "history")
		} else if r.status != 200 {
			t.Fatalf("history from %s: %d %s", from, r.status, r.body)
		}
		ws, res, err := websocket.Dial(context.Background(), strings.Replace(n.url, "http", "ws", 1)+"/ws?accessToken="+u.AccessToken,
			&websocket.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": {from}}})
		switch {
		case err == nil:
			_ = ws.CloseNow()
		case res != nil && res.StatusCode == 403:
			refused = append(refused, "socket")
		default:
			t.Fatalf("socket from %s: %v", from, err)
		}
		if r := n.do(t, "POST", "/api/chat/register", "", nil, "X-Forwarded-For", from); r.status == 401 {
			refused = append(refused, "register")
		} else if r.status != 200 {
			t.Fatalf("register from %s: %d %s", from, r.status, r.body)
		}
		return refused
	}
	for _, ip := range []string{"2001:db8:1:2::1", "192.0.2.1"} {
		if r := n.do(t, "POST", "/api/admin/chat/users/ipbans/create", "admin", map[string]any{"value": ip}); r.status != 200 {
			t.Fatalf("ban %s: %d %s", ip, r.status, r.body)
		}
	}
	var bans []map[string]any
	n.do(t, "GET", "/api/admin/chat/users/ipbans", "admin", nil).json(t, &bans)
	if len(bans) != 2 || bans[0]["ipAddress"] != "2001:db8:1:2::1" || bans[1]["ipAddress"] != "192.0.2.1" {
		t.Fatalf("bans %v, want the two addresses as given", bans)
	}
	all := []string{"history", "socket", "register"}
	for from, want := range map[string][]string{
		"2001:db8:1:2::1": all, "2001:db8:1:2:ffff:ffff:ffff:ffff": all, "2001:db8:1:2:abcd::9": all,
		"2001:db8:1:3::1": nil, "192.0.2.1": all, "192.0.2.2": nil,
	} {
		if got := banned(from); !slices.Equal(got, want) {
			t.Errorf("from %s: refused %v, want %v", from, got, want)
		}
	}
	if r := n.do(t, "POST", "/api/admin/chat/users/ipbans/remove", "admin", map[string]any{"value": "2001:db8:1:2::1"}); r.status != 200 {
		t.Fatalf("unban: %d %s", r.status, r.body)
	}
	if got := banned("2001:db8:1:2:abcd::9"); got != nil {
		t.Errorf("after the ban is lifted: refused %v", got)
	}
}

func TestEstablishedUserMode(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	if r := n.do(t, "POST", "/api/admin/config/chat/establishedusermode", "admin", map[string]any{"value": true}); r.status != 200 {
		t.Fatalf("enable mode: %d", r.status)
	}
	u := n.register(t, "")
	c := n.dial(t, u.AccessToken)
	c.await("CONNECTED_USER_INFO", nil)
	c.send(map[string]any{"type": "CHAT", "body": "too new"})
	if a := c.await("CHAT_ACTION", nil); !strings.Contains(a["body"].(string), "established") {
		t.Fatalf("notice %v", a)
	}
	var hist []map[string]any
	n.do(t, "GET", "/api/admin/chat/messages", "admin", nil).json(t, &hist)
	if len(hist) != 0 {
		t.Fatalf("new user's message was stored: %v", hist)
	}
}

// TestEmojiTraversal covers research perf.md §6.2 item 7: upload and
// delete names never leave the emoji directory.
func TestEmojiTraversal(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	victim := filepath.Join(n.dataDir, "victim.txt")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	png := "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
	for _, name := range []string{"../victim.txt", "../../etc/passwd", "/etc/passwd", "..%2fvictim.txt", "a\x00b.png", "sub/dir.png", ".."} {
		if r := n.do(t, "POST", "/api/admin/emoji/upload", "admin", map[string]any{"name": name, "data": png}); r.status != 400 {
			t.Errorf("upload %q: %d %s", name, r.status, r.body)
		}
		if r := n.do(t, "POST", "/api/admin/emoji/delete", "admin", map[string]any{"name": name}); r.status != 400 {
			t.Errorf("delete %q: %d %s", name, r.status, r.body)
		}
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "keep" {
		t.Fatalf("victim file touched: %q %v", b, err)
	}
	if r := n.do(t, "POST", "/api/admin/emoji/upload", "admin", map[string]any{"name": "x.svg",
		"data": "data:image/svg+xml;base64,PHN2Zz48c2NyaXB0PmFsZXJ0KDEpPC9zY3JpcHQ+PC9zdmc+"}); r.status != 400 {
		t.Fatalf("svg upload: %d", r.status)
	}
	if r := n.do(t, "POST", "/api/admin/emoji/upload", "admin", map[string]any{"name": "blob", "data": png}); r.status != 200 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	var list []map[string]string
	n.do(t, "GET", "/api/emoji", "", nil).json(t, &list)
	if len(list) != 1 || list[0]["name"] != "blob" || list[0]["url"] != "/img/emoji/blob.png" {
		t.Fatalf("emoji list %v", list)
	}
	r := n.do(t, "GET", "/img/emoji/blob.png", "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "image/png" || r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("emoji file: %d %v", r.status, r.header)
	}
	if r := n.do(t, "GET", "/img/emoji/..%2fvictim.txt", "", nil); r.status != 404 {
		t.Fatalf("traversal read: %d", r.status)
	}
	// A shortcode in chat becomes the emoji image.
	u := n.register(t, "")
	c := n.dial(t, u.AccessToken)
	c.await("CONNECTED_USER_INFO", nil)
	c.send(map[string]any{"type": "CHAT", "body": "hi :blob:"})
	if ev := c.await("CHAT", nil); ev["body"] != `<p>hi <img src="/img/emoji/blob.png" class="emoji" alt=":blob:" title=":blob:"></p>` {
		t.Fatalf("emoji render %v", ev["body"])
	}
	if r := n.do(t, "POST", "/api/admin/emoji/delete", "admin", map[string]any{"name": "blob.png"}); r.status != 200 {
		t.Fatalf("delete: %d", r.status)
	}
}

// TestEmojiDeleteForms: POST /api/admin/emoji/delete takes each name a client
// sends: the rooted name Owncast's admin sends ("/e1.png", "/img/emoji/e1.png"),
// the shortcode /api/emoji lists ("e1"), and the file name ("e1.png"). Before,
// only the file name worked ("/e1.png" was 400, "e1" 404). A name with no
// emoji is Owncast's 400 "Emoji \"e1\" doesn't exist" (it was 404).
func TestEmojiDeleteForms(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	png := "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
	for _, name := range []string{"/e1.png", "/img/emoji/e1.png", "e1", "e1.png"} {
		if r := n.do(t, "POST", "/api/admin/emoji/upload", "admin", map[string]any{"name": "e1", "data": png}); r.status != 200 {
			t.Fatalf("upload: %d %s", r.status, r.body)
		}
		if r := n.do(t, "POST", "/api/admin/emoji/delete", "admin", map[string]any{"name": name}); r.status != 200 {
			t.Fatalf("delete %q: %d %s", name, r.status, r.body)
		}
		var list []map[string]string
		n.do(t, "GET", "/api/emoji", "", nil).json(t, &list)
		if len(list) != 0 {
			t.Fatalf("after deleting %q: %v", name, list)
		}
	}
	// As Owncast: 400 and its words, not 404.
	if r := n.do(t, "POST", "/api/admin/emoji/delete", "admin", map[string]any{"name": "e1"}); r.status != 400 ||
		string(r.body) != `{"message":"Emoji \"e1\" doesn't exist","success":false}`+"\n" {
		t.Fatalf("deleting a missing emoji: %d %s", r.status, r.body)
	}
}

// TestNamesInNoticesAreText: a chat name is any guest's text, and notices
// that quote it go to everyone as rendered Markdown; the name stays text
// there (no link, image or emphasis of the guest's making).
func TestNamesInNoticesAreText(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	const name = "[prize](https://phish.io)*x*"
	spam, watcher := n.register(t, name), n.register(t, "watcher")
	wc := n.dial(t, watcher.AccessToken)
	wc.await("CONNECTED_USER_INFO", nil)
	if r := n.do(t, "POST", "/api/admin/chat/users/setenabled", "admin", map[string]any{"userId": spam.ID, "enabled": false}); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	a := wc.await("CHAT_ACTION", nil)
	body, _ := a["body"].(string)
	if !strings.Contains(body, "removed from chat") || strings.Contains(body, "<a") || strings.Contains(body, "<em") ||
		!strings.Contains(body, "[prize](https://phish.io)*x*") {
		t.Fatalf("removal notice %q", body)
	}
}
