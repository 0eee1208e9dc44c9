package app_test

import (
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/messages"
)

// TestBoundStageChatFollowsTimeouts: the chat of the default stage is also
// the chat of a community stage channel bound to it, and a member timed
// out in that community was refused there only through Together: through
// Owncast's chat socket, with a chat token of their own account, they went
// on talking into the channel. Each line they say there is now refused
// while the timeout holds (a CHAT_ACTION "User is timed out", as Owncast
// tells its modes' refusals; nothing reaches the chat), and the Together
// post as before (403); once the timeout is lifted both work.
func TestBoundStageChatFollowsTimeouts(t *testing.T) {
	t.Parallel()
	bc := boundChatChannel(t, testConfig(t))
	a, base, admin, bob, srv := bc.a, bc.base, bc.admin, bc.bob, bc.server
	ch := bc.channel
	wsBase := "ws" + strings.TrimPrefix(base, "http")
	var reg struct{ AccessToken string }
	if code := call(t, "POST", base+"/api/chat/register", bob.AccessToken, map[string]any{}, &reg); code != 200 {
		t.Fatalf("chat register: %d", code)
	}
	ws := dialSocket(t, wsBase+"/ws?accessToken="+reg.AccessToken)
	ws.await("CONNECTED_USER_INFO", func(f map[string]any) bool { return f["type"] == "CONNECTED_USER_INFO" })
	frameWith := func(typ, text string) func(map[string]any) bool {
		return func(f map[string]any) bool {
			b, _ := f["body"].(string)
			return f["type"] == typ && strings.Contains(b, text)
		}
	}
	post := func(content string) (int, string) {
		t.Helper()
		var out struct{ Error string }
		code := call(t, "POST", base+"/channels/"+ch+"/messages", bob.AccessToken, map[string]any{"content": content}, &out)
		return code, out.Error
	}
	ws.send(map[string]string{"type": "CHAT", "body": "before the timeout"})
	ws.await("the line before the timeout", frameWith("CHAT", "before the timeout"))

	timeout := base + "/servers/" + srv + "/members/" + bob.User.ID + "/timeout"
	if code := call(t, "POST", timeout, admin.AccessToken, map[string]any{"duration_minutes": 30}, nil); code != 200 {
		t.Fatalf("timeout: %d", code)
	}
	ws.send(map[string]string{"type": "CHAT", "body": "while timed out"})
	ws.await("the refusal", frameWith("CHAT_ACTION", "User is timed out"))
	if code, msg := post("through Together while timed out"); code != 403 || msg != "User is timed out" {
		t.Errorf("a Together post while timed out: %d %q, want 403 User is timed out", code, msg)
	}

	if code := call(t, "DELETE", timeout, admin.AccessToken, nil, nil); code != 204 {
		t.Fatalf("lift the timeout: %d", code)
	}
	ws.send(map[string]string{"type": "CHAT", "body": "after the timeout"})
	ws.await("the line after the timeout", frameWith("CHAT", "after the timeout"))
	if code, msg := post("through Together after"); code != 201 {
		t.Errorf("a Together post after the timeout: %d %q", code, msg)
	}
	ms, err := a.Messages.List(t.Context(), messages.ListQuery{ConversationID: a.StageChat.Conversation(), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if strings.Contains(m.Body, "while timed out") {
			t.Errorf("a line refused reached the chat: %q", m.Body)
		}
	}
}
