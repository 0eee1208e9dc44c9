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

// TestOverrideRoutesHideHiddenChannels: putting or deleting a channel's
// permission override answers a caller who cannot see the channel as every
// other channel route does (404 Channel not found, the same for an override
// that exists and one that does not), whatever roles they hold; one who can
// see it but lacks MANAGE_ROLES still gets 403.
func TestOverrideRoutesHideHiddenChannels(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, mal, pat, vic := e.register("ann"), e.register("mal"), e.register("pat"), e.register("vic")
	sid, cid := e.serverWithChannel(ann, "secret", mal, pat, vic)
	mgr, _ := e.must(201, "POST", "/servers/"+sid+"/roles", ann.access, map[string]any{"name": "managers", "permissions": 2048 | 1, "position": 5})
	e.must(204, "PUT", "/servers/"+sid+"/members/"+mal.id+"/roles/"+mgr["id"].(string), ann.access, nil)
	// mal manages roles but the channel is hidden from him; pat is plain.
	hide, _ := e.must(200, "PUT", "/channels/"+cid+"/overrides", ann.access, map[string]any{"user_id": mal.id, "allow": 0, "deny": 1})
	vov, _ := e.must(200, "PUT", "/channels/"+cid+"/overrides", ann.access, map[string]any{"user_id": vic.id, "allow": 0, "deny": 2})
	if code, _, _ := e.call("GET", "/channels/"+cid+"/messages", mal.access, nil); code != 404 {
		t.Fatalf("hidden channel's messages answered %d, want 404", code)
	}

	for _, c := range []struct {
		name, method, path string
		body               any
	}{
		{"put a member's", "PUT", "/channels/" + cid + "/overrides", map[string]any{"user_id": vic.id, "allow": 0, "deny": 1}},
		{"put a role's", "PUT", "/channels/" + cid + "/overrides", map[string]any{"role_id": mgr["id"], "allow": 0, "deny": 1}},
		{"delete one that exists", "DELETE", "/channels/" + cid + "/overrides/" + vov["id"].(string), nil},
		{"delete his own", "DELETE", "/channels/" + cid + "/overrides/" + hide["id"].(string), nil},
		{"delete one that does not", "DELETE", "/channels/" + cid + "/overrides/0190b5e0-0000-7000-8000-000000000000", nil},
	} {
		code, obj, _ := e.call(c.method, c.path, mal.access, c.body)
		if code != 404 || obj["error"] != "Channel not found" {
			t.Errorf("hidden member: %s: %d %v, want 404 Channel not found", c.name, code, obj)
		}
		code, obj, _ = e.call(c.method, c.path, pat.access, c.body)
		if code != 403 {
			t.Errorf("member who sees it without MANAGE_ROLES: %s: %d %v, want 403", c.name, code, obj)
		}
	}
	_, ovs := e.must(200, "GET", "/channels/"+cid+"/overrides", ann.access, nil)
	if len(ovs) != 2 {
		t.Fatalf("overrides changed: %v", ovs)
	}
}
