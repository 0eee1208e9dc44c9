package together_test

import (
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestRoleEscalationRefused replays issue 13's chain over Together's REST
// API: a member whose only permission is MANAGE_ROLES tries to make
// themselves ADMINISTRATOR (create, edit, assign, override) and then to
// use it. Every step answers Together's 403 and message, and nothing is
// gained.
func TestRoleEscalationRefused(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			ann, mal, vic := e.register("ann"), e.register("mal"), e.register("vic")
			sid, cid := e.serverWithChannel(ann, "general", mal, vic)
			roles := "/servers/" + sid + "/roles"
			mgr, _ := e.must(201, "POST", roles, ann.access, map[string]any{"name": "managers", "permissions": 2048, "position": 5})
			e.must(204, "PUT", "/servers/"+sid+"/members/"+mal.id+"/roles/"+mgr["id"].(string), ann.access, nil)
			low, _ := e.must(201, "POST", roles, ann.access, map[string]any{"name": "misplaced admin", "permissions": 8192, "position": 0})

			steps := []struct {
				name, method, path string
				body               any
				want               string
			}{
				{"create an ADMINISTRATOR role", "POST", roles, map[string]any{"name": "pwn", "permissions": 8192, "position": 1},
					"Cannot grant permissions you do not have"},
				{"create a role above oneself", "POST", roles, map[string]any{"name": "pwn", "permissions": 0, "position": 9},
					"Cannot create a role at or above your highest role position"},
				{"give one's own role ADMINISTRATOR", "PATCH", roles + "/" + mgr["id"].(string), map[string]any{"permissions": 8192 | 2048},
					"Cannot edit a role at or above your highest role position"},
				{"assign an ADMINISTRATOR role placed below", "PUT", "/servers/" + sid + "/members/" + mal.id + "/roles/" + low["id"].(string), nil,
					"Cannot grant permissions you do not have"},
				{"allow MANAGE_MESSAGES to oneself in a channel", "PUT", "/channels/" + cid + "/overrides",
					map[string]any{"user_id": mal.id, "allow": 4, "deny": 0},
					"Cannot manage the override of a member with an equal or higher role"},
				{"allow MANAGE_MESSAGES to a member below", "PUT", "/channels/" + cid + "/overrides",
					map[string]any{"user_id": vic.id, "allow": 4, "deny": 0},
					"Cannot grant permissions you do not have"},
			}
			for _, s := range steps {
				code, obj, _ := e.call(s.method, s.path, mal.access, s.body)
				if code != 403 || obj["error"] != s.want {
					t.Errorf("%s: %d %v, want 403 %q", s.name, code, obj, s.want)
				}
			}
			// Nothing was gained: no ADMINISTRATOR role was added, and the
			// attacker still cannot read webhooks or kick.
			_, list := e.must(200, "GET", roles, ann.access, nil)
			if len(list) != 2 {
				t.Errorf("roles after the attempts: %v", list)
			}
			e.must(403, "GET", "/servers/"+sid+"/webhooks", mal.access, nil)
			e.must(403, "POST", "/servers/"+sid+"/members/"+vic.id+"/kick", mal.access, map[string]any{})
			// What a MANAGE_ROLES holder may do still works: a role below,
			// with bits they hold, given to a member.
			sub, _ := e.must(201, "POST", roles, mal.access, map[string]any{"name": "helpers", "permissions": 2048, "position": 4})
			e.must(204, "PUT", "/servers/"+sid+"/members/"+vic.id+"/roles/"+sub["id"].(string), mal.access, nil)
		})
	}
}
