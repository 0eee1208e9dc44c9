package app_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/store/storetest"
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
		{"two nodes", func(t *testing.T) (string, string) {
			if storetest.PostgresURL() == "" || natsURL() == "" {
				t.Skip("needs HEARTH_TEST_POSTGRES_URL and HEARTH_TEST_NATS_URL")
			}
			dsn := storetest.PostgresDSN(t)
			node := func() string {
				cfg := testConfig(t)
				cfg.Database, cfg.Bus, cfg.JWTSecret = dsn, natsURL(), ""
				a, _ := start(t, cfg, nil)
				return a.HTTP.URL()
			}
			a := node()
			return a, node()
		}},
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
