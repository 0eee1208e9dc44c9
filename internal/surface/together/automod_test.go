package together_test

import (
	"encoding/json"
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestAutomodActionFrame: an automod block, decided in the community
// domain, reaches the server's owner as Together's AUTOMOD_ACTION, and
// no other member: it is the automod log's live entry (the log is the
// owner's over REST), naming a term of the owner-only word list, the
// member and the channel. "No other" is proved with a later sentinel.
func TestAutomodActionFrame(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bob, carl := e.register("ann"), e.register("bob"), e.register("carl")
	sid, cid := e.serverWithChannel(ann, "general", bob, carl)
	e.must(200, "PATCH", "/servers/"+sid+"/automod", ann.access, map[string]any{"enabled": true, "word_filter_enabled": true})
	e.must(201, "POST", "/servers/"+sid+"/automod/words", ann.access, map[string]any{"word": "heck"})
	wa, _, err := e.dial("token=" + ann.access)
	if err != nil {
		t.Fatal(err)
	}
	wa.waitFor("READY")
	others := map[string]*ws{}
	for _, u := range []user{bob, carl} {
		w, _, err := e.dial("token=" + u.access)
		if err != nil {
			t.Fatal(err)
		}
		w.waitFor("READY")
		others[u.name] = w
		if code, _, _ := e.call("GET", "/servers/"+sid+"/automod/logs", u.access, nil); code != 403 {
			t.Fatalf("%s read the automod log over REST: %d", u.name, code)
		}
	}
	code, obj, _ := e.call("POST", "/channels/"+cid+"/messages", bob.access, map[string]any{"content": "oh heck"})
	if code != 403 || obj["error"] != "Message blocked by word filter" {
		t.Fatalf("word filter: %d %v", code, obj)
	}
	var d map[string]any
	if err := json.Unmarshal(wa.waitFor("AUTOMOD_ACTION").D, &d); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"server_id": sid, "channel_id": cid, "user_id": bob.id, "username": "bob",
		"rule_type": "word_filter", "action_taken": "delete", "matched_term": "heck"}
	if len(d) != len(want) {
		t.Fatalf("AUTOMOD_ACTION %v", d)
	}
	for k, v := range want {
		if d[k] != v {
			t.Fatalf("AUTOMOD_ACTION %s = %v, want %v (%v)", k, d[k], v, d)
		}
	}
	e.must(201, "POST", "/servers/"+sid+"/roles", ann.access, map[string]any{"name": "sentinel"})
	for name, w := range others {
		for {
			f, err := w.next()
			if err != nil {
				t.Fatal(err)
			}
			if f.T == "ROLE_CREATE" {
				break
			}
			if f.T == "AUTOMOD_ACTION" {
				t.Errorf("%s, not the owner, received AUTOMOD_ACTION: %s", name, f.D)
			}
		}
	}
}
