package owncast_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/stagechat"
)

// TestIndieAuthPendingBoundIs400: past the bound on pending sign-in
// requests, POST /api/auth/indieauth answers Owncast's 400 {success:false,
// message} ("Too many pending requests"), not 429, and fetches nothing.
func TestIndieAuthPendingBoundIs400(t *testing.T) {
	t.Parallel()
	var fetched atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<link rel="authorization_endpoint" href="/auth">`))
	}))
	t.Cleanup(srv.Close)
	target := netip.MustParseAddrPort(strings.TrimPrefix(srv.URL, "http://"))
	n := newNode(t, nodeOpts{allow: func(ap netip.AddrPort) bool { return ap == target }})
	if r := n.do(t, "POST", "/api/admin/config/serverurl", "admin", map[string]string{"value": "https://stage.example"}); r.status != 200 {
		t.Fatalf("serverurl: %d %s", r.status, r.body)
	}
	who := n.register(t, "pending")
	now := time.Now().UTC()
	for i := range 1000 {
		if err := n.db.StageChat().CreateAuthRequest(t.Context(), &stagechat.AuthRequest{State: "seed" + strconv.Itoa(i),
			AccountID: who.ID, TokenHash: "x", DisplayName: "pending", Me: srv.URL + "/profile", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	r := n.do(t, "POST", "/api/auth/indieauth?accessToken="+url.QueryEscape(who.AccessToken), "", map[string]string{"authHost": srv.URL + "/profile"})
	var res map[string]any
	r.json(t, &res)
	if r.status != 400 || res["success"] != false || res["message"] != "Please try again later. Too many pending requests." {
		t.Fatalf("start past the pending bound: %d %s", r.status, r.body)
	}
	if fetched.Load() != 0 {
		t.Fatalf("the profile was fetched %d times past the bound", fetched.Load())
	}
}
