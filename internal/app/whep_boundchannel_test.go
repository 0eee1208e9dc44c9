package app_test

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/hearth-community/hearth/internal/app"
	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/identity"
)

// TestWHEPAndWHIPOfBoundStageChannel: a stage channel an instance admin
// bound to the default stage broadcasts on the default stage, so
// /api/whep/<channel> plays the default stage's broadcast to a member who
// may view the channel (and the session's resource URL ends it), and
// /api/whip/<channel> takes the default stage's key (409 while it is live:
// the stage is the default one, not the channel's own, unused one). Whoever
// may not see the channel (no token, a stranger, a member an override hides
// it from) still gets exactly the unknown id's answer, and so does a wrong
// WHIP key. Both engines: an id that is no UUID ("nope") is unknown on
// PostgreSQL too.
func TestWHEPAndWHIPOfBoundStageChannel(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, cfg config.Config) {
		a, base := liveNode(t, func(c *config.Config) { c.Database, c.Bus = cfg.Database, cfg.Bus })
		boundStageChannelWebRTC(t, a, base)
	})
}

func boundStageChannelWebRTC(t *testing.T, a *app.App, base string) {
	admin, bob, eve, hid := adminLogin(t, base), register(t, base, "bob"), register(t, base, "eve"), register(t, base, "hid")
	_, chID := privateBoundStageChannel(t, base, admin, bob, hid)
	if code := call(t, "PUT", base+"/channels/"+chID+"/overrides", admin.AccessToken, map[string]any{"user_id": hid.User.ID, "allow": 0, "deny": 1}, nil); code != 200 {
		t.Fatalf("override: %d", code)
	}
	publishRTMP(t, a)

	// The channel's viewer plays the default stage's broadcast.
	resource := watchWHEPAt(t, base, chID, bob.AccessToken, peer(t))
	if code, _, body := postSDP(t, "DELETE", base+resource, "", "", ""); code != 200 {
		t.Fatalf("DELETE %s: %d %s", resource, code, body)
	}

	// Whoever may not see the channel: as an unknown id.
	v := peer(t)
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := v.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer := offerSDP(t, v)
	for _, p := range []struct{ name, token string }{{"no token", ""}, {"stranger", eve.AccessToken}, {"hidden from", hid.AccessToken}} {
		rc, _, rb := postSDP(t, "POST", base+"/api/whep/"+chID, p.token, "application/sdp", offer)
		for _, unknown := range []string{identity.NewID(), "nope"} {
			uc, _, ub := postSDP(t, "POST", base+"/api/whep/"+unknown, p.token, "application/sdp", offer)
			if rc != uc || rb != ub || rc < 400 || rc >= 500 {
				t.Errorf("whep, %s: bound channel %d %s, unknown %s %d %s", p.name, rc, rb, unknown, uc, ub)
			}
		}
	}

	// WHIP: the default stage's key names the default stage, live already.
	pc, _, _ := publisher(t, true)
	pub := offerSDP(t, pc)
	if code, _, body := postSDP(t, "POST", base+"/api/whip/"+chID, "live-key", "application/sdp", pub); code != 409 {
		t.Errorf("whip with the default stage's key: %d %s", code, body)
	}
	rc, _, rb := postSDP(t, "POST", base+"/api/whip/"+chID, "wrong-key", "application/sdp", pub)
	for _, unknown := range []string{identity.NewID(), "nope"} {
		uc, _, ub := postSDP(t, "POST", base+"/api/whip/"+unknown, "wrong-key", "application/sdp", pub)
		if rc != uc || rb != ub || rc != 401 {
			t.Errorf("whip with a wrong key: bound channel %d %s, unknown %s %d %s", rc, rb, unknown, uc, ub)
		}
	}
}

// TestWHEPOfBoundStageChannelEndsWhenViewerLosesIt: a WebRTC session is
// checked when it starts; HLS through a stage channel is checked on every
// request. A session opened through a channel bound to the default stage
// was never checked again (its stage, the default one, is public), so a
// member hidden from the channel kept watching it over WebRTC while the
// channel's HLS refused them. It is now rechecked against the channel it
// came through, as a session on a channel's own stage is: the hidden
// member's ends, another member's goes on.
func TestWHEPOfBoundStageChannelEndsWhenViewerLosesIt(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, cfg config.Config) {
		a, base := liveNode(t, func(c *config.Config) { c.Database, c.Bus = cfg.Database, cfg.Bus })
		admin, bob, carol := adminLogin(t, base), register(t, base, "bob"), register(t, base, "carol")
		_, chID := privateBoundStageChannel(t, base, admin, bob, carol)
		publishRTMP(t, a)
		bobs := watchWHEPAt(t, base, chID, bob.AccessToken, peer(t))
		carols := watchWHEPAt(t, base, chID, carol.AccessToken, peer(t))
		watching := func(account string) bool { return watchingWebRTC(a, account) }
		if code := call(t, "PUT", base+"/channels/"+chID+"/overrides", admin.AccessToken, map[string]any{"user_id": bob.User.ID, "allow": 0, "deny": 1}, nil); code != 200 {
			t.Fatalf("override: %d", code)
		}
		poll(t, "the hidden member's WebRTC session ending", 10*time.Second, func() bool { return !watching(bob.User.ID) })
		if st, err := a.Live.Status(t.Context(), a.Live.DefaultStageID()); err != nil || !st.Online {
			t.Fatalf("the hidden member's WebRTC session lasted until the broadcast ended (%v)", err)
		}
		if !watching(carol.User.ID) {
			t.Fatal("another member's WebRTC session ended")
		}
		if code, _, body := postSDP(t, "DELETE", base+bobs, "", "", ""); code != 404 {
			t.Errorf("DELETE the ended session %s: %d %s", bobs, code, body)
		}
		if code, _, body := postSDP(t, "DELETE", base+carols, "", "", ""); code != 200 {
			t.Errorf("DELETE %s: %d %s", carols, code, body)
		}
	})
}

// privateBoundStageChannel makes a server, joins members to it by invite
// and gives it a stage channel bound to the default stage; it answers the
// server's and the channel's ids.
func privateBoundStageChannel(t *testing.T, base string, admin login, members ...login) (serverID, channelID string) {
	t.Helper()
	var srv struct{ ID string }
	if code := call(t, "POST", base+"/servers", admin.AccessToken, map[string]any{"name": "Private"}, &srv); code != 201 {
		t.Fatalf("create server: %d", code)
	}
	var inv struct{ Code string }
	if code := call(t, "POST", base+"/servers/"+srv.ID+"/invites", admin.AccessToken, map[string]any{}, &inv); code != 201 && code != 200 {
		t.Fatalf("invite: %d", code)
	}
	for _, u := range members {
		if code := call(t, "POST", base+"/invites/"+inv.Code+"/accept", u.AccessToken, nil, nil); code != 200 && code != 201 {
			t.Fatalf("join: %d", code)
		}
	}
	var ch struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+srv.ID+"/channels", admin.AccessToken,
		map[string]any{"name": "Main", "type": "stage", "stage_id": "default"}, &ch); code != 201 {
		t.Fatalf("bound stage channel: %d", code)
	}
	return srv.ID, ch.ID
}

// watchingWebRTC tells whether account has a WHEP session on a.
func watchingWebRTC(a *app.App, account string) bool {
	for _, v := range a.Live.ViewerSessions() {
		if v.AccountID == account {
			return true
		}
	}
	return false
}
