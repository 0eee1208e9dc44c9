package app_test

import (
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/config"
)

// TestWHEPOfDemotedAdminEnds: an instance admin watches any stage channel
// over WHEP, a member of its community or not, and the recheck keeps their
// session as long as they are one. Demoting them (the account stays
// enabled and signed in) was no event that rechecked anything, so a
// non-member kept watching a private community's stage channel until some
// unrelated change in that community. A demotion now rechecks the
// account's sessions on every node: the non-member's ends, and a demoted
// admin who is a member of the community keeps watching. Both engines.
func TestWHEPOfDemotedAdminEnds(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, cfg config.Config) {
		a, base := liveNode(t, func(c *config.Config) { c.Database, c.Bus = cfg.Database, cfg.Bus })
		admin, bob, dave := adminLogin(t, base), register(t, base, "bob"), register(t, base, "dave")
		_, chID := privateBoundStageChannel(t, base, admin, bob)
		setAdmin := func(id string, on bool) {
			t.Helper()
			if code := call(t, "PATCH", base+"/admin/users/"+id, admin.AccessToken, map[string]any{"is_admin": on}, nil); code != 200 {
				t.Fatalf("PATCH is_admin %v: %d", on, code)
			}
		}
		setAdmin(bob.User.ID, true)
		setAdmin(dave.User.ID, true)
		publishRTMP(t, a)
		watchWHEPAt(t, base, chID, bob.AccessToken, peer(t))
		daves := watchWHEPAt(t, base, chID, dave.AccessToken, peer(t))
		watching := func(account string) bool { return watchingWebRTC(a, account) }
		// bob's demotion is rechecked before dave's (one subscriber, in
		// order): once dave's session is gone, bob's was looked at too.
		setAdmin(bob.User.ID, false)
		setAdmin(dave.User.ID, false)
		poll(t, "the demoted non-member's WebRTC session ending", 10*time.Second, func() bool { return !watching(dave.User.ID) })
		if st, err := a.Live.Status(t.Context(), a.Live.DefaultStageID()); err != nil || !st.Online {
			t.Fatalf("the demoted admin's WebRTC session lasted until the broadcast ended (%v)", err)
		}
		if !watching(bob.User.ID) {
			t.Fatal("a demoted admin who is a member lost their WebRTC session")
		}
		if code, _, body := postSDP(t, "DELETE", base+daves, "", "", ""); code != 404 {
			t.Errorf("DELETE the ended session %s: %d %s", daves, code, body)
		}
		// Still signed in: the token answers.
		if code := call(t, "GET", base+"/users/@me", dave.AccessToken, nil, nil); code != 200 {
			t.Errorf("the demoted admin's token: %d, want 200 (a demotion signs no one out)", code)
		}
	})
}
