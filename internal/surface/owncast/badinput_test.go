package owncast_test

import (
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/surface/owncast"
)

// TestBadInputNeverFails500: malformed bodies on every Owncast chat/admin
// route get a 4xx in Owncast's shape, never a 500, panic or hang.
func TestBadInputNeverFails500(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	u := n.register(t, "")
	var tok map[string]any
	n.do(t, "POST", "/api/admin/accesstokens/create", "admin", map[string]any{"name": "t",
		"scopes": []string{"CAN_SEND_SYSTEM_MESSAGES", "CAN_SEND_MESSAGES", "HAS_ADMIN_ACCESS"}}).json(t, &tok)
	bearer := "bearer:" + tok["accessToken"].(string)
	n.do(t, "POST", "/api/admin/chat/users/setmoderator", "admin", map[string]any{"userId": u.ID, "isModerator": true})
	routes := []struct{ path, auth string }{
		{"/api/chat/register", ""},
		{"/api/chat/messagevisibility?accessToken=" + u.AccessToken, ""},
		{"/api/chat/users/setenabled?accessToken=" + u.AccessToken, ""},
		{"/api/integrations/chat/system", bearer},
		{"/api/integrations/chat/send", bearer},
		{"/api/integrations/chat/action", bearer},
		{"/api/integrations/chat/messagevisibility", bearer},
		{"/api/integrations/streamtitle", bearer},
		{"/api/integrations/chat/system/client/abc", bearer},
		{"/api/admin/webhooks/create", "admin"},
		{"/api/admin/webhooks/delete", "admin"},
		{"/api/admin/accesstokens/create", "admin"},
		{"/api/admin/accesstokens/delete", "admin"},
		{"/api/admin/emoji/upload", "admin"},
		{"/api/admin/emoji/delete", "admin"},
		{"/api/admin/chat/users/setmoderator", "admin"},
		{"/api/admin/chat/users/ipbans/create", "admin"},
		{"/api/admin/config/name", "admin"},
		{"/api/admin/config/tags", "admin"},
		{"/api/admin/config/socialhandles", "admin"},
		{"/api/admin/config/appearance", "admin"},
		{"/api/admin/config/logo", "admin"},
		{"/api/admin/config/adminpass", "admin"},
		{"/api/admin/config/externalactions", "admin"},
		{"/api/admin/config/notifications/discord", "admin"},
		{"/api/admin/config/serverurl", "admin"},
	}
	bodies := []string{"", "null", "[]", "{", "{}", `{"value":null}`, `{"value":{"a":[1,2]}}`, `{"value":12}`,
		`{"idArray":null,"visible":"x"}`, `{"userId":"' OR 1=1--","enabled":false}`, `{"body":""}`,
		`{"name":"../../x","data":"%%%"}`, `{"url":"` + strings.Repeat("a", 5000) + `","events":["CHAT"]}`,
		`{"token":null}`, `{"id":{"x":1}}`, "\x00\xff\xfe", `{"value":"` + strings.Repeat("x", 70000) + `"}`}
	for _, rt := range routes {
		for _, b := range bodies {
			r := n.do(t, "POST", rt.path, rt.auth, b)
			if r.status >= 500 {
				t.Errorf("POST %s %.40q: %d %s", rt.path, b, r.status, r.body)
			}
		}
	}
	// The server still answers.
	if r := n.do(t, "GET", "/api/config", "", nil); r.status != 200 {
		t.Fatalf("after bad input: %d", r.status)
	}
}

// TestSocketGarbage: junk frames are ignored, an over-limit frame closes
// only that socket, and the chat keeps working for everyone else.
func TestSocketGarbage(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{chat: func(o *owncast.ChatOptions) { o.FloodRate = -1 }})
	junk, good := n.register(t, ""), n.register(t, "")
	jc, gc := n.dial(t, junk.AccessToken), n.dial(t, good.AccessToken)
	jc.await("CONNECTED_USER_INFO", nil)
	gc.await("CONNECTED_USER_INFO", nil)
	for _, f := range []string{"", "null", "[]", "{", `{"type":"NOPE"}`, `{"type":"CHAT","body":42}`, `{"type":"COLOR_CHANGE","newColor":"x"}`,
		`{"type":"NAME_CHANGE","newName":""}`, "\x00\xff", `{"type":"CHAT"}`} {
		if err := jc.ws.Write(t.Context(), websocket.MessageText, []byte(f)); err != nil {
			t.Fatalf("write %q: %v", f, err)
		}
	}
	jc.send(map[string]any{"type": "CHAT", "body": "still here"})
	if ev := gc.await("CHAT", nil); ev["body"] != "<p>still here</p>" {
		t.Fatalf("after junk: %v", ev)
	}
	if err := jc.ws.Write(t.Context(), websocket.MessageText, []byte(strings.Repeat("x", 5000))); err != nil {
		t.Fatalf("write big: %v", err)
	}
	jc.awaitClosed()
	gc.send(map[string]any{"type": "CHAT", "body": "others unaffected"})
	gc.await("CHAT", func(e map[string]any) bool { return e["body"] == "<p>others unaffected</p>" })
}

func TestConnectionCap(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{chat: func(o *owncast.ChatOptions) { o.MaxConnections = 1 }})
	u := n.register(t, "")
	c := n.dial(t, u.AccessToken)
	c.await("CONNECTED_USER_INFO", nil)
	r := n.do(t, "GET", "/ws?accessToken="+u.AccessToken, "", nil, "Connection", "Upgrade", "Upgrade", "websocket",
		"Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if r.status != 503 || !strings.Contains(string(r.body), "ERROR_MAX_CONNECTIONS_EXCEEDED") {
		t.Fatalf("over the cap: %d %s", r.status, r.body)
	}
}
