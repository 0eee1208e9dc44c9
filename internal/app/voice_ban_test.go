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
	inCall := func() string { return voiceStateIDs(t, base, owner.AccessToken, vc.ID) }
	if got := inCall(); !strings.Contains(got, bob.User.ID) || !strings.Contains(got, kim.User.ID) {
		t.Fatalf("voice states before: %s", got)
	}

	gone := func(id string) { t.Helper(); awaitLeftCall(t, wo, id, true) }
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

// TestLosingConnectLeavesTheCall: a member in a call who loses CONNECT
// there (a role denied it by the channel's override is given to them, or
// an override denies it to them alone) is taken out of the SFU room, and
// its voice state goes with it, announced as a leave (VOICE_STATE_UPDATE
// with no channel), so it no longer shows in the channel's voice states; a
// member in the call through REST alone (Together's mesh) leaves the same
// way, and a member left alone is untouched.
func TestLosingConnectLeavesTheCall(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.RTCUDPAddr, cfg.RTCTCPAddr = "127.0.0.1:0", ""
	a, _ := start(t, cfg, nil)
	base := a.HTTP.URL()
	owner := register(t, base, "connowner")
	bob, kim, dan, eve := register(t, base, "connbob"), register(t, base, "connkim"), register(t, base, "conndan"), register(t, base, "conneve")
	sid := newServer(t, base, owner.AccessToken)
	for _, l := range []login{bob, kim, dan, eve} {
		if code := call(t, "POST", base+"/servers/"+sid+"/join", l.AccessToken, nil, nil); code != 200 && code != 201 {
			t.Fatalf("join: %d", code)
		}
	}
	var vc, benched struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", owner.AccessToken, map[string]string{"name": "Lounge", "type": "voice"}, &vc); code != 201 {
		t.Fatalf("voice channel: %d", code)
	}
	if code := call(t, "POST", base+"/servers/"+sid+"/roles", owner.AccessToken, map[string]any{"name": "benched", "permissions": 0}, &benched); code != 201 {
		t.Fatalf("role: %d", code)
	}
	deny := func(key, id string) {
		t.Helper()
		if code := call(t, "PUT", base+"/channels/"+vc.ID+"/overrides", owner.AccessToken, map[string]any{key: id, "allow": 0, "deny": 32}, nil); code != 200 && code != 201 {
			t.Fatalf("override denying CONNECT to %s %s: %d", key, id, code)
		}
	}
	deny("role_id", benched.ID) // no one has the role yet

	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	wo, wb, wk, we := dialSFU(ctx, t, base, owner.AccessToken), dialSFU(ctx, t, base, bob.AccessToken),
		dialSFU(ctx, t, base, kim.AccessToken), dialSFU(ctx, t, base, eve.AccessToken)
	for _, w := range []*sfuSocket{wo, wb, wk, we} {
		w.send(map[string]any{"type": "join", "channel_id": vc.ID})
		w.await("joined")
	}
	if code := call(t, "POST", base+"/channels/"+vc.ID+"/voice", dan.AccessToken, nil, nil); code != 201 {
		t.Fatalf("dan joins over REST: %d", code)
	}
	inCall := func() string { return voiceStateIDs(t, base, owner.AccessToken, vc.ID) }
	for _, l := range []login{bob, kim, dan, eve} {
		if got := inCall(); !strings.Contains(got, l.User.ID) {
			t.Fatalf("voice states before: %s, want %s there", got, l.User.ID)
		}
	}

	gone := func(id string, sfu bool) { t.Helper(); awaitLeftCall(t, wo, id, sfu) }
	// The role path: bob is given the role the channel denies CONNECT.
	if code := call(t, "PUT", base+"/servers/"+sid+"/members/"+bob.User.ID+"/roles/"+benched.ID, owner.AccessToken, nil, nil); code != 200 && code != 204 {
		t.Fatalf("give bob the role: %d", code)
	}
	wb.await("closed")
	gone(bob.User.ID, true)
	// The override path: an override denies kim alone, then dan (REST).
	deny("user_id", kim.User.ID)
	wk.await("closed")
	gone(kim.User.ID, true)
	deny("user_id", dan.User.ID)
	gone(dan.User.ID, false)

	want := owner.User.ID + "," + eve.User.ID
	if got := inCall(); got != want {
		t.Fatalf("voice states after: %s, want the owner's and eve's (%s)", got, want)
	}
}

// voiceStateIDs lists the accounts in a voice channel's voice states, as
// tok sees them, comma separated.
func voiceStateIDs(t *testing.T, base, tok, channelID string) string {
	t.Helper()
	var states []struct {
		UserID string `json:"user_id"`
	}
	if code := call(t, "GET", base+"/channels/"+channelID+"/voice", tok, nil, &states); code != 200 {
		t.Fatalf("voice states: %d", code)
	}
	var ids []string
	for _, s := range states {
		ids = append(ids, s.UserID)
	}
	return strings.Join(ids, ",")
}

// awaitLeftCall reads w until the account's voice state has left
// (VOICE_STATE_UPDATE with no channel) and, when it was in the SFU room
// (sfu), the SFU's participant list no longer has it, in whichever order
// they come.
func awaitLeftCall(t *testing.T, w *sfuSocket, id string, sfu bool) {
	t.Helper()
	left, dropped := false, !sfu
	for !left || !dropped {
		f := w.frame()
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

// TestDisabledAccountLeavesItsCallAndGoLive: an account disabled while in
// a call it joined over REST alone (no socket whose closing would take it
// out) leaves the call and its Go Live ends: the node's wiring runs the
// voice domain's rules on the revocation, and the members see the leave
// and the Go Live's end.
func TestDisabledAccountLeavesItsCallAndGoLive(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	admin := adminLogin(t, base)
	owner, bob := register(t, base, "revowner"), register(t, base, "revbob")
	sid := newServer(t, base, owner.AccessToken)
	if code := call(t, "POST", base+"/servers/"+sid+"/join", bob.AccessToken, nil, nil); code != 200 && code != 201 {
		t.Fatalf("join: %d", code)
	}
	var vc struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", owner.AccessToken, map[string]string{"name": "Lounge", "type": "voice"}, &vc); code != 201 {
		t.Fatalf("voice channel: %d", code)
	}
	if code := call(t, "POST", base+"/channels/"+vc.ID+"/voice", bob.AccessToken, nil, nil); code != 201 {
		t.Fatalf("bob joins over REST: %d", code)
	}
	if code := call(t, "POST", base+"/channels/"+vc.ID+"/go-live", bob.AccessToken, nil, nil); code != 201 {
		t.Fatalf("bob goes live: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	wo := dialSFU(ctx, t, base, owner.AccessToken)
	if code := call(t, "PATCH", base+"/api/admin/users/"+bob.User.ID, admin.AccessToken, map[string]any{"disabled": true}, nil); code != 200 {
		t.Fatalf("disable: %d", code)
	}
	left, stopped := false, false
	for !left || !stopped {
		f := wo.frame()
		var d map[string]any
		_ = json.Unmarshal(f.D, &d)
		switch {
		case f.T == "VOICE_STATE_UPDATE" && d["user_id"] == bob.User.ID && d["channel_id"] == nil:
			left = true
		case f.T == "GO_LIVE_STOP" && d["broadcaster_id"] == bob.User.ID && d["channel_id"] == vc.ID:
			stopped = true
		}
	}
	if got := voiceStateIDs(t, base, owner.AccessToken, vc.ID); got != "" {
		t.Fatalf("voice states after bob was disabled: %q, want none", got)
	}
	if code := call(t, "GET", base+"/channels/"+vc.ID+"/go-live", owner.AccessToken, nil, nil); code != 404 {
		t.Fatalf("go-live after bob was disabled: %d, want 404", code)
	}
}
