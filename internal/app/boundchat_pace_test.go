package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// TestStageChatPaceIsPerAccount: the chat's flood limit was per Owncast
// chat socket, and a Together post into a stage channel bound to the
// default stage met only Together's own pace, so one person multiplied
// the chat's limit by posting through Together and through several
// sockets at once. The pace is now the chat's rule for every writer, per
// account: after a chat message on one socket, the same account's
// Together post is refused (429 in Together's shape, with Retry-After)
// and its message on another socket gets Owncast's flood notice; neither
// reaches the chat. The admin's integration posts past it. The rate is one
// message per 100 s, so no step depends on timing.
func TestStageChatPaceIsPerAccount(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, cfg config.Config) {
		cfg.ChatFloodRate = 0.01
		bc := boundChatChannel(t, cfg)
		base, admin, bob, ch := bc.base, bc.admin, bc.bob, bc.channel
		wsBase := "ws" + strings.TrimPrefix(base, "http")
		var sockets []*socket
		for range 2 {
			var reg struct{ AccessToken string }
			if code := call(t, "POST", base+"/api/chat/register", bob.AccessToken, map[string]any{}, &reg); code != 200 {
				t.Fatalf("chat register: %d", code)
			}
			ws := dialSocket(t, wsBase+"/ws?accessToken="+reg.AccessToken)
			ws.await("CONNECTED_USER_INFO", func(f map[string]any) bool { return f["type"] == "CONNECTED_USER_INFO" })
			sockets = append(sockets, ws)
		}
		frameWith := func(typ, text string) func(map[string]any) bool {
			return func(f map[string]any) bool {
				b, _ := f["body"].(string)
				return f["type"] == typ && strings.Contains(b, text)
			}
		}

		sockets[0].send(map[string]string{"type": "CHAT", "body": "one on a socket"})
		sockets[0].await("the first message", frameWith("CHAT", "one on a socket"))

		b, _ := json.Marshal(map[string]string{"content": "two through Together"})
		req, _ := http.NewRequest("POST", base+"/channels/"+ch+"/messages", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+bob.AccessToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var refusal struct{ Error string }
		_ = json.NewDecoder(res.Body).Decode(&refusal)
		res.Body.Close()
		if res.StatusCode != 429 || refusal.Error != stagechat.FloodNotice || res.Header.Get("Retry-After") == "" {
			t.Errorf("a Together post past the account's pace: %d %q Retry-After %q, want 429 with the flood notice and Retry-After",
				res.StatusCode, refusal.Error, res.Header.Get("Retry-After"))
		}

		sockets[1].send(map[string]string{"type": "CHAT", "body": "three on another socket"})
		sockets[1].await("the flood notice", frameWith("CHAT_ACTION", "perceived flooding"))

		// The admin's integration is exempt, as from the chat's modes.
		var tok struct{ AccessToken string }
		if code, body := owncastAdmin(t, base, "POST", "/api/admin/accesstokens/create", map[string]any{"name": "bot", "scopes": []string{"CAN_SEND_MESSAGES"}}); code != 200 {
			t.Fatalf("integration token: %d %s", code, body)
		} else if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
			t.Fatalf("integration token: %s", body)
		}
		for i := range 2 {
			if code := call(t, "POST", base+"/api/integrations/chat/send", tok.AccessToken, map[string]string{"body": "integration says hi"}, nil); code != 200 {
				t.Errorf("integration send %d: %d, want 200", i, code)
			}
		}

		var history []struct{ Content string }
		if code := call(t, "GET", base+"/channels/"+ch+"/messages", admin.AccessToken, nil, &history); code != 200 {
			t.Fatalf("history: %d", code)
		}
		var got []string
		for _, m := range history {
			got = append(got, m.Content)
		}
		joined := strings.Join(got, "\n")
		if !strings.Contains(joined, "one on a socket") || strings.Count(joined, "integration says hi") != 2 ||
			strings.Contains(joined, "two through") || strings.Contains(joined, "three on") {
			t.Errorf("the chat holds %q, want the first message and the integration's two only", got)
		}
	})
}
