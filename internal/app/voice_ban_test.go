package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestBanTakesAMemberOutOfTheCall: a member in a voice channel's SFU room
// who is banned, or kicked, from the community is taken out of the call at
// once (its socket gets "closed", the others a participant list without
// it) and its voice state goes, so it neither hears nor is heard, nor
// shows as present; a member left alone is untouched.
func TestBanTakesAMemberOutOfTheCall(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.RTCUDPAddr, cfg.RTCTCPAddr = "127.0.0.1:0", ""
	a, _ := start(t, cfg, nil)
	base := a.HTTP.URL()
	owner, bob, kim := register(t, base, "callowner"), register(t, base, "callbob"), register(t, base, "callkim")
	sid := newServer(t, base, owner.AccessToken)
	for _, l := range []login{bob, kim} {
		if code := call(t, "POST", base+"/servers/"+sid+"/join", l.AccessToken, nil, nil); code != 200 && code != 201 {
			t.Fatalf("join: %d", code)
		}
	}
	var vc struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", owner.AccessToken, map[string]string{"name": "Lounge", "type": "voice"}, &vc); code != 201 {
		t.Fatalf("voice channel: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	wo, wb, wk := dialSFU(ctx, t, base, owner.AccessToken), dialSFU(ctx, t, base, bob.AccessToken), dialSFU(ctx, t, base, kim.AccessToken)
	for _, w := range []*sfuSocket{wo, wb, wk} {
		w.send(map[string]any{"type": "join", "channel_id": vc.ID})
		w.await("joined")
	}
	inCall := func() string {
		t.Helper()
		var states []struct {
			UserID string `json:"user_id"`
		}
		if code := call(t, "GET", base+"/channels/"+vc.ID+"/voice", owner.AccessToken, nil, &states); code != 200 {
			t.Fatalf("voice states: %d", code)
		}
		var ids []string
		for _, s := range states {
			ids = append(ids, s.UserID)
		}
		return strings.Join(ids, ",")
	}
	if got := inCall(); !strings.Contains(got, bob.User.ID) || !strings.Contains(got, kim.User.ID) {
		t.Fatalf("voice states before: %s", got)
	}

	// gone reads the owner's socket until the account's voice state has
	// left (VOICE_STATE_UPDATE with no channel) and the SFU's participant
	// list no longer has it, in whichever order they come.
	gone := func(id string) {
		t.Helper()
		left, dropped := false, false
		for !left || !dropped {
			f := wo.frame()
			var d map[string]any
			_ = json.Unmarshal(f.D, &d)
			switch {
			case f.T == "VOICE_STATE_UPDATE" && d["user_id"] == id && d["channel_id"] == nil:
				left = true
			case f.T == "VOICE_SFU" && d["type"] == "participants":
				b, _ := json.Marshal(d["participants"])
				dropped = !strings.Contains(string(b), id)
			}
		}
	}
	if code := call(t, "POST", base+"/servers/"+sid+"/members/"+bob.User.ID+"/ban", owner.AccessToken, map[string]any{}, nil); code != 200 && code != 204 {
		t.Fatalf("ban: %d", code)
	}
	wb.await("closed")
	gone(bob.User.ID)
	if code := call(t, "POST", base+"/servers/"+sid+"/members/"+kim.User.ID+"/kick", owner.AccessToken, map[string]any{}, nil); code != 200 && code != 204 {
		t.Fatalf("kick: %d", code)
	}
	wk.await("closed")
	gone(kim.User.ID)
	if got := inCall(); got != owner.User.ID {
		t.Fatalf("voice states after the ban and kick: %s, want the owner's alone", got)
	}
}
