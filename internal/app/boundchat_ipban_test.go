package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/messages"
)

// TestBoundStageChannelFollowsIPBans: the admin's IP bans of Owncast's
// chat (an IPv6 ban covering its /64) refused only the chat's own
// connections, so an address banned from the chat still posted into it
// through Together, in a stage channel bound to the default stage: the
// post carried no address for the chat's rules to ask about. It now
// carries the client's address as the chat reads it (X-Forwarded-For's
// last entry behind a trusted proxy), and a post from a banned address is
// refused (403, Together's error shape) and never reaches the chat; the
// same account from another address posts.
func TestBoundStageChannelFollowsIPBans(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, cfg config.Config) {
		cfg.TrustProxy = true
		bc := boundChatChannel(t, cfg)
		a, base, bob := bc.a, bc.base, bc.bob
		ch := bc.channel
		post := func(path, from, content string) (int, map[string]any) {
			t.Helper()
			b, _ := json.Marshal(map[string]string{"content": content})
			req, _ := http.NewRequest("POST", base+path, bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+bob.AccessToken)
			req.Header.Set("X-Forwarded-For", from)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var out map[string]any
			_ = json.NewDecoder(res.Body).Decode(&out)
			return res.StatusCode, out
		}
		path := "/channels/" + ch + "/messages"
		if code, _ := post(path, "2001:db8:1:2::77", "before the ban"); code != 201 {
			t.Fatalf("post before the ban: %d", code)
		}
		if code, b := owncastAdmin(t, base, "POST", "/api/admin/chat/users/ipbans/create", map[string]any{"value": "2001:db8:1:2::5"}); code != 200 {
			t.Fatalf("ip ban: %d %s", code, b)
		}
		// The banned address, another of its /64, and the one the trusted
		// proxy appended after an address the client wrote.
		for _, from := range []string{"2001:db8:1:2::5", "2001:db8:1:2::77", "198.51.100.9, 2001:db8:1:2::78"} {
			if code, out := post(path, from, "banned from "+from); code != 403 || out["error"] == nil || out["error"] == "" {
				t.Errorf("a post from %s: %d %v, want 403 in Together's error shape", from, code, out)
			}
		}
		// The same account elsewhere, also when the client writes a banned
		// address first (only the proxy's entry is believed).
		for _, from := range []string{"2001:db8:1:3::77", "2001:db8:1:2::5, 198.51.100.9"} {
			if code, _ := post(path, from, "from elsewhere"); code != 201 {
				t.Errorf("a post from %s, which no ban covers: %d, want 201", from, code)
			}
		}
		ms, err := a.Messages.List(t.Context(), messages.ListQuery{ConversationID: a.StageChat.Conversation(), Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if strings.HasPrefix(m.Body, "banned") {
				t.Errorf("a post refused reached the chat: %q", m.Body)
			}
		}
	})
}
