package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestStageChatLengthIsOwncasts: a stage channel bound to the default
// stage keeps its messages in Owncast's chat, so a message posted into it
// obeys Owncast's limit (2048 characters) whichever surface it comes
// through: Together refuses a longer one, a post or a thread reply, with
// its 400 and its own words, as Owncast's integration API refuses it with
// Owncast's. Together's 4000 stays the limit of its text channels. Before
// the limit was the message store's, Together took 4000 characters into a
// stage chat that Owncast's own clients could never have sent. A thread
// reply in a bound stage channel goes into the stage chat too (it was
// refused as "Message not found", the root being looked for in the
// channel's own conversation) and lists in its thread.
func TestStageChatLengthIsOwncasts(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	admin := adminLogin(t, base)
	sid := newServer(t, base, admin.AccessToken)
	var stage, text struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", admin.AccessToken, map[string]any{"name": "Main stage", "type": "stage", "stage_id": "default"}, &stage); code != 201 {
		t.Fatalf("stage channel: %d", code)
	}
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", admin.AccessToken, map[string]any{"name": "general", "type": "text"}, &text); code != 201 {
		t.Fatalf("text channel: %d", code)
	}
	var root struct{ ID string }
	if code := call(t, "POST", base+"/channels/"+stage.ID+"/messages", admin.AccessToken, map[string]string{"content": strings.Repeat("é", 2048)}, &root); code != 201 {
		t.Fatalf("2048 characters into the stage chat: %d", code)
	}

	// Owncast's integration API, with a token that may send as a bot.
	basic := func(method, path string, body any, out any) int {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("admin", "adminpassword")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		_ = json.NewDecoder(res.Body).Decode(out)
		return res.StatusCode
	}
	var tok struct{ AccessToken string }
	if code := basic("POST", "/api/admin/accesstokens/create", map[string]any{"name": "bot", "scopes": []string{"CAN_SEND_MESSAGES"}}, &tok); code != 200 || tok.AccessToken == "" {
		t.Fatalf("integration token: %d", code)
	}

	long := strings.Repeat("x", 2049)
	for _, c := range []struct {
		name, path, token string
		body              map[string]string
		status            int
		text              string // Together's error, or Owncast's message
	}{
		{"Together post into the stage chat", "/channels/" + stage.ID + "/messages", admin.AccessToken, map[string]string{"content": long}, 400, "Message content must be 1-2048 characters"},
		{"Together thread reply in the stage chat", "/channels/" + stage.ID + "/messages/" + root.ID + "/thread", admin.AccessToken, map[string]string{"content": long}, 400, "Message content must be 1-2048 characters"},
		{"Owncast integration send", "/api/integrations/chat/send", tok.AccessToken, map[string]string{"body": long}, 400, "message is too long"},
		{"Together thread reply at the limit", "/channels/" + stage.ID + "/messages/" + root.ID + "/thread", admin.AccessToken, map[string]string{"content": strings.Repeat("x", 2048)}, 201, ""},
		{"Together post into a text channel", "/channels/" + text.ID + "/messages", admin.AccessToken, map[string]string{"content": long}, 201, ""},
		{"Together past its own limit", "/channels/" + text.ID + "/messages", admin.AccessToken, map[string]string{"content": strings.Repeat("x", 4001)}, 400, "Message content must be 1-4000 characters"},
	} {
		var out struct{ Error, Message string }
		code := call(t, "POST", base+c.path, c.token, c.body, &out)
		if code != c.status || out.Error+out.Message != c.text {
			t.Errorf("%s: %d %+v, want %d %q", c.name, code, out, c.status, c.text)
		}
	}
	var history []struct{ Content string }
	if code := call(t, "GET", base+"/channels/"+stage.ID+"/messages", admin.AccessToken, nil, &history); code != 200 || len(history) != 1 {
		t.Fatalf("stage chat history: %d, %d messages, want only the first (a thread reply lists in its thread)", code, len(history))
	}
	var thread []struct {
		ChannelID string `json:"channel_id"`
	}
	if code := call(t, "GET", base+"/channels/"+stage.ID+"/messages/"+root.ID+"/thread", admin.AccessToken, nil, &thread); code != 200 || len(thread) != 1 || thread[0].ChannelID != stage.ID {
		t.Fatalf("thread in the stage channel: %d %+v, want the one reply in the channel", code, thread)
	}
}
