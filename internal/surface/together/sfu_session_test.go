package together_test

import "testing"

// TestVoiceSFUSessionNumbers: each VOICE_SFU join on a socket is a session
// numbered from 1 on it, refused or not; the join's reply and the session's
// notices carry the number, so a client that left a call and joined again
// tells a late notice of the call it left (its "closed") from the new
// call's.
func TestVoiceSFUSessionNumbers(t *testing.T) {
	t.Parallel()
	e := newSFUEnv(t)
	ann, bob := e.register("ann"), e.register("bob")
	sid, _ := e.serverWithChannel(ann, "general", bob)
	vc, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "Lounge", "type": "voice"})
	vid := vc["id"].(string)

	wb, _, err := e.dial("token=" + bob.access)
	if err != nil {
		t.Fatal(err)
	}
	wb.waitFor("READY")

	wb.sfu(map[string]any{"type": "join", "channel_id": "not-a-channel"})
	if d := wb.sfuFrame("error"); d["op"] != "join" || d["session"] != float64(1) {
		t.Fatalf("refused join: %v, want session 1", d)
	}
	wb.sfu(map[string]any{"type": "join", "channel_id": vid})
	if d := wb.sfuFrame("joined"); d["session"] != float64(2) {
		t.Fatalf("joined: %v, want session 2", d)
	}
	// The leave and the next join go together: the first session's
	// "closed" comes before the second's "joined", each with its number.
	wb.sfu(map[string]any{"type": "leave"})
	wb.sfu(map[string]any{"type": "join", "channel_id": vid})
	if d := wb.sfuFrame("closed"); d["reason"] != "left" || d["session"] != float64(2) {
		t.Fatalf("closed: %v, want reason left, session 2", d)
	}
	if d := wb.sfuFrame("joined"); d["session"] != float64(3) {
		t.Fatalf("joined again: %v, want session 3", d)
	}
}
