package owncast_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/surface/owncast"
)

// Each socket of a disabled user is told once, as by Owncast: the account's
// revocation and the chat's own event both reach the socket, and each sent
// an ERROR_USER_DISABLED.
func TestDisabledUserToldOnce(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	troll, watcher := n.register(t, "troll"), n.register(t, "watcher")
	tc, wc := n.dial(t, troll.AccessToken), n.dial(t, watcher.AccessToken)
	tc.await("CONNECTED_USER_INFO", nil)
	wc.await("CONNECTED_USER_INFO", nil)
	if r := n.do(t, "POST", "/api/admin/chat/users/setenabled", "admin",
		map[string]any{"userId": troll.ID, "enabled": false}); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	tc.await("ERROR_USER_DISABLED", nil)
	tc.awaitClosed()
	close(tc.events) // the reader has stopped: what is left arrived before the close
	for ev := range tc.events {
		if ev["type"] == "ERROR_USER_DISABLED" {
			t.Errorf("a second ERROR_USER_DISABLED: %v", ev)
		}
	}
}

// The removal notice everyone's chat shows is Owncast's, the name in bold
// ("**name** has been removed from chat.").
func TestRemovalNoticeNameInBold(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	troll, watcher := n.register(t, "troll"), n.register(t, "watcher")
	wc := n.dial(t, watcher.AccessToken)
	wc.await("CONNECTED_USER_INFO", nil)
	if r := n.do(t, "POST", "/api/admin/chat/users/setenabled", "admin",
		map[string]any{"userId": troll.ID, "enabled": false}); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	a := wc.await("CHAT_ACTION", nil)
	if body, _ := a["body"].(string); body != "<p><strong>troll</strong> has been removed from chat.</p>" {
		t.Errorf("removal notice %q, want Owncast's (the name in bold)", body)
	}
}

// Owncast's admin server settings page shows serverconfig's webServerPort
// and saves a change through config/webserverport: Hearth lists the port its
// listener is bound to, accepts that port and refuses another with a message
// the page shows (the listener is --addr, bound at start).
func TestWebServerPort(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{webPort: 8080})
	var cfg map[string]any
	n.do(t, "GET", "/api/admin/serverconfig", "admin", nil).json(t, &cfg)
	if p, ok := cfg["webServerPort"].(float64); !ok || p != 8080 {
		t.Errorf("serverconfig webServerPort %v, want 8080", cfg["webServerPort"])
	}
	if r := n.do(t, "POST", "/api/admin/config/webserverport", "admin", map[string]any{"value": 8080}); r.status != 200 {
		t.Errorf("the bound port: %d %s", r.status, r.body)
	}
	var res map[string]any
	r := n.do(t, "POST", "/api/admin/config/webserverport", "admin", map[string]any{"value": 8081})
	r.json(t, &res)
	if msg, _ := res["message"].(string); r.status != 400 || res["success"] != false || !strings.Contains(msg, "--addr") {
		t.Errorf("another port: %d %s", r.status, r.body)
	}
}

// A colour change gets the user's socket one CONNECTED_USER_INFO with the
// new colour, as from Owncast; the socket's own answer and the chat's
// user-updated event each sent one. A second change follows the first: its
// info comes after all the first one's (one event stream, in order).
func TestColorChangeToldOnce(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{chat: func(o *owncast.ChatOptions) { o.FloodRate = -1 }})
	u := n.register(t, "painter")
	c := n.dial(t, u.AccessToken)
	c.await("CONNECTED_USER_INFO", nil)
	c.send(map[string]any{"type": "COLOR_CHANGE", "newColor": 3})
	c.send(map[string]any{"type": "COLOR_CHANGE", "newColor": 5})
	infos := 0
	timeout := time.After(hangGuard)
	for done := false; !done; {
		select {
		case ev := <-c.events:
			if ev["type"] != "CONNECTED_USER_INFO" {
				continue
			}
			switch user, _ := ev["user"].(map[string]any); user["displayColor"] {
			case float64(3):
				infos++
			case float64(5):
				done = true
			}
		case <-timeout:
			t.Fatal("no CONNECTED_USER_INFO with the second colour")
		}
	}
	if infos != 1 {
		t.Errorf("%d CONNECTED_USER_INFO with the first colour, want 1", infos)
	}
}
