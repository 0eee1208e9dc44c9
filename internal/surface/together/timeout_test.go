package together_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestTimedOutMemberSaysNothing: Together checks a timeout only when a
// message is created, so a timed-out member still replied in threads,
// edited, reacted, voted, made polls, events and invites, joined the
// server's calls and stayed in the one they were in, and typed. As
// Discord's timeout, each of those is now refused with Together's answer to
// a timed-out message (403 {"error":"User is timed out"}), the call drops
// them (their voice state ends), and their typing reaches no one; they
// still read, and remove their own reaction. The moderator who timed them
// out and the owner act as before, and once the timeout is lifted the
// member does everything again.
func TestTimedOutMemberSaysNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, mod, bob := e.register("ann"), e.register("mod"), e.register("bob")
	sid, cid := e.serverWithChannel(ann, "talk", mod, bob)
	// mod holds MUTE_MEMBERS and CREATE_INVITES above bob, who may invite.
	role, _ := e.must(201, "POST", "/servers/"+sid+"/roles", ann.access, map[string]any{"name": "mods",
		"permissions": 128 | 16384, "position": 5})
	e.must(204, "PUT", "/servers/"+sid+"/members/"+mod.id+"/roles/"+role["id"].(string), ann.access, nil)
	inviters, _ := e.must(201, "POST", "/servers/"+sid+"/roles", ann.access, map[string]any{"name": "inviters", "permissions": 16384})
	e.must(204, "PUT", "/servers/"+sid+"/members/"+bob.id+"/roles/"+inviters["id"].(string), ann.access, nil)
	vc, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "Lounge", "type": "voice"})
	vid := vc["id"].(string)
	other, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "other", "type": "text"})

	m, _ := e.must(201, "POST", "/channels/"+cid+"/messages", bob.access, map[string]any{"content": "before"})
	mid := m["id"].(string)
	pm, _ := e.must(201, "POST", "/channels/"+cid+"/polls", ann.access, map[string]any{"question": "Pizza?", "options": []string{"yes", "no"}})
	poll := pm["poll"].(map[string]any)
	pid, opt := poll["id"].(string), poll["options"].([]any)[0].(map[string]any)["id"].(string)
	e.must(204, "PUT", "/channels/"+cid+"/messages/"+mid+"/reactions/%F0%9F%91%8D", bob.access, nil)
	e.must(201, "POST", "/channels/"+vid+"/voice", bob.access, nil)

	wa, _, err := e.dial("token=" + ann.access)
	if err != nil {
		t.Fatal(err)
	}
	wa.waitFor("READY")
	wb, _, err := e.dial("token=" + bob.access)
	if err != nil {
		t.Fatal(err)
	}
	wb.waitFor("READY")
	// bob's socket is read throughout (its pongs answer the server's
	// pings), so it stays open: a socket closed would take him out of the
	// call whatever the timeout did.
	go func() {
		for {
			if _, _, err := wb.c.Read(context.Background()); err != nil {
				return
			}
		}
	}()

	e.must(200, "POST", "/servers/"+sid+"/members/"+bob.id+"/timeout", mod.access, map[string]any{"duration_minutes": 30})
	// The call drops them: their voice state ends, announced as a leave.
	for {
		f := wa.waitFor("VOICE_STATE_UPDATE")
		if strings.Contains(string(f.D), `"user_id":"`+bob.id+`"`) && strings.Contains(string(f.D), `"channel_id":null`) {
			break
		}
	}
	if _, list := e.must(200, "GET", "/channels/"+vid+"/voice", ann.access, nil); len(list) != 0 {
		t.Fatalf("voice states after the timeout: %v", list)
	}
	start := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	type act struct {
		name, method, path string
		body               any
		ok                 int
	}
	acts := []act{
		{"message", "POST", "/channels/" + cid + "/messages", map[string]any{"content": "hi"}, 201},
		{"thread reply", "POST", "/channels/" + cid + "/messages/" + mid + "/thread", map[string]any{"content": "re"}, 201},
		{"edit", "PATCH", "/messages/" + mid, map[string]any{"content": "edited"}, 200},
		{"reaction", "PUT", "/channels/" + cid + "/messages/" + mid + "/reactions/%F0%9F%8E%89", nil, 204},
		{"poll", "POST", "/channels/" + cid + "/polls", map[string]any{"question": "Q?", "options": []string{"a", "b"}}, 201},
		{"vote", "POST", "/polls/" + pid + "/vote", map[string]any{"option_id": opt}, 200},
		{"event", "POST", "/channels/" + cid + "/events", map[string]any{"name": "Game night", "starts_at": start}, 201},
		{"invite", "POST", "/servers/" + sid + "/invites", map[string]any{}, 201},
		{"voice join", "POST", "/channels/" + vid + "/voice", nil, 201},
	}
	for _, a := range acts {
		code, obj, _ := e.call(a.method, a.path, bob.access, a.body)
		if code != 403 || obj["error"] != "User is timed out" {
			t.Errorf("timed out: %s: %d %v, want 403 User is timed out", a.name, code, obj)
		}
	}
	// They still read, and take back their own reaction.
	e.must(200, "GET", "/channels/"+cid+"/messages", bob.access, nil)
	e.must(204, "DELETE", "/channels/"+cid+"/messages/"+mid+"/reactions/%F0%9F%91%8D", bob.access, nil)
	// Their typing reaches no one (checked below: the first TYPING_START
	// ann sees is the one bob sends once the timeout is lifted).
	wb.send(map[string]any{"op": "TYPING_START", "t": nil, "d": map[string]string{"channel_id": cid}})

	// The moderator who timed them out, and the owner, are untouched.
	for _, u := range []user{mod, ann} {
		e.must(204, "PUT", "/channels/"+cid+"/messages/"+mid+"/reactions/%F0%9F%8E%89", u.access, nil)
		e.must(200, "POST", "/polls/"+pid+"/vote", u.access, map[string]any{"option_id": opt})
		e.must(201, "POST", "/channels/"+vid+"/voice", u.access, nil)
		e.must(201, "POST", "/servers/"+sid+"/invites", u.access, map[string]any{})
	}

	e.must(204, "DELETE", "/servers/"+sid+"/members/"+bob.id+"/timeout", mod.access, nil)
	wb.send(map[string]any{"op": "TYPING_START", "t": nil, "d": map[string]string{"channel_id": other["id"].(string)}})
	f := wa.waitFor("TYPING_START")
	var typing map[string]any
	_ = json.Unmarshal(f.D, &typing)
	if typing["user_id"] != bob.id || typing["channel_id"] != other["id"] {
		t.Errorf("first typing ann saw: %v, want bob's in the other channel (the one while timed out reached her)", typing)
	}
	for _, a := range acts {
		if code, obj, _ := e.call(a.method, a.path, bob.access, a.body); code != a.ok {
			t.Errorf("lifted: %s: %d %v, want %d", a.name, code, obj, a.ok)
		}
	}
}
