package app_test

import (
	"encoding/json"
	"strings"
	"testing"

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
			code := call(t, "POST", base+"/channels/"+ch.ID+"/messages", bob.AccessToken, map[string]any{"content": content}, &m)
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
