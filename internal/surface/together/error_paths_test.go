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

// TestPageParams: as Together's Query<…> extractors, a message list's
// before that is not a UUID, or a limit that is not an integer, is 400
// (Hearth answered [] or the first page); a search's limit outside 1–100
// and a channel_id that is not a UUID are 400 too (Together validates
// them; Hearth clamped, and answered 404 for the channel).
func TestPageParams(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bob := e.register("ann"), e.register("bob")
	sid, cid := e.serverWithChannel(ann, "g", bob)
	m, _ := e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": "hello there"})
	mid := m["id"].(string)
	dm, _ := e.must(201, "POST", "/dm-channels", ann.access, map[string]any{"user_id": bob.id})
	did := dm["id"].(string)
	for _, c := range []struct {
		path   string
		status int
	}{
		{"/channels/" + cid + "/messages?limit=0", 200},
		{"/channels/" + cid + "/messages?limit=1000", 200},
		{"/channels/" + cid + "/messages?before=" + mid, 200},
		{"/channels/" + cid + "/messages?limit=abc", 400},
		{"/channels/" + cid + "/messages?limit=", 400},
		{"/channels/" + cid + "/messages?before=nope", 400},
		{"/channels/" + cid + "/messages/" + mid + "/thread?before=nope", 400},
		{"/channels/" + cid + "/messages/" + mid + "/thread?limit=1.5", 400},
		{"/dm-channels/" + did + "/messages?before=nope", 400},
		{"/servers/" + sid + "/search?q=hello&limit=100", 200},
		{"/servers/" + sid + "/search?q=hello&limit=0", 400},
		{"/servers/" + sid + "/search?q=hello&limit=101", 400},
		{"/servers/" + sid + "/search?q=hello&limit=x", 400},
		{"/servers/" + sid + "/search?q=hello&channel_id=nope", 400},
		{"/servers/" + sid + "/search?q=hello&before=nope", 400},
	} {
		code, obj, _ := e.call("GET", c.path, ann.access, nil)
		if code != c.status || (code == 400 && obj["error"] == nil) {
			t.Errorf("%s: %d %v, want %d", c.path, code, obj, c.status)
		}
	}
}

// TestBodyDataErrors: well-formed JSON that a field's Together type cannot
// take is Axum's 422 (a data error), not 400: a starts_at that is not a
// timestamp, a reply_to or option_id that is not a UUID (Hearth answered
// 400 "Malformed JSON body", 404 and 400). Malformed JSON stays 400.
func TestBodyDataErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann := e.register("ann")
	_, cid := e.serverWithChannel(ann, "g")
	poll, _ := e.must(201, "POST", "/channels/"+cid+"/polls", ann.access, map[string]any{"question": "q?", "options": []string{"a", "b"}})
	pid := poll["poll"].(map[string]any)["id"].(string)
	for _, c := range []struct {
		name, path string
		body       any
		status     int
	}{
		{"event starts_at", "/channels/" + cid + "/events", map[string]any{"name": "e", "starts_at": "tomorrow"}, 422},
		{"reply_to", "/channels/" + cid + "/messages", map[string]any{"content": "x", "reply_to": "junk"}, 422},
		{"reply_to, content too long", "/channels/" + cid + "/messages", map[string]any{"content": string(make([]byte, 4001)), "reply_to": "junk"}, 422},
		{"option_id", "/polls/" + pid + "/vote", map[string]any{"option_id": "junk"}, 422},
		{"malformed", "/channels/" + cid + "/events", `{"name": "e", `, 400},
		{"not JSON", "/channels/" + cid + "/messages", `content=x`, 400},
	} {
		code, obj, _ := e.call("POST", c.path, ann.access, c.body)
		if msg, _ := obj["error"].(string); code != c.status || msg == "" {
			t.Errorf("%s: %d %v, want %d with an error", c.name, code, obj, c.status)
		}
	}
}

// TestModerationRefusalOrder: as Together's can_moderate, a member acting
// on themself is told 400 "You cannot moderate yourself" and one acting on
// the owner 403 "Cannot moderate the server owner" before the permission
// is asked: a member holding none got Hearth's "Missing required
// permission" for both. One without the permission acting on another
// member still gets that.
func TestModerationRefusalOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bob, cy := e.register("ann"), e.register("bob"), e.register("cy")
	sid, _ := e.serverWithChannel(ann, "g", bob, cy)
	for _, route := range []string{"kick", "ban", "timeout"} {
		path := func(u user) string { return "/servers/" + sid + "/members/" + u.id + "/" + route }
		method := "POST"
		body := map[string]any{"duration_minutes": 5}
		for _, c := range []struct {
			target user
			status int
			msg    string
		}{{bob, 400, "You cannot moderate yourself"}, {ann, 403, "Cannot moderate the server owner"}} {
			code, obj, _ := e.call(method, path(c.target), bob.access, body)
			if code != c.status || obj["error"] != c.msg {
				t.Errorf("%s of %s by a member holding nothing: %d %v, want %d %q", route, c.target.name, code, obj, c.status, c.msg)
			}
		}
		if code, obj, _ := e.call(method, path(cy), bob.access, body); code != 403 || obj["error"] == "Cannot moderate the server owner" {
			t.Errorf("%s of a member by a member holding nothing: %d %v", route, code, obj)
		}
	}
}
