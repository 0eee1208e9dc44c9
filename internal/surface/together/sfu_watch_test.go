package together_test

import (
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/community"
)

// TestVoiceSFUWatchChannel: a watch channel's call over the gateway
// (watch together on camera). VOICE_SFU join takes a watch channel; the
// voice state it makes reaches a Together client and GET
// /channels/:id/voice; a member denied CONNECT_VOICE in the watch
// channel gets the op's 403; a text channel is still refused with 400.
func TestVoiceSFUWatchChannel(t *testing.T) {
	t.Parallel()
	e := newSFUEnv(t)
	ann, bob, carl := e.register("ann"), e.register("bob"), e.register("carl")
	sid, text := e.serverWithChannel(ann, "general", bob, carl)
	wc, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "Movie night", "type": "watch"})
	watchID := wc["id"].(string)
	e.must(200, "PUT", "/channels/"+watchID+"/overrides", ann.access, map[string]any{"user_id": bob.id, "allow": 0, "deny": community.PermConnectVoice})

	wa, _, err := e.dial("token=" + ann.access)
	if err != nil {
		t.Fatal(err)
	}
	wb, _, err := e.dial("token=" + bob.access)
	if err != nil {
		t.Fatal(err)
	}
	wcarl, _, err := e.dial("token=" + carl.access) // a Together client
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []*ws{wa, wb, wcarl} {
		w.waitFor("READY")
	}

	wa.sfu(map[string]any{"type": "join", "channel_id": watchID})
	if d := wa.sfuFrame("joined"); d["channel_id"] != watchID {
		t.Fatalf("joined %v", d)
	}
	if f := wcarl.waitFor("VOICE_STATE_UPDATE"); !strings.Contains(string(f.D), `"channel_id":"`+watchID+`"`) || !strings.Contains(string(f.D), ann.id) {
		t.Fatalf("Together client saw %s", f.D)
	}
	if _, list := e.must(200, "GET", "/channels/"+watchID+"/voice", carl.access, nil); len(list) != 1 || list[0].(map[string]any)["user_id"] != ann.id {
		t.Fatalf("GET voice of the watch channel: %v", list)
	}

	wb.sfu(map[string]any{"type": "join", "channel_id": watchID})
	if d := wb.sfuFrame("error"); d["status"] != float64(403) || d["op"] != "join" {
		t.Fatalf("join without CONNECT_VOICE: %v", d)
	}
	wb.sfu(map[string]any{"type": "join", "channel_id": text})
	if d := wb.sfuFrame("error"); d["status"] != float64(400) {
		t.Fatalf("join a text channel: %v", d)
	}
}
