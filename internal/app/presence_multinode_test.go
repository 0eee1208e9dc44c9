package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestPresenceCountsConnectionsOnEveryNode: a Together user with one tab on
// node A and one on node B stays online when the tab on A closes, and goes
// offline (announced once) only when the last tab, on B, closes.
func TestPresenceCountsConnectionsOnEveryNode(t *testing.T) {
	t.Parallel()
	urlA, urlB := twoNodes(t)

	type auth struct {
		AccessToken string `json:"access_token"`
		User        struct{ ID string }
	}
	register := func(name string) auth {
		var a auth
		if code := call(t, "POST", urlA+"/auth/register", "", map[string]string{"username": name, "password": "password1"}, &a); code != 201 {
			t.Fatalf("register %s: %d", name, code)
		}
		return a
	}
	watcher, tabby := register("watcher"), register("tabby")
	var srv struct{ ID string }
	if code := call(t, "POST", urlA+"/servers", watcher.AccessToken, map[string]any{"name": "Hangout", "is_public": true}, &srv); code != 201 {
		t.Fatalf("create server: %d", code)
	}
	if code := call(t, "POST", urlA+"/servers/"+srv.ID+"/join", tabby.AccessToken, nil, nil); code != 201 {
		t.Fatalf("join: %d", code)
	}
	var ch struct{ ID string }
	if code := call(t, "POST", urlA+"/servers/"+srv.ID+"/channels", watcher.AccessToken, map[string]string{"name": "general", "type": "text"}, &ch); code != 201 {
		t.Fatalf("create channel: %d", code)
	}

	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	dial := func(base, token string) *websocket.Conn {
		ws, _, err := websocket.Dial(ctx, "ws"+base[4:]+"/ws?token="+token, nil)
		if err != nil {
			t.Fatalf("gateway: %v", err)
		}
		t.Cleanup(func() { ws.CloseNow() })
		return ws
	}
	type presenceEvent struct {
		UserID string `json:"user_id"`
		Status string `json:"status"`
	}
	obs := dial(urlA, watcher.AccessToken)
	// next returns the watcher's next PRESENCE_UPDATE about tabby, or the
	// content of a MESSAGE_CREATE (used as a marker).
	next := func() (presence string, marker string) {
		for {
			_, b, err := obs.Read(ctx)
			if err != nil {
				t.Fatalf("watcher read: %v", err)
			}
			var f struct {
				T string          `json:"t"`
				D json.RawMessage `json:"d"`
			}
			_ = json.Unmarshal(b, &f)
			switch f.T {
			case "PRESENCE_UPDATE":
				var p presenceEvent
				_ = json.Unmarshal(f.D, &p)
				if p.UserID == tabby.User.ID {
					return p.Status, ""
				}
			case "MESSAGE_CREATE":
				var m struct{ Content string }
				_ = json.Unmarshal(f.D, &m)
				return "", m.Content
			}
		}
	}
	marker := func(text string) {
		t.Helper()
		if code := call(t, "POST", urlA+"/channels/"+ch.ID+"/messages", watcher.AccessToken, map[string]string{"content": text}, nil); code != 201 {
			t.Fatalf("marker: %d", code)
		}
		for {
			// A repeated "online" is harmless (two tabs opened on two
			// nodes within the same few milliseconds may both announce
			// it); an "offline" while a tab is open is the bug.
			p, m := next()
			if p == "offline" {
				t.Fatalf("PRESENCE_UPDATE offline for tabby before marker %q", text)
			}
			if m == text {
				return
			}
		}
	}
	localSockets := func(base string) int {
		var h struct {
			Connections struct{ Websocket int } `json:"connections"`
		}
		if code := call(t, http.MethodGet, base+"/health", "", nil, &h); code != 200 {
			t.Fatalf("health: %d", code)
		}
		return h.Connections.Websocket
	}
	// READY first.
	if _, b, err := obs.Read(ctx); err != nil || !json.Valid(b) {
		t.Fatalf("READY: %v", err)
	}

	tabA := dial(urlA, tabby.AccessToken)
	if p, _ := next(); p != "online" {
		t.Fatalf("first tab: PRESENCE_UPDATE %q, want online", p)
	}
	tabB := dial(urlB, tabby.AccessToken)
	_, _, _ = tabB.Read(ctx) // READY
	// The second tab is no transition, and closing the first is none either.
	tabA.Close(websocket.StatusNormalClosure, "")
	for localSockets(urlA) != 1 {
		time.Sleep(5 * time.Millisecond)
	}
	marker("after closing the tab on A")
	var me struct{ Status string }
	if code := call(t, "GET", urlB+"/users/@me", tabby.AccessToken, nil, &me); code != 200 || me.Status != "online" {
		t.Fatalf("tabby with a tab open on B: %d status %q, want online", code, me.Status)
	}

	tabB.Close(websocket.StatusNormalClosure, "")
	if p, _ := next(); p != "offline" {
		t.Fatalf("last tab closed: PRESENCE_UPDATE %q, want offline", p)
	}
	marker("after the last tab") // no second offline from the other node
}

// TestViewerCountAcrossNodes: Owncast's viewerCount counts the viewers
// whose pings reach any node, on every node.
func TestViewerCountAcrossNodes(t *testing.T) {
	t.Parallel()
	urlA, urlB := twoNodes(t)
	ping := func(base, agent string) {
		req, _ := http.NewRequest("GET", base+"/api/ping", nil)
		req.Header.Set("User-Agent", agent)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("ping: %d", res.StatusCode)
		}
	}
	ping(urlA, "viewer-one")
	ping(urlB, "viewer-two")
	ping(urlB, "viewer-three")
	for _, base := range []string{urlA, urlB} {
		deadline := time.Now().Add(hangGuard)
		for {
			var st struct {
				ViewerCount int `json:"viewerCount"`
			}
			req, _ := http.NewRequest("GET", base+"/api/admin/status", nil)
			req.SetBasicAuth("admin", "adminpassword")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = json.NewDecoder(res.Body).Decode(&st)
			res.Body.Close()
			if st.ViewerCount == 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: viewerCount %d, want 3 (viewers on both nodes)", base, st.ViewerCount)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
