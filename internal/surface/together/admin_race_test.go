package together_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestAdminLastAdminRace: admins demoting, disabling and deleting each
// other at the same moment leave the instance at least one active admin.
// Each checked "is this the last admin?" before writing, so all could pass
// the check and the instance was left with none; the store now counts the
// others in the write's own transaction. The refused ones get Together's
// answer for the last admin (400), or 403 when the caller lost its own
// role first (401 when deleted); the others succeed.
func TestAdminLastAdminRace(t *testing.T) {
	t.Parallel()
	const admins, rounds = 4, 8
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			for round := range rounds {
				e := newEnv(t, eng)
				ctx := t.Context()
				us := make([]user, admins)
				for i := range us {
					us[i] = e.register(fmt.Sprintf("adm%d", i))
					a, err := e.ident.Account(ctx, us[i].id)
					if err != nil {
						t.Fatal(err)
					}
					a.IsAdmin = true
					if err := e.ident.UpdateAdminState(ctx, a.ID, &a.IsAdmin, nil); err != nil {
						t.Fatal(err)
					}
				}
				// Each acts on the next, in a ring: demote, disable or delete.
				whats := make([]string, admins)
				answers := fire(t, admins, func(i int) *http.Request {
					target := "/api/admin/users/" + us[(i+1)%admins].id
					switch (i + round) % 3 {
					case 1:
						whats[i] = "disable"
						return e.jsonReq("PATCH", target, us[i].access, map[string]any{"disabled": true})
					case 2:
						whats[i] = "delete"
						return e.jsonReq("DELETE", target, us[i].access, nil)
					}
					whats[i] = "demote"
					return e.jsonReq("PATCH", target, us[i].access, map[string]any{"is_admin": false})
				})

				all, err := e.ident.Store().Admins(ctx)
				if err != nil {
					t.Fatal(err)
				}
				active := 0
				for _, a := range all {
					if !a.Disabled() {
						active++
					}
				}
				if active == 0 {
					t.Fatalf("round %d: no active admin left; answers %+v", round, answers)
				}
				for i, a := range answers {
					var obj map[string]any
					_ = json.Unmarshal([]byte(a.body), &obj)
					switch {
					case a.code == 200 || a.code == 204:
					case a.code == 400 && obj["error"] == "Cannot remove the last active admin":
					case a.code == 403 && (obj["error"] == "Admin access required" || obj["error"] == "Account is disabled"):
					case a.code == 401 && obj["error"] == "Invalid or expired token": // the caller was deleted
					default:
						t.Errorf("round %d: admin %d's %s: %d %s", round, i, whats[i], a.code, a.body)
					}
				}
			}
		})
	}
}
