package together_test

import (
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestChangePassword is Hearth's POST /auth/change-password: the current
// password is required (a wrong one is 403, not the 401 of an expired
// token), the new one must be 8-128 characters, and a change signs out
// every other session of the account while the caller gets a fresh pair.
func TestChangePassword(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			ann := e.register("ann")
			other := obj2(e, "ann") // ann signed in elsewhere too
			for _, c := range []struct {
				name   string
				body   map[string]any
				status int
				msg    string
			}{
				{"wrong current", map[string]any{"current_password": "nope-nope", "new_password": "password456"}, 403, "Current password is incorrect"},
				{"empty current", map[string]any{"current_password": "", "new_password": "password456"}, 403, "Current password is incorrect"},
				{"short new", map[string]any{"current_password": "password123", "new_password": "short"}, 400, "Password must be 8-128 characters"},
				{"missing new", map[string]any{"current_password": "password123"}, 422, "current_password and new_password are required"},
			} {
				code, obj, _ := e.call("POST", "/auth/change-password", ann.access, c.body)
				if code != c.status || obj["error"] != c.msg {
					t.Errorf("%s: %d %v, want %d %q", c.name, code, obj, c.status, c.msg)
				}
			}
			e.must(401, "POST", "/auth/change-password", "", map[string]any{"current_password": "password123", "new_password": "password456"})
			// Nothing changed so far.
			e.must(200, "GET", "/users/@me", other, nil)

			got, _ := e.must(200, "POST", "/auth/change-password", ann.access, map[string]any{"current_password": "password123", "new_password": "password456"})
			access, _ := got["access_token"].(string)
			refresh, _ := got["refresh_token"].(string)
			if access == "" || refresh == "" || got["user"].(map[string]any)["id"] != ann.id {
				t.Fatalf("change-password answer %v", got)
			}
			e.must(200, "GET", "/users/@me", access, nil)
			e.must(200, "POST", "/auth/refresh", "", map[string]string{"refresh_token": refresh})
			// Every earlier session is gone: the caller's old pair and the
			// other device's.
			e.must(401, "GET", "/users/@me", ann.access, nil)
			e.must(401, "GET", "/users/@me", other, nil)
			e.must(401, "POST", "/auth/refresh", "", map[string]string{"refresh_token": ann.refresh})
			e.must(401, "POST", "/auth/login", "", map[string]string{"username": "ann", "password": "password123"})
			e.must(200, "POST", "/auth/login", "", map[string]string{"username": "ann", "password": "password456"})
		})
	}
}

// TestAdminSetPassword is Hearth's PUT /api/admin/users/:id/password: the
// instance admin only, not for the admin's own account (that one asks for
// the current password), registered accounts only; the user's sessions are
// signed out and the new password signs in.
func TestAdminSetPassword(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			root := e.rootAdmin()
			me, _ := e.must(200, "GET", "/users/@me", root, nil)
			ann, bob := e.register("ann"), e.register("bob")
			body := map[string]any{"new_password": "password456"}
			for _, c := range []struct {
				name, auth, id string
				body           map[string]any
				status         int
				msg            string
			}{
				{"not an admin", ann.access, bob.id, body, 403, "Admin access required"},
				{"self", root, me["id"].(string), body, 400, "Change your own password with your current one (POST /auth/change-password)"},
				{"unknown", root, "0190a000-0000-7000-8000-000000000000", body, 404, "User not found"},
				{"short", root, bob.id, map[string]any{"new_password": "short"}, 400, "Password must be 8-128 characters"},
				{"missing", root, bob.id, map[string]any{}, 422, "new_password is required"},
			} {
				code, obj, _ := e.call("PUT", "/api/admin/users/"+c.id+"/password", c.auth, c.body)
				if code != c.status || obj["error"] != c.msg {
					t.Errorf("%s: %d %v, want %d %q", c.name, code, obj, c.status, c.msg)
				}
			}
			e.must(200, "GET", "/users/@me", bob.access, nil) // refused changes left bob alone

			e.must(204, "PUT", "/api/admin/users/"+bob.id+"/password", root, body)
			e.must(401, "GET", "/users/@me", bob.access, nil)
			e.must(401, "POST", "/auth/refresh", "", map[string]string{"refresh_token": bob.refresh})
			e.must(401, "POST", "/auth/login", "", map[string]string{"username": "bob", "password": "password123"})
			e.must(200, "POST", "/auth/login", "", map[string]string{"username": "bob", "password": "password456"})
			e.must(200, "GET", "/users/@me", root, nil) // the admin's own session stays
			e.must(200, "GET", "/users/@me", ann.access, nil)
		})
	}
}
