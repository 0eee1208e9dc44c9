package app_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/app"
	"github.com/hearth-community/hearth/internal/config"
)

// TestBoundStageChannelFollowsChatRules: a stage channel an instance admin
// bound to the default stage reads and writes Owncast's chat, so a
// Together post there meets the chat's own rules as a chat message does:
// none while the admin has switched chat off, the word filter censors it,
// and the established-user mode holds a new account back. Each post the
// chat refuses is refused (403) and never reaches the chat's history.
// Before, only the channel's rules applied: members chatted in a chat the
// admin had switched off, and past its filter.
func TestBoundStageChannelFollowsChatRules(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, cfg config.Config) {
		bc := boundChatChannel(t, cfg)
		base, bob, ch := bc.base, bc.bob, bc.channel
		var viewer struct{ AccessToken string }
		if code := call(t, "POST", base+"/api/chat/register", "", map[string]any{"displayName": "viewer"}, &viewer); code != 200 {
			t.Fatalf("chat register: %d", code)
		}
		history := func() string {
			t.Helper()
			code, _, b := get(t, base+"/api/chat?accessToken="+viewer.AccessToken)
			if code != 200 {
				t.Fatalf("chat history: %d %s", code, b)
			}
			var ms []struct{ Body string }
			if err := json.Unmarshal(b, &ms); err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, m := range ms {
				out = append(out, m.Body)
			}
			return strings.Join(out, "\n")
		}
		post := func(content string) (int, string) {
			t.Helper()
			var m struct{ Content string }
			code := call(t, "POST", base+"/channels/"+ch+"/messages", bob.AccessToken, map[string]any{"content": content}, &m)
			return code, m.Content
		}
		set := func(path string, v any) {
			t.Helper()
			if code, b := owncastAdmin(t, base, "POST", "/api/admin/config/"+path, map[string]any{"value": v}); code != 200 {
				t.Fatalf("%s: %d %s", path, code, b)
			}
		}

		set("chat/disable", true)
		if code, _ := post("while chat is off"); code != 403 {
			t.Errorf("post with chat switched off: %d, want 403", code)
		}
		if h := history(); strings.Contains(h, "while chat is off") {
			t.Errorf("a post refused reached the chat: %q", h)
		}
		set("chat/disable", false)
		if code, _ := post("chat is on"); code != 201 {
			t.Errorf("post with chat on: %d, want 201", code)
		}

		set("chat/filteredwords", []string{"frobnicate"})
		set("chat/slurfilterenabled", true)
		if code, content := post("please frobnicate now"); code != 201 || content != "please ********** now" {
			t.Errorf("filtered post: %d %q, want 201 with the word censored", code, content)
		}
		if h := history(); strings.Contains(h, "frobnicate") || !strings.Contains(h, "please ********** now") {
			t.Errorf("the chat shows the filtered word: %q", h)
		}
		set("chat/slurfilterenabled", false)

		set("chat/establishedusermode", true)
		if code, _ := post("too new to chat"); code != 403 {
			t.Errorf("a new account's post in established-user mode: %d, want 403", code)
		}
		if h := history(); strings.Contains(h, "too new to chat") {
			t.Errorf("a post refused reached the chat: %q", h)
		}
	})
}

// boundChat is a node with a public server whose stage channel the admin
// bound to the default stage, and bob a member of it (boundChatChannel).
type boundChat struct {
	a               *app.App
	base            string
	admin, bob      login
	server, channel string
}

// boundChatChannel starts a node with a public server whose stage channel
// the admin bound to the default stage, and bob a member of it.
func boundChatChannel(t *testing.T, cfg config.Config) boundChat {
	t.Helper()
	a, _ := start(t, cfg, nil)
	base := a.HTTP.URL()
	admin, bob := adminLogin(t, base), register(t, base, "bob")
	srv := newServer(t, base, admin.AccessToken)
	if code := call(t, "POST", base+"/servers/"+srv+"/join", bob.AccessToken, nil, nil); code != 200 && code != 201 {
		t.Fatalf("join: %d", code)
	}
	var ch struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+srv+"/channels", admin.AccessToken,
		map[string]any{"name": "Main", "type": "stage", "stage_id": "default"}, &ch); code != 201 {
		t.Fatalf("bound stage channel: %d", code)
	}
	return boundChat{a: a, base: base, admin: admin, bob: bob, server: srv, channel: ch.ID}
}

// TestBoundStageChannelHidesModeratedMessages: a chat message the stage
// chat's moderation hid is gone for the Together members of a channel
// bound to the default stage, as its list and the MESSAGE_DELETE they were
// sent say: read by id, its reactions and thread, a pin and a reply to it
// are the unknown message's 404. Before, it was read by id (200, its
// content), pinned and replied to.
func TestBoundStageChannelHidesModeratedMessages(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, cfg config.Config) {
		bc := boundChatChannel(t, cfg)
		base, admin, bob, ch := bc.base, bc.admin, bc.bob, bc.channel
		var m struct{ ID string }
		if code := call(t, "POST", base+"/channels/"+ch+"/messages", bob.AccessToken, map[string]any{"content": "to be hidden"}, &m); code != 201 {
			t.Fatalf("post: %d", code)
		}
		if code, b := owncastAdmin(t, base, "POST", "/api/admin/chat/messagevisibility",
			map[string]any{"idArray": []string{m.ID}, "visible": false}); code != 200 {
			t.Fatalf("hide: %d %s", code, b)
		}
		msg := base + "/channels/" + ch + "/messages/" + m.ID
		for _, c := range []struct {
			method, url, token string
			body               any
		}{
			{"GET", msg, bob.AccessToken, nil},
			{"GET", msg + "/reactions", bob.AccessToken, nil},
			{"GET", msg + "/thread", bob.AccessToken, nil},
			{"PUT", msg + "/reactions/%F0%9F%91%8D", bob.AccessToken, nil},
			{"POST", msg + "/thread", bob.AccessToken, map[string]any{"content": "in its thread"}},
			{"POST", msg + "/pin", admin.AccessToken, nil},
			{"POST", base + "/channels/" + ch + "/messages", bob.AccessToken, map[string]any{"content": "a reply", "reply_to": m.ID}},
		} {
			var e struct{ Error string }
			if code := call(t, c.method, c.url, c.token, c.body, &e); code != 404 {
				t.Errorf("%s %s of a hidden message: %d %q, want 404", c.method, c.url, code, e.Error)
			}
		}
	})
}
