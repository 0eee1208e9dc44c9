package together_test

import (
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestTimeoutRange: a moderator's timeout takes 1 to 40320 minutes (28
// days), as Together's moderation.rs and docs/member-moderation.md; Hearth
// refused anything past 7 days (the automod setting's bound).
func TestTimeoutRange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bob := e.register("ann"), e.register("bob")
	sid, _ := e.serverWithChannel(ann, "g", bob)
	path := "/servers/" + sid + "/members/" + bob.id + "/timeout"
	for _, c := range []struct {
		minutes, status int
	}{{20160, 200}, {40320, 200}, {40321, 400}, {0, 400}} {
		code, obj, _ := e.call("POST", path, ann.access, map[string]any{"duration_minutes": c.minutes})
		if code != c.status {
			t.Errorf("%d minutes: %d %v, want %d", c.minutes, code, obj, c.status)
		}
		if c.status == 400 && obj["error"] != "duration_minutes must be between 1 and 40320 (28 days)" {
			t.Errorf("%d minutes: %v", c.minutes, obj)
		}
	}
}

// TestStrictBodies: the routes whose Together request types deny unknown
// fields (roles, channel overrides, invites, the admin's settings and user
// edits) answer 422 to one, as Axum's Json extractor does, and an override
// without allow or deny is 422 too; Hearth ignored them and wrote.
func TestStrictBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	root := e.rootAdmin()
	ann, bob := e.register("ann"), e.register("bob")
	sid, cid := e.serverWithChannel(ann, "g", bob)
	role, _ := e.must(201, "POST", "/servers/"+sid+"/roles", ann.access, map[string]any{"name": "r"})
	rid := role["id"].(string)
	for _, c := range []struct {
		name, method, path, auth string
		body                     map[string]any
	}{
		{"create role", "POST", "/servers/" + sid + "/roles", ann.access, map[string]any{"name": "x", "hoist": true}},
		{"update role", "PATCH", "/servers/" + sid + "/roles/" + rid, ann.access, map[string]any{"name": "x", "hoist": true}},
		{"override", "PUT", "/channels/" + cid + "/overrides", ann.access, map[string]any{"role_id": rid, "allow": 0, "deny": 2, "type": 0}},
		{"override without allow", "PUT", "/channels/" + cid + "/overrides", ann.access, map[string]any{"role_id": rid, "deny": 2}},
		{"override without deny", "PUT", "/channels/" + cid + "/overrides", ann.access, map[string]any{"role_id": rid, "allow": 2}},
		{"invite", "POST", "/servers/" + sid + "/invites", ann.access, map[string]any{"max_uses": 1, "temporary": true}},
		{"settings", "PATCH", "/admin/settings", root, map[string]any{"registration_mode": "open", "x": 1}},
		{"user", "PATCH", "/admin/users/" + bob.id, root, map[string]any{"disabled": false, "x": 1}},
	} {
		code, obj, _ := e.call(c.method, c.path, c.auth, c.body)
		if msg, _ := obj["error"].(string); code != 422 || msg == "" {
			t.Errorf("%s: %d %v, want 422 with an error", c.name, code, obj)
		}
	}
	// Nothing was written.
	_, roles := e.must(200, "GET", "/servers/"+sid+"/roles", ann.access, nil)
	_, ovs := e.must(200, "GET", "/channels/"+cid+"/overrides", ann.access, nil)
	if len(roles) != 1 || roles[0].(map[string]any)["name"] != "r" || len(ovs) != 0 {
		t.Errorf("roles %v, overrides %v", roles, ovs)
	}
}

// TestKickBanBodyOptional: Together reads kick's and ban's body as
// Option<Json<…>>, so one it cannot read is no body: the member is still
// removed (204), without a reason. Hearth answered 400 or 422 and left
// the member in.
func TestKickBanBodyOptional(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bob := e.register("ann"), e.register("bob")
	sid, _ := e.serverWithChannel(ann, "g", bob)
	base := "/servers/" + sid + "/members/" + bob.id
	e.must(204, "POST", base+"/kick", ann.access, map[string]any{"reason": "spam", "delete_message_days": 1})
	e.must(201, "POST", "/servers/"+sid+"/join", bob.access, nil)
	e.must(204, "POST", base+"/kick", ann.access, `{"reason": `)
	e.must(201, "POST", "/servers/"+sid+"/join", bob.access, nil)
	e.must(204, "POST", base+"/ban", ann.access, map[string]any{"reason": 5})
	_, bans := e.must(200, "GET", "/servers/"+sid+"/bans", ann.access, nil)
	if len(bans) != 1 || bans[0].(map[string]any)["reason"] != nil {
		t.Errorf("bans %v, want bob's without a reason", bans)
	}
	// A reason it reads is still bounded.
	e.must(204, "DELETE", "/servers/"+sid+"/bans/"+bob.id, ann.access, nil)
	e.must(201, "POST", "/servers/"+sid+"/join", bob.access, nil)
	long := make([]byte, 513)
	for i := range long {
		long[i] = 'x'
	}
	e.must(400, "POST", base+"/ban", ann.access, map[string]any{"reason": string(long)})
}
