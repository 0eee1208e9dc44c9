package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// TestTogetherAdminDeleteClosesSockets: deleting an account through
// Together's DELETE /api/admin/users/:id closes that account's gateway
// socket, on this node and on another node of the same instance.
func TestTogetherAdminDeleteClosesSockets(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		nodes func(t *testing.T) (urlA, urlB string)
	}{
		{"one node", func(t *testing.T) (string, string) {
			a, _ := start(t, testConfig(t), nil)
			return a.HTTP.URL(), a.HTTP.URL()
		}},
		{"two nodes", twoNodes},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			urlA, urlB := c.nodes(t)
			var admin, bob struct {
				AccessToken string `json:"access_token"`
				User        struct{ ID string }
			}
			if code := call(t, "POST", urlA+"/auth/login", "", map[string]string{"username": "admin", "password": "adminpassword"}, &admin); code != 200 {
				t.Fatalf("admin login: %d", code)
			}
			if code := call(t, "POST", urlA+"/auth/register", "", map[string]string{"username": "leaver", "password": "password1"}, &bob); code != 201 {
				t.Fatalf("register: %d", code)
			}
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			ws, _, err := websocket.Dial(ctx, "ws"+urlB[4:]+"/ws?token="+bob.AccessToken, nil)
			if err != nil {
				t.Fatalf("gateway: %v", err)
			}
			defer ws.CloseNow()
			_, b, err := ws.Read(ctx)
			var f struct{ T string }
			if err != nil || json.Unmarshal(b, &f) != nil || f.T != "READY" {
				t.Fatalf("first frame %s %v", b, err)
			}
			if code := call(t, "DELETE", urlA+"/api/admin/users/"+bob.User.ID, admin.AccessToken, nil, nil); code != 204 {
				t.Fatalf("delete: %d", code)
			}
			for {
				if _, _, err = ws.Read(ctx); err != nil {
					break
				}
			}
			if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
				t.Fatalf("socket ended with %v (status %d), want a policy-violation close", err, got)
			}
		})
	}
}

// TestTogetherAdminBare: Together's own deployments (its nginx.conf, its
// Vite dev server) strip /api/ before a request reaches the server, so its
// admin dashboard calls /admin/stats, /admin/users, … bare. With a Bearer
// token those are Together's instance admin; without one /admin/* stays the
// web UI's admin pages.
func TestTogetherAdminBare(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	var admin struct {
		AccessToken string `json:"access_token"`
	}
	if code := call(t, "POST", base+"/auth/login", "", map[string]string{"username": "admin", "password": "adminpassword"}, &admin); code != 200 {
		t.Fatalf("admin login: %d", code)
	}
	var stats map[string]any
	if code := call(t, "GET", base+"/admin/stats", admin.AccessToken, nil, &stats); code != 200 || stats["total_users"] == nil {
		t.Fatalf("GET /admin/stats with a Bearer token: %d %v", code, stats)
	}
	var users struct{ Users []any }
	if code := call(t, "GET", base+"/admin/users?search=admin", admin.AccessToken, nil, &users); code != 200 || len(users.Users) != 1 {
		t.Fatalf("GET /admin/users: %d %v", code, users)
	}
	var set map[string]any
	if code := call(t, "PATCH", base+"/admin/settings", admin.AccessToken, map[string]string{"registration_mode": "open"}, &set); code != 200 || set["registration_mode"] != "open" {
		t.Fatalf("PATCH /admin/settings: %d %v", code, set)
	}
	// No Bearer token: the web UI's admin page, as before.
	res, err := http.Get(base + "/admin/stats")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 401 || !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("GET /admin/stats without a token: %d %s, want the admin UI's 401 page", res.StatusCode, ct)
	}
}
