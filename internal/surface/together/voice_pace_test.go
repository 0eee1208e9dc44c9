package together_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/together"
)

// TestVoiceStatesPaced: an account's voice joins, updates and Go Live
// starts, over REST and the SFU's gateway frames alike, share one bucket
// (together.VoiceStatesPerSec, burst five times that); past it they are
// refused with 429 and Retry-After, while leaving is never refused and
// another account is unaffected. Each is a write and an event to everyone
// who may view the channel (an SFU join a peer connection too), and none
// was paced: measured on the binary, one account toggled self_mute 1,000
// times a second and joined and left 300 times in 0.55 s.
func TestVoiceStatesPaced(t *testing.T) {
	t.Parallel()
	frozen := time.Now() // no refill however slowly the requests run
	e := newSFUEnv(t, func(d *together.Deps) { d.RateClock = func() time.Time { return frozen } })
	ann, bob := e.register("ann"), e.register("bob")
	sid, _ := e.serverWithChannel(ann, "general", bob)
	vc, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "Lounge", "type": "voice"})
	voice := "/channels/" + vc["id"].(string) + "/voice"
	e.must(201, "POST", voice, ann.access, nil)
	burst := 5 * together.VoiceStatesPerSec
	for i := 1; i < burst; i++ {
		e.must(200, "PATCH", voice, ann.access, map[string]any{"self_mute": i%2 == 0})
	}
	want := fmt.Sprintf("You are changing voice state too quickly. Max %d changes/second.", together.VoiceStatesPerSec)
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"PATCH", voice, map[string]any{"self_mute": true}},
		{"POST", voice, nil},
		{"POST", "/channels/" + vc["id"].(string) + "/go-live", map[string]any{}},
	} {
		code, obj, hdr := e.callH(c.method, c.path, ann.access, c.body)
		if code != 429 || obj["error"] != want || hdr.Get("Retry-After") == "" {
			t.Fatalf("past the burst, %s %s: %d %v %v", c.method, c.path, code, obj, hdr)
		}
	}
	// The SFU's frames pay from the same bucket.
	wa, _, err := e.dial("token=" + ann.access)
	if err != nil {
		t.Fatal(err)
	}
	wa.waitFor("READY")
	wa.sfu(map[string]any{"type": "join", "channel_id": vc["id"]})
	if d := wa.sfuFrame("error"); d["status"] != float64(429) || d["op"] != "join" || d["message"] != want {
		t.Fatalf("SFU join past the burst: %v", d)
	}
	e.must(204, "DELETE", voice, ann.access, nil) // leaving is never refused
	e.must(201, "POST", voice, bob.access, nil)
}

// TestJoinsAndVotesPaced: server joins (POST /servers/{id}/join and invite
// accepts) are paced per account by Deps.JoinRate (burst ten times it),
// and poll votes pay the message pace as reactions do; past either, 429
// with Retry-After, while leaving is never refused and another account is
// unaffected. Each join is an event to every member (and a webhook
// delivery) and each vote an event to the channel's viewers; measured on
// the binary, one account joined and left a public server 300 times in
// 0.6 s and voted 500 times in 0.43 s.
func TestJoinsAndVotesPaced(t *testing.T) {
	t.Parallel()
	frozen := time.Now() // no refill however slowly the requests run
	e := newEnv(t, storetest.Engines()[0], func(d *together.Deps) {
		d.JoinRate, d.MessageRate, d.RateClock = 0.5, 0.8, func() time.Time { return frozen } // bursts of 5 and 4
	})
	ann, bob, cat := e.register("ann"), e.register("bob"), e.register("cat")
	sid, cid := e.serverWithChannel(ann, "g")
	for range 5 {
		e.must(201, "POST", "/servers/"+sid+"/join", bob.access, nil)
		e.must(204, "DELETE", "/servers/"+sid+"/leave", bob.access, nil)
	}
	inv, _ := e.must(201, "POST", "/servers/"+sid+"/invites", ann.access, map[string]any{"max_uses": 5})
	joins := "You are joining servers too quickly. Max 0.5 joins/second."
	for _, path := range []string{"/servers/" + sid + "/join", "/invites/" + inv["code"].(string) + "/accept"} {
		code, obj, hdr := e.callH("POST", path, bob.access, nil)
		if code != 429 || obj["error"] != joins || hdr.Get("Retry-After") == "" {
			t.Fatalf("join past the burst, %s: %d %v %v", path, code, obj, hdr)
		}
	}
	e.must(201, "POST", "/servers/"+sid+"/join", cat.access, nil)

	pm, _ := e.must(201, "POST", "/channels/"+cid+"/polls", ann.access, map[string]any{"question": "Pizza?", "options": []string{"yes", "no"}})
	poll := pm["poll"].(map[string]any)
	vote := "/polls/" + poll["id"].(string) + "/vote"
	opts := poll["options"].([]any)
	for i := range 4 {
		e.must(200, "POST", vote, cat.access, map[string]any{"option_id": opts[i%2].(map[string]any)["id"]})
	}
	code, obj, hdr := e.callH("POST", vote, cat.access, map[string]any{"option_id": opts[0].(map[string]any)["id"]})
	if code != 429 || obj["error"] != "You are sending messages too quickly. Max 0.8 messages/second." || hdr.Get("Retry-After") == "" {
		t.Fatalf("vote past the burst: %d %v %v", code, obj, hdr)
	}
	e.must(204, "DELETE", "/servers/"+sid+"/leave", cat.access, nil) // leaving is never refused
}
