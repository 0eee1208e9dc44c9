package owncast_test

import (
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/stagechat"
)

// TestFediverseSignInPendingBoundIs400: past the bound on pending sign-in
// requests, POST /api/auth/fediverse answers Owncast's 400 {success:false,
// message} ("Too many pending requests"), the only refusal besides 401
// that Owncast's spec gives the operation (no default), not 429.
func TestFediverseSignInPendingBoundIs400(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	who := n.register(t, "pending")
	now := time.Now().UTC()
	for i := range 1000 {
		if err := n.db.StageChat().CreateAuthRequest(t.Context(), &stagechat.AuthRequest{State: "fediverse:seed" + strconv.Itoa(i),
			AccountID: who.ID, TokenHash: "x", DisplayName: "pending", Me: "a@b.example", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	r := n.do(t, "POST", "/api/auth/fediverse?accessToken="+url.QueryEscape(who.AccessToken), "", map[string]any{"account": "someone@example.com"})
	var res map[string]any
	r.json(t, &res)
	if r.status != 400 || res["success"] != false || res["message"] != "Please try again later. Too many pending requests." {
		t.Fatalf("start past the pending bound: %d %s", r.status, r.body)
	}
}
