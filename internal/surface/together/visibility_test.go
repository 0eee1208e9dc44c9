package together_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestGatewayAppliesRESTVisibility pins advisories 17 (socket auth weaker
// than REST) and 19 (events outside a private team): the gateway applies
// the same predicate as REST. A member denied VIEW_CHANNEL on a channel is
// refused its messages over REST and gets none of its message, reaction or
// typing events; a member who can view it gets each one; a user outside a
// private server gets none of that server's events. "None" is proved
// without timing: each socket reads up to later sentinel events it may see,
// one on each of the streams the gateway fans out (message events,
// community events, its own dispatches such as typing), which are ordered
// within a stream but not across them.
func TestGatewayAppliesRESTVisibility(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bob, carl, dave := e.register("ann"), e.register("bob"), e.register("carl"), e.register("dave")
	sid, cid := e.serverWithChannel(ann, "hidden", bob, carl, dave)
	e.must(200, "PUT", "/channels/"+cid+"/overrides", ann.access, map[string]any{"user_id": carl.id, "allow": 0, "deny": 1})
	priv, _ := e.must(201, "POST", "/servers", ann.access, map[string]any{"name": "P", "is_public": false})
	psid := priv["id"].(string)
	pch, _ := e.must(201, "POST", "/servers/"+psid+"/channels", ann.access, map[string]any{"name": "inner", "type": "text"})
	pcid := pch["id"].(string)

	// REST: the hidden member is refused the channel's messages.
	if code, _, _ := e.call("GET", "/channels/"+cid+"/messages", carl.access, nil); code != 403 && code != 404 {
		t.Fatalf("hidden member read messages over REST: %d", code)
	}
	if code, _, _ := e.call("GET", "/channels/"+pcid+"/messages", dave.access, nil); code != 403 && code != 404 {
		t.Fatalf("non-member read a private server's messages over REST: %d", code)
	}

	socks := map[string]*ws{}
	for _, u := range []user{ann, bob, carl, dave} {
		w, _, err := e.dial("token=" + u.access)
		if err != nil {
			t.Fatal(err)
		}
		w.waitFor("READY")
		socks[u.name] = w
	}

	want := []string{"MESSAGE_CREATE", "MESSAGE_UPDATE", "REACTION_ADD", "TYPING_START", "MESSAGE_DELETE"}
	for _, ch := range []string{cid, pcid} {
		m, _ := e.must(201, "POST", "/channels/"+ch+"/messages", ann.access, map[string]any{"content": "secret plans"})
		mid := m["id"].(string)
		e.must(200, "PATCH", "/messages/"+mid, ann.access, map[string]any{"content": "secret plans, edited"})
		e.must(204, "PUT", "/channels/"+ch+"/messages/"+mid+"/reactions/%F0%9F%91%8D", ann.access, nil)
		socks["ann"].send(map[string]any{"op": "TYPING_START", "t": nil, "d": map[string]string{"channel_id": ch}})
		if ch == cid {
			// bob can view: he sees each (the typing, sent by ann's
			// socket, may overtake the REST calls' events).
			socks["bob"].waitForEach(want[:4]...)
		}
		e.must(204, "DELETE", "/messages/"+mid, ann.access, nil)
		if ch == cid {
			socks["bob"].waitFor("MESSAGE_DELETE")
		}
	}
	// The sentinels: a role, a message and a typing on the shared public
	// server, in a channel everyone may see.
	open, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "open", "type": "text"})
	ocid := open["id"].(string)
	e.must(201, "POST", "/servers/"+sid+"/roles", ann.access, map[string]any{"name": "sentinel"})
	e.must(201, "POST", "/channels/"+ocid+"/messages", ann.access, map[string]any{"content": "sentinel"})
	socks["ann"].send(map[string]any{"op": "TYPING_START", "t": nil, "d": map[string]string{"channel_id": ocid}})

	check := func(name string, forbidden ...string) {
		w := socks[name]
		sentinels := map[string]bool{"ROLE_CREATE": false, "MESSAGE_CREATE": false, "TYPING_START": false}
		for {
			f, err := w.next()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if _, ok := sentinels[f.T]; ok && (f.T == "ROLE_CREATE" || strings.Contains(string(f.D), ocid)) {
				sentinels[f.T] = true
				if sentinels["ROLE_CREATE"] && sentinels["MESSAGE_CREATE"] && sentinels["TYPING_START"] {
					return
				}
				continue
			}
			for _, id := range forbidden {
				if strings.Contains(string(f.D), id) {
					var d any
					_ = json.Unmarshal(f.D, &d)
					t.Errorf("%s received %s for %s: %v", name, f.T, id, d)
				}
			}
		}
	}
	check("carl", cid, pcid, psid)
	check("dave", pcid, psid)
}

// TestVoiceEventsFollowChannelVisibility: who joins, mutes, goes live in
// and leaves a voice channel reaches only the members who can view it
// (and the caller's own account): a member an override hides the channel
// from gets none of its VOICE_STATE_UPDATE or GO_LIVE_* events, as GET
// /channels/:id/voice refuses them. Together sends them to the whole
// server. "None" is proved with a later sentinel event, as above.
func TestVoiceEventsFollowChannelVisibility(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bob, carl := e.register("ann"), e.register("bob"), e.register("carl")
	sid, _ := e.serverWithChannel(ann, "general", bob, carl)
	vc, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "Back room", "type": "voice"})
	vid := vc["id"].(string)
	e.must(200, "PUT", "/channels/"+vid+"/overrides", ann.access, map[string]any{"user_id": carl.id, "allow": 0, "deny": 1})
	if code, _, _ := e.call("GET", "/channels/"+vid+"/voice", carl.access, nil); code != 403 && code != 404 {
		t.Fatalf("hidden member listed the call over REST: %d", code)
	}
	socks := map[string]*ws{}
	for _, u := range []user{ann, carl} {
		w, _, err := e.dial("token=" + u.access)
		if err != nil {
			t.Fatal(err)
		}
		w.waitFor("READY")
		socks[u.name] = w
	}
	e.must(201, "POST", "/channels/"+vid+"/voice", bob.access, nil)
	e.must(200, "PATCH", "/channels/"+vid+"/voice", bob.access, map[string]any{"self_mute": true})
	e.must(201, "POST", "/channels/"+vid+"/go-live", bob.access, nil)
	e.must(204, "DELETE", "/channels/"+vid+"/voice", bob.access, nil)
	// ann (the owner) sees each, in order.
	for _, typ := range []string{"VOICE_STATE_UPDATE", "VOICE_STATE_UPDATE", "GO_LIVE_START", "VOICE_STATE_UPDATE", "GO_LIVE_STOP"} {
		socks["ann"].waitFor(typ)
	}
	e.must(201, "POST", "/servers/"+sid+"/roles", ann.access, map[string]any{"name": "sentinel"})
	for {
		f, err := socks["carl"].next()
		if err != nil {
			t.Fatal(err)
		}
		if f.T == "ROLE_CREATE" {
			break
		}
		if strings.HasPrefix(f.T, "VOICE_") || strings.HasPrefix(f.T, "GO_LIVE") || strings.Contains(string(f.D), vid) {
			t.Errorf("carl, hidden from the channel, received %s: %s", f.T, f.D)
		}
	}
}

// TestInviteEventsOnlyToThoseWhoMayListInvites: INVITE_CREATE carries the
// code, and GET /servers/:id/invites needs CREATE_INVITES; Together sends
// the event to every member, so any member of an invite-only server could
// bring anyone in. It reaches the owner and a member whose role grants
// CREATE_INVITES, not a plain member (proved with a later sentinel), on
// both engines (the recipients are read from the store).
func TestInviteEventsOnlyToThoseWhoMayListInvites(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			ann, bob, carl := e.register("ann"), e.register("bob"), e.register("carl")
			sid, _ := e.serverWithChannel(ann, "general", bob, carl)
			role, _ := e.must(201, "POST", "/servers/"+sid+"/roles", ann.access, map[string]any{"name": "inviters", "permissions": 16384})
			e.must(204, "PUT", "/servers/"+sid+"/members/"+bob.id+"/roles/"+role["id"].(string), ann.access, nil)
			if code, _, _ := e.call("GET", "/servers/"+sid+"/invites", carl.access, nil); code != 403 {
				t.Fatalf("plain member listed invites: %d", code)
			}
			socks := map[string]*ws{}
			for _, u := range []user{ann, bob, carl} {
				w, _, err := e.dial("token=" + u.access)
				if err != nil {
					t.Fatal(err)
				}
				w.waitFor("READY")
				socks[u.name] = w
			}
			inv, _ := e.must(201, "POST", "/servers/"+sid+"/invites", bob.access, map[string]any{})
			code := inv["code"].(string)
			e.must(204, "DELETE", "/servers/"+sid+"/invites/"+inv["id"].(string), ann.access, nil)
			for _, name := range []string{"ann", "bob"} {
				if f := socks[name].waitFor("INVITE_CREATE"); !strings.Contains(string(f.D), code) {
					t.Errorf("%s: INVITE_CREATE %s", name, f.D)
				}
				socks[name].waitFor("INVITE_DELETE")
			}
			e.must(201, "POST", "/servers/"+sid+"/roles", ann.access, map[string]any{"name": "sentinel"})
			for {
				f, err := socks["carl"].next()
				if err != nil {
					t.Fatal(err)
				}
				if f.T == "ROLE_CREATE" && strings.Contains(string(f.D), "sentinel") {
					break
				}
				if strings.HasPrefix(f.T, "INVITE_") || strings.Contains(string(f.D), code) {
					t.Errorf("carl, without CREATE_INVITES, received %s: %s", f.T, f.D)
				}
			}
		})
	}
}

// TestDisabledAccountLeavesItsCall: a member who joined a voice channel
// over REST and has no gateway socket open is taken out of the call when
// the instance admin disables the account (the revocation closes sockets,
// and the last socket's close leaves the call; with none open, nothing
// did, and the disabled account stayed listed in the call).
func TestDisabledAccountLeavesItsCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bob := e.register("ann"), e.register("bob")
	sid, _ := e.serverWithChannel(ann, "general", bob)
	vc, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "Lounge", "type": "voice"})
	vid := vc["id"].(string)
	e.must(201, "POST", "/channels/"+vid+"/voice", bob.access, nil)
	inCall := func() bool {
		_, _, states := e.call("GET", "/channels/"+vid+"/voice", ann.access, nil)
		for _, v := range states {
			if m, _ := v.(map[string]any); m["user_id"] == bob.id {
				return true
			}
		}
		return false
	}
	if !inCall() {
		t.Fatal("bob is not in the call after joining")
	}
	e.must(200, "PATCH", "/admin/users/"+bob.id, e.rootAdmin(), map[string]any{"disabled": true})
	for deadline := time.Now().Add(hangGuard); inCall(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the disabled account is still listed in the call")
		}
	}
}
