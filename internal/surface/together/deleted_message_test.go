package together_test

import (
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestDeletedMessageReadByID: GET /channels/:id/messages/:message_id of a
// deleted message answers 200 with deleted true, as Together does: its web
// client reads the message a reply answers by id and says "(original message
// deleted)" when deleted is true (a 404 left "loading preview…"). The text,
// mentions and poll are not given back. The list, edits, pins, reactions and
// thread replies still treat it as gone (404).
func TestDeletedMessageReadByID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bob := e.register("ann"), e.register("bob")
	_, cid := e.serverWithChannel(ann, "general", bob)
	orig, _ := e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": "secret plans @bob @everyone"})
	id := orig["id"].(string)
	e.must(201, "POST", "/channels/"+cid+"/messages", bob.access, map[string]any{"content": "what?", "reply_to": id})
	e.must(204, "DELETE", "/messages/"+id, ann.access, nil)

	got, _ := e.must(200, "GET", "/channels/"+cid+"/messages/"+id, bob.access, nil)
	if got["id"] != id || got["deleted"] != true || got["content"] != "" || got["author_id"] != ann.id ||
		got["mention_everyone"] != false || len(got["mention_user_ids"].([]any)) != 0 || got["poll"] != nil {
		t.Errorf("deleted message read by id: %v", got)
	}
	_, list := e.must(200, "GET", "/channels/"+cid+"/messages", bob.access, nil)
	if len(list) != 1 || list[0].(map[string]any)["content"] != "what?" {
		t.Errorf("list %v", list)
	}
	for _, c := range []struct{ method, path string }{
		{"PATCH", "/messages/" + id},
		{"POST", "/channels/" + cid + "/messages/" + id + "/pin"},
		{"PUT", "/channels/" + cid + "/messages/" + id + "/reactions/%F0%9F%91%8D"},
		{"POST", "/channels/" + cid + "/messages/" + id + "/thread"},
	} {
		if code, _, _ := e.call(c.method, c.path, ann.access, map[string]any{"content": "x"}); code != 404 {
			t.Errorf("%s %s of a deleted message: %d", c.method, c.path, code)
		}
	}
	// Someone who cannot see the channel still gets 404.
	eve := e.register("eve")
	e.must(404, "GET", "/channels/"+cid+"/messages/"+id, eve.access, nil)
}
