package together_test

import (
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestMessageErrorTexts: refusals on message routes carry Together's own
// texts (messages.rs), which its web client shows to the user.
func TestMessageErrorTexts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bob := e.register("ann"), e.register("bob")
	srv, _ := e.must(201, "POST", "/servers", ann.access, map[string]any{"name": "S", "is_public": true})
	sid := srv["id"].(string)
	ch, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "g", "type": "text"})
	cid := ch["id"].(string)
	e.must(201, "POST", "/servers/"+sid+"/join", bob.access, nil)
	m, _ := e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": "mine"})
	mid := m["id"].(string)
	for _, c := range []struct {
		name, method, path, auth string
		body                     any
		status                   int
		msg                      string
	}{
		{"edit another's", "PATCH", "/messages/" + mid, bob.access, map[string]any{"content": "x"}, 403, "Only the message author can edit it"},
		{"delete another's", "DELETE", "/messages/" + mid, bob.access, nil, 403, "Only the message author or server owner can delete it"},
		{"reply to nothing", "POST", "/channels/" + cid + "/messages", bob.access,
			map[string]any{"content": "x", "reply_to": "0190a000-0000-7000-8000-000000000000"}, 404, "Reply target message not found"},
		{"reply to junk", "POST", "/channels/" + cid + "/messages", bob.access, map[string]any{"content": "x", "reply_to": "junk"}, 422, "Invalid value for field reply_to: not a UUID"},
	} {
		code, obj, _ := e.call(c.method, c.path, c.auth, c.body)
		if code != c.status || obj["error"] != c.msg {
			t.Errorf("%s: %d %v, want %d %q", c.name, code, obj, c.status, c.msg)
		}
	}
}

// TestEditReparsesMentions: as in Together, an edit re-reads @mentions from
// the new text.
func TestEditReparsesMentions(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			ann, bob := e.register("ann"), e.register("bob")
			srv, _ := e.must(201, "POST", "/servers", ann.access, map[string]any{"name": "S", "is_public": true})
			sid := srv["id"].(string)
			ch, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "g", "type": "text"})
			e.must(201, "POST", "/servers/"+sid+"/join", bob.access, nil)
			m, _ := e.must(201, "POST", "/channels/"+ch["id"].(string)+"/messages", ann.access, map[string]any{"content": "hello"})
			for _, c := range []struct {
				content  string
				ids      []any
				everyone bool
			}{
				{"hello @bob", []any{bob.id}, false},
				{"hello @everyone", []any{}, true},
				{"hello again", []any{}, false},
			} {
				got, _ := e.must(200, "PATCH", "/messages/"+m["id"].(string), ann.access, map[string]any{"content": c.content})
				ids, _ := got["mention_user_ids"].([]any)
				if len(ids) != len(c.ids) || (len(ids) == 1 && ids[0] != c.ids[0]) || got["mention_everyone"] != c.everyone {
					t.Errorf("edit to %q: mentions %v everyone %v", c.content, got["mention_user_ids"], got["mention_everyone"])
				}
			}
		})
	}
}
