package together_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/together"
)

func keys(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// TestAuth covers register/login/refresh/me with Together's shapes and
// codes, bare and under /api/.
func TestAuth(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			obj, _ := e.must(201, "POST", "/auth/register", "", map[string]string{"username": "alice", "password": "password123"})
			if got := keys(obj); got != "access_token,refresh_token,user" {
				t.Fatalf("AuthResponse keys %s", got)
			}
			u := obj["user"].(map[string]any)
			if got := keys(u); got != "activity,avatar_url,bio,created_at,custom_status,email,id,is_admin,pronouns,status,username" {
				t.Fatalf("UserDto keys %s", got)
			}
			// Offline until it connects, as Together registers it.
			if u["email"] != nil || u["status"] != "offline" || u["is_admin"] != false {
				t.Errorf("user %v", u)
			}
			refresh := obj["refresh_token"].(string)
			cases := []struct {
				name, method, path, auth string
				body                     any
				code                     int
				err                      string
			}{
				{"duplicate username", "POST", "/auth/register", "", map[string]string{"username": "ALICE", "password": "password123"}, 409, "Username already taken"},
				{"short username", "POST", "/api/auth/register", "", map[string]string{"username": "a", "password": "password123"}, 400, ""},
				{"bad chars", "POST", "/auth/register", "", map[string]string{"username": "a-b", "password": "password123"}, 400, ""},
				{"short password", "POST", "/auth/register", "", map[string]string{"username": "bobby", "password": "short"}, 400, ""},
				{"bad email", "POST", "/auth/register", "", map[string]string{"username": "bobby", "password": "password123", "email": "nope"}, 400, ""},
				{"malformed json", "POST", "/auth/login", "", `{"username":`, 400, ""},
				{"wrong type", "POST", "/auth/login", "", `{"username": 5, "password": "x"}`, 422, ""},
				{"missing field", "POST", "/auth/login", "", `{"username": "alice"}`, 422, ""},
				{"bad password", "POST", "/auth/login", "", map[string]string{"username": "alice", "password": "wrongpass"}, 401, "Invalid username or password"},
				{"unknown user", "POST", "/api/auth/login", "", map[string]string{"username": "nobody", "password": "wrongpass"}, 401, "Invalid username or password"},
				{"no auth", "GET", "/users/@me", "", nil, 401, "Missing or invalid Authorization header"},
				{"garbage token", "GET", "/api/users/@me", "x.y.z", nil, 401, "Invalid or expired token"},
				{"refresh as access", "GET", "/users/@me", refresh, nil, 401, "Invalid token type"},
				{"registration mode", "GET", "/instance/registration-mode", "", nil, 200, ""},
				{"health", "GET", "/health", "", nil, 200, ""},
				{"api health", "GET", "/api/health/live", "", nil, 200, ""},
			}
			for _, c := range cases {
				code, obj, _ := e.call(c.method, c.path, c.auth, c.body)
				if code != c.code || (c.err != "" && obj["error"] != c.err) || (code >= 400 && obj["error"] == nil) {
					t.Errorf("%s: %d %v, want %d %q", c.name, code, obj, c.code, c.err)
				}
			}
			// Login then refresh rotates.
			obj, _ = e.must(200, "POST", "/api/auth/login", "", map[string]string{"username": "alice", "password": "password123"})
			r1 := obj["refresh_token"].(string)
			obj, _ = e.must(200, "POST", "/auth/refresh", "", map[string]string{"refresh_token": r1})
			r2 := obj["refresh_token"].(string)
			if r2 == r1 || obj["access_token"] == "" {
				t.Fatal("refresh did not rotate")
			}
			// Presented again at once (a second tab, a retry), the old
			// token gets the same new pair back; reuse after the grace
			// revokes the session (identity's TestRefreshGrace).
			if code, obj, _ := e.call("POST", "/auth/refresh", "", map[string]string{"refresh_token": r1}); code != 200 ||
				obj["refresh_token"] != r2 {
				t.Errorf("second refresh within the grace: %d %v", code, obj)
			}
			me, _ := e.must(200, "PATCH", "/users/@me", obj2(e, "alice"), map[string]any{"bio": "hi", "status": "dnd", "pronouns": "she/her"})
			if me["bio"] != "hi" || me["status"] != "dnd" {
				t.Errorf("patch me %v", me)
			}
			if code, _, _ := e.call("PATCH", "/users/@me", obj2(e, "alice"), map[string]any{"bio": strings.Repeat("x", 501)}); code != 400 {
				t.Errorf("long bio %d", code)
			}
			if code, _, _ := e.call("PATCH", "/users/@me", obj2(e, "alice"), map[string]any{"status": "sleeping"}); code != 400 {
				t.Errorf("bad status %d", code)
			}
		})
	}
}

// obj2 logs a user in and returns an access token.
// rootAdmin makes the instance admin "root" and signs it in.
func (e *env) rootAdmin() string {
	e.t.Helper()
	if _, _, err := e.ident.EnsureAdmin(e.t.Context(), "root", "password123"); err != nil {
		e.t.Fatal(err)
	}
	return obj2(e, "root")
}

func obj2(e *env, name string) string {
	obj, _ := e.must(200, "POST", "/auth/login", "", map[string]string{"username": name, "password": "password123"})
	return obj["access_token"].(string)
}

// makeAdmin makes u an instance admin.
func (e *env) makeAdmin(u user) {
	e.t.Helper()
	acct, err := e.ident.Account(context.Background(), u.id)
	if err != nil {
		e.t.Fatal(err)
	}
	acct.IsAdmin = true
	if err := e.ident.UpdateAdminState(context.Background(), acct.ID, &acct.IsAdmin, nil); err != nil {
		e.t.Fatal(err)
	}
}

// inviteOnly makes root an instance admin and, as root, sets registration
// to invite_only.
func (e *env) inviteOnly(root user) {
	e.t.Helper()
	e.makeAdmin(root)
	e.must(200, "PATCH", "/api/admin/settings", obj2(e, root.name), map[string]any{"registration_mode": "invite_only"})
}

// TestCommunityFlow walks servers, channels, roles, messages, threads,
// reactions, pins, search, DMs and invites with two users.
func TestCommunityFlow(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			ann, bob := e.register("ann"), e.register("bob")
			srv, _ := e.must(201, "POST", "/servers", ann.access, map[string]any{"name": "Hearth", "is_public": true})
			if got := keys(srv); got != "created_at,icon_url,id,is_public,member_count,name,owner_id,require_invite,updated_at" {
				t.Fatalf("ServerDto keys %s", got)
			}
			sid := srv["id"].(string)
			if code, obj, _ := e.call("GET", "/servers/"+sid, bob.access, nil); code != 404 || obj["error"] != "Server not found" {
				t.Fatalf("non-member: %d %v", code, obj)
			}
			e.must(404, "GET", "/servers/not-a-uuid", bob.access, nil)
			// Templates are Together's: Gaming makes its five channels; an
			// unknown template is a 400.
			_, tmpls := e.must(200, "GET", "/server-templates", bob.access, nil)
			var gaming string
			for _, tm := range tmpls {
				if tm := tm.(map[string]any); tm["name"] == "Gaming" {
					gaming = tm["id"].(string)
				}
			}
			gs, _ := e.must(201, "POST", "/servers", bob.access, map[string]any{"name": "G", "template_id": gaming})
			_, gch := e.must(200, "GET", "/servers/"+gs["id"].(string)+"/channels", bob.access, nil)
			var names []string
			for _, c := range gch {
				names = append(names, c.(map[string]any)["type"].(string)+":"+c.(map[string]any)["name"].(string))
			}
			if got := strings.Join(names, ","); got != "text:announcements,text:general,text:gaming-chat,voice:General,voice:Gaming" {
				t.Errorf("Gaming template channels %s", got)
			}
			e.must(204, "DELETE", "/servers/"+gs["id"].(string), bob.access, nil)
			if code, obj, _ := e.call("POST", "/servers", bob.access, map[string]any{"name": "T", "template_id": "0190a000-0000-7000-8000-000000000000"}); code != 400 || obj["error"] != "Template not found" {
				t.Errorf("unknown template: %d %v", code, obj)
			}
			_, browse := e.must(200, "GET", "/servers/browse", bob.access, nil)
			if len(browse) != 1 {
				t.Fatalf("browse %v", browse)
			}
			e.must(201, "POST", "/api/servers/"+sid+"/join", bob.access, nil)
			e.must(409, "POST", "/servers/"+sid+"/join", bob.access, nil)
			ch, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "general", "type": "text", "category": "Text"})
			if got := keys(ch); got != "category,created_at,id,name,position,server_id,topic,type" {
				t.Fatalf("Channel keys %s", got)
			}
			cid := ch["id"].(string)
			e.must(403, "POST", "/servers/"+sid+"/channels", bob.access, map[string]any{"name": "x", "type": "text"})
			e.must(422, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "x", "type": "carrier-pigeon"})
			e.must(400, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": strings.Repeat("x", 101), "type": "text"})
			// Messages: 17 fields, mentions, newest first, cursor.
			m1, _ := e.must(201, "POST", "/channels/"+cid+"/messages", bob.access, map[string]any{"content": "hello @ann and @everyone"})
			if got := keys(m1); got != "author_id,channel_id,content,created_at,deleted,edited_at,event,id,mention_everyone,mention_user_ids,pinned,pinned_at,pinned_by,poll,reply_to,thread_id,thread_reply_count" {
				t.Fatalf("MessageDto keys %s", got)
			}
			if fmt.Sprint(m1["mention_user_ids"]) != "["+ann.id+"]" || m1["mention_everyone"] != true {
				t.Errorf("mentions %v %v", m1["mention_user_ids"], m1["mention_everyone"])
			}
			ids := []string{m1["id"].(string)}
			for i := range 3 {
				m, _ := e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": fmt.Sprintf("msg %d", i), "reply_to": ids[0]})
				ids = append(ids, m["id"].(string))
			}
			for _, c := range []struct {
				q    string
				want int
				head string
			}{{"", 4, ids[3]}, {"?limit=2", 2, ids[3]}, {"?before=" + ids[2], 2, ids[1]}, {"?limit=0", 1, ids[3]}, {"?limit=500", 4, ids[3]},
				{"?before=" + ids[0], 0, ""}, {"?before=" + sid, 0, ""}} {
				_, list := e.must(200, "GET", "/channels/"+cid+"/messages"+c.q, bob.access, nil)
				if len(list) != c.want || (c.want > 0 && list[0].(map[string]any)["id"] != c.head) {
					t.Errorf("list %s: %d items", c.q, len(list))
				}
			}
			e.must(400, "POST", "/channels/"+cid+"/messages", bob.access, map[string]any{"content": ""})
			e.must(400, "POST", "/channels/"+cid+"/messages", bob.access, map[string]any{"content": strings.Repeat("x", 4001)})
			e.must(404, "POST", "/channels/"+cid+"/messages", bob.access, map[string]any{"content": "x", "reply_to": sid})
			// Edit: author only; delete: author or owner.
			e.must(403, "PATCH", "/messages/"+ids[1], bob.access, map[string]any{"content": "hijack"})
			ed, _ := e.must(200, "PATCH", "/messages/"+ids[1], ann.access, map[string]any{"content": "Crème brûlée"})
			if ed["edited_at"] == nil {
				t.Error("edited_at not set")
			}
			e.must(403, "DELETE", "/messages/"+ids[2], bob.access, nil)
			e.must(204, "DELETE", "/messages/"+ids[0], ann.access, nil)
			// Read by id, a deleted message is Together's deleted: true (TestDeletedMessageReadByID).
			if gone, _ := e.must(200, "GET", "/channels/"+cid+"/messages/"+ids[0], bob.access, nil); gone["deleted"] != true || gone["content"] != "" {
				t.Errorf("deleted message read by id: %v", gone)
			}
			// Threads.
			tr, _ := e.must(201, "POST", "/channels/"+cid+"/messages/"+ids[3]+"/thread", bob.access, map[string]any{"content": "in thread"})
			if tr["thread_id"] != ids[3] {
				t.Errorf("thread_id %v", tr["thread_id"])
			}
			e.must(400, "POST", "/channels/"+cid+"/messages/"+tr["id"].(string)+"/thread", bob.access, map[string]any{"content": "nested"})
			_, th := e.must(200, "GET", "/channels/"+cid+"/messages/"+ids[3]+"/thread", ann.access, nil)
			root, _ := e.must(200, "GET", "/channels/"+cid+"/messages/"+ids[3], ann.access, nil)
			if len(th) != 1 || root["thread_reply_count"] != 1.0 {
				t.Errorf("thread %d count %v", len(th), root["thread_reply_count"])
			}
			// As Together, a thread lists from its first reply, and the
			// cursor (before) pages forwards.
			for _, c := range []string{"t2", "t3"} {
				e.must(201, "POST", "/channels/"+cid+"/messages/"+ids[3]+"/thread", bob.access, map[string]any{"content": c})
			}
			page := func(q string) (out []string, last string) {
				_, l := e.must(200, "GET", "/channels/"+cid+"/messages/"+ids[3]+"/thread"+q, ann.access, nil)
				for _, m := range l {
					out, last = append(out, m.(map[string]any)["content"].(string)), m.(map[string]any)["id"].(string)
				}
				return out, last
			}
			p1, cur := page("?limit=2")
			p2, _ := page("?limit=2&before=" + cur)
			if fmt.Sprint(p1, p2) != "[in thread t2] [t3]" {
				t.Errorf("thread pages %v %v", p1, p2)
			}
			// Reactions and pins.
			emoji := url.PathEscape("👍")
			e.must(204, "PUT", "/channels/"+cid+"/messages/"+ids[3]+"/reactions/"+emoji, bob.access, nil)
			e.must(204, "PUT", "/channels/"+cid+"/messages/"+ids[3]+"/reactions/"+emoji, ann.access, nil)
			_, rs := e.must(200, "GET", "/channels/"+cid+"/messages/"+ids[3]+"/reactions", bob.access, nil)
			if fmt.Sprint(rs) != "[map[count:2 emoji:👍 me:true]]" {
				t.Errorf("reactions %v", rs)
			}
			// As Together: removing a reaction one has not made is a 404.
			e.must(204, "DELETE", "/channels/"+cid+"/messages/"+ids[3]+"/reactions/"+emoji, bob.access, nil)
			if code, obj, _ := e.call("DELETE", "/channels/"+cid+"/messages/"+ids[3]+"/reactions/"+emoji, bob.access, nil); code != 404 || obj["error"] != "Reaction not found" {
				t.Errorf("removing a missing reaction: %d %v", code, obj)
			}
			e.must(204, "PUT", "/channels/"+cid+"/messages/"+ids[3]+"/reactions/"+emoji, bob.access, nil)
			e.must(403, "POST", "/channels/"+cid+"/messages/"+ids[3]+"/pin", bob.access, nil)
			e.must(204, "POST", "/channels/"+cid+"/messages/"+ids[3]+"/pin", ann.access, nil)
			// As Together: pinning a pinned message is an idempotent 204.
			e.must(204, "POST", "/channels/"+cid+"/messages/"+ids[3]+"/pin", ann.access, nil)
			_, pins := e.must(200, "GET", "/channels/"+cid+"/pinned-messages", bob.access, nil)
			if len(pins) != 1 || pins[0].(map[string]any)["pinned_by"] != ann.id {
				t.Errorf("pins %v", pins)
			}
			// Search folds diacritics and marks matches.
			sr, _ := e.must(200, "GET", "/servers/"+sid+"/search?q=creme", bob.access, nil)
			res := sr["results"].([]any)
			if sr["total"] != 1.0 || len(res) != 1 || res[0].(map[string]any)["highlight"] != "<mark>Crème</mark> brûlée" ||
				res[0].(map[string]any)["author_username"] != "ann" || sr["has_more"] != false {
				t.Errorf("search %v", sr)
			}
			e.must(400, "GET", "/servers/"+sid+"/search?q=x", bob.access, nil)
			// Roles and overrides: hide the channel from bob.
			role, _ := e.must(201, "POST", "/servers/"+sid+"/roles", ann.access, map[string]any{"name": "muted", "permissions": 0})
			e.must(403, "POST", "/servers/"+sid+"/roles", bob.access, map[string]any{"name": "x"})
			// As Together: permissions lie within the defined bits (0..32767).
			for _, bad := range []int64{-1, 32768, 99999} {
				if code, obj, _ := e.call("POST", "/servers/"+sid+"/roles", ann.access, map[string]any{"name": "x", "permissions": bad}); code != 400 || obj["error"] != "Permissions must be between 0 and 32767" {
					t.Errorf("role permissions %d: %d %v", bad, code, obj)
				}
				e.must(400, "PATCH", "/servers/"+sid+"/roles/"+role["id"].(string), ann.access, map[string]any{"permissions": bad})
			}
			e.must(204, "PUT", "/servers/"+sid+"/members/"+bob.id+"/roles/"+role["id"].(string), ann.access, nil)
			// As Together: override bits lie within 0..32767 too.
			for _, bad := range []struct {
				allow, deny int64
				want        string
			}{{32768, 0, "allow must be between 0 and 32767"}, {-1, 0, "allow must be between 0 and 32767"}, {0, 99999, "deny must be between 0 and 32767"}} {
				if code, obj, _ := e.call("PUT", "/channels/"+cid+"/overrides", ann.access, map[string]any{"role_id": role["id"], "allow": bad.allow, "deny": bad.deny}); code != 400 || obj["error"] != bad.want {
					t.Errorf("override allow %d deny %d: %d %v, want 400 %q", bad.allow, bad.deny, code, obj, bad.want)
				}
			}
			e.must(200, "PUT", "/channels/"+cid+"/overrides", ann.access, map[string]any{"role_id": role["id"], "allow": 0, "deny": 1})
			e.must(404, "GET", "/channels/"+cid+"/messages", bob.access, nil)
			// A bit both allowed and denied is refused (Together's 400) and
			// leaves the override as it was.
			if code, obj, _ := e.call("PUT", "/channels/"+cid+"/overrides", ann.access, map[string]any{"role_id": role["id"], "allow": 1, "deny": 1}); code != 400 ||
				obj["error"] != "allow and deny must not have overlapping bits" {
				t.Errorf("overlapping override: %d %v", code, obj)
			}
			e.must(404, "GET", "/channels/"+cid+"/messages", bob.access, nil)
			// A channel type Together does not know: 422 (its enum).
			e.must(422, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "bad", "type": "invalid"})
			// Unbanning someone not banned succeeds silently, as Together.
			e.must(204, "DELETE", "/servers/"+sid+"/bans/"+bob.id, ann.access, nil)
			_, members := e.must(200, "GET", "/servers/"+sid+"/members", ann.access, nil)
			if len(members) != 2 {
				t.Errorf("members %v", members)
			}
			// DMs.
			dm, _ := e.must(201, "POST", "/dm-channels", ann.access, map[string]any{"user_id": bob.id})
			e.must(200, "POST", "/dm-channels", bob.access, map[string]any{"user_id": ann.id})
			e.must(400, "POST", "/dm-channels", bob.access, map[string]any{"user_id": bob.id})
			dmid := dm["id"].(string)
			e.must(201, "POST", "/dm-channels/"+dmid+"/messages", bob.access, map[string]any{"content": "psst"})
			carl := e.register("carl")
			e.must(404, "GET", "/dm-channels/"+dmid+"/messages", carl.access, nil)
			_, dms := e.must(200, "GET", "/dm-channels/"+dmid+"/messages", ann.access, nil)
			if len(dms) != 1 || dms[0].(map[string]any)["content"] != "psst" {
				t.Errorf("dm messages %v", dms)
			}
			// Invites.
			inv, _ := e.must(201, "POST", "/servers/"+sid+"/invites", ann.access, map[string]any{"max_uses": 1})
			code := inv["code"].(string)
			prev, _ := e.must(200, "GET", "/invites/"+code, carl.access, nil)
			if prev["server_name"] != "Hearth" {
				t.Errorf("preview %v", prev)
			}
			e.must(201, "POST", "/invites/"+code+"/accept", carl.access, nil)
			dave := e.register("dave")
			e.must(400, "POST", "/invites/"+code+"/accept", dave.access, nil)
			// Moderation.
			e.must(403, "POST", "/servers/"+sid+"/members/"+carl.id+"/kick", bob.access, nil)
			// Timeout's body denies unknown fields (kick's and ban's are
			// optional: one Together cannot read is ignored).
			e.must(422, "POST", "/servers/"+sid+"/members/"+carl.id+"/timeout", ann.access, map[string]any{"duration_minutes": 5, "extra": 1})
			e.must(404, "POST", "/servers/"+sid+"/members/"+sid+"/ban", ann.access, nil) // no such account
			// As Together, a timeout answers itself (its AutomodTimeout).
			to, _ := e.must(200, "POST", "/servers/"+sid+"/members/"+carl.id+"/timeout", ann.access, map[string]any{"duration_minutes": 30, "reason": "cool off"})
			exp, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(to["expires_at"]))
			if keys(to) != "created_at,created_by,expires_at,reason,server_id,user_id" || to["user_id"] != carl.id || to["server_id"] != sid ||
				to["created_by"] != ann.id || to["reason"] != "cool off" || time.Until(exp) < 29*time.Minute {
				t.Errorf("timeout %v", to)
			}
			e.must(204, "DELETE", "/servers/"+sid+"/members/"+carl.id+"/timeout", ann.access, nil)
			e.must(204, "POST", "/servers/"+sid+"/members/"+carl.id+"/ban", ann.access, map[string]any{"reason": "spam"})
			e.must(403, "POST", "/servers/"+sid+"/join", carl.access, nil)
			e.must(400, "DELETE", "/servers/"+sid+"/leave", ann.access, nil)
			e.must(403, "DELETE", "/servers/"+sid, bob.access, nil)
			e.must(204, "DELETE", "/servers/"+sid+"/leave", bob.access, nil)
			e.must(404, "DELETE", "/servers/"+sid, bob.access, nil)
			e.must(204, "DELETE", "/servers/"+sid, ann.access, nil)
		})
	}
}

// TestBotsAndAdmin covers bot tokens on REST and /bots/connect, and the
// Bearer-only instance admin routes.
// TestBotsBounded: an account keeps at most MaxBots bots that are not
// revoked (400 past it, Discord's wording); revoking one makes room, and
// at most MaxBotsEver may be made in all, revoked ones included.
func TestBotsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann := e.register("ann")
	var ids []string
	for i := range community.MaxBots {
		obj, _ := e.must(201, "POST", "/bots", ann.access, map[string]any{"name": fmt.Sprint("b", i)})
		ids = append(ids, obj["bot"].(map[string]any)["id"].(string))
	}
	if code, obj, _ := e.call("POST", "/bots", ann.access, map[string]any{"name": "late"}); code != 400 || obj["error"] != "Maximum number of bots reached (25)" {
		t.Fatalf("bot past the bound: %d %v", code, obj)
	}
	e.must(201, "POST", "/bots", e.register("bob").access, map[string]any{"name": "bob's"})
	made := community.MaxBots
	for made < community.MaxBotsEver {
		e.must(204, "DELETE", "/bots/"+ids[0], ann.access, nil)
		obj, _ := e.must(201, "POST", "/bots", ann.access, map[string]any{"name": fmt.Sprint("again", made)})
		ids = append(ids[1:], obj["bot"].(map[string]any)["id"].(string))
		made++
	}
	e.must(204, "DELETE", "/bots/"+ids[0], ann.access, nil)
	if code, obj, _ := e.call("POST", "/bots", ann.access, map[string]any{"name": "one too many"}); code != 400 || obj["error"] != "Maximum number of bots reached (25)" {
		t.Fatalf("bot past %d made in all: %d %v", community.MaxBotsEver, code, obj)
	}
}

// TestBotsRefusalsAsTogether: Together's bot routes answer a bot (Bot
// token) with each route's own 403 text, /bots/connect answers anyone not
// signed in with "Authorization: Bot" (a person, or a bot presenting the
// access token /bots/connect gave it) 403 "Only bots can use this
// endpoint", and regenerating a revoked bot's token is 400 with Together's
// text (bots.rs).
func TestBotsRefusalsAsTogether(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann := e.register("ann")
	obj, _ := e.must(201, "POST", "/bots", ann.access, map[string]any{"name": "Relay"})
	bot := "Bot " + obj["token"].(string)
	id := obj["bot"].(map[string]any)["id"].(string)
	conn, _ := e.must(200, "POST", "/bots/connect", bot, nil)
	botJWT := conn["access_token"].(string)
	for _, c := range []struct {
		method, path, auth string
		body               any
		status             int
		msg                string
	}{
		{"POST", "/bots", bot, map[string]any{"name": "x"}, 403, "Bots cannot create other bots"},
		{"GET", "/bots", bot, nil, 403, "Bots cannot list bots"},
		{"GET", "/bots/" + id, bot, nil, 403, "Bots cannot access bot management endpoints"},
		{"GET", "/bots/" + id + "/logs", bot, nil, 403, "Bots cannot access bot management endpoints"},
		{"PATCH", "/bots/" + id, bot, map[string]any{"name": "y"}, 403, "Bots cannot update bots"},
		{"POST", "/bots/" + id + "/token/regenerate", bot, nil, 403, "Bots cannot regenerate tokens"},
		{"DELETE", "/bots/" + id, bot, nil, 403, "Bots cannot revoke bots"},
		{"POST", "/bots/connect", ann.access, nil, 403, "Only bots can use this endpoint"},
		{"POST", "/bots/connect", botJWT, nil, 403, "Only bots can use this endpoint"},
	} {
		if code, obj, _ := e.call(c.method, c.path, c.auth, c.body); code != c.status || obj["error"] != c.msg {
			t.Errorf("%s %s: %d %v, want %d %q", c.method, c.path, code, obj, c.status, c.msg)
		}
	}
	e.must(204, "DELETE", "/bots/"+id, ann.access, nil)
	if code, obj, _ := e.call("POST", "/bots/"+id+"/token/regenerate", ann.access, nil); code != 400 ||
		obj["error"] != "Cannot regenerate token for a revoked bot. Create a new bot instead." {
		t.Errorf("regenerate a revoked bot: %d %v", code, obj)
	}
}

func TestBotsAndAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann := e.register("ann")
	obj, _ := e.must(201, "POST", "/bots", ann.access, map[string]any{"name": "Weather Bot", "description": "forecasts"})
	tok := obj["token"].(string)
	if len(tok) != 64 {
		t.Fatalf("token %q", tok)
	}
	me, _ := e.must(200, "GET", "/users/@me", "Bot "+tok, nil)
	if !strings.HasPrefix(me["username"].(string), "weather-bot-bot-") {
		t.Errorf("bot username %v", me["username"])
	}
	conn, _ := e.must(200, "POST", "/bots/connect", "Bot "+tok, nil)
	e.must(200, "GET", "/users/@me", conn["access_token"].(string), nil)
	e.must(403, "POST", "/bots", "Bot "+tok, map[string]any{"name": "x"})
	e.must(401, "GET", "/users/@me", "Bot "+strings.Repeat("0", 64), nil)
	list, _ := e.must(200, "GET", "/bots", ann.access, nil)
	bot := list["bots"].([]any)[0].(map[string]any)
	srv, _ := e.must(201, "POST", "/servers", ann.access, map[string]any{"name": "B", "is_public": true})
	ch, _ := e.must(201, "POST", "/servers/"+srv["id"].(string)+"/channels", ann.access, map[string]any{"name": "g", "type": "text"})
	e.must(201, "POST", "/servers/"+srv["id"].(string)+"/join", "Bot "+tok, nil)
	e.must(201, "POST", "/channels/"+ch["id"].(string)+"/messages", "Bot "+tok, map[string]any{"content": "beep boop"})
	logs, _ := e.must(200, "GET", "/bots/"+bot["id"].(string)+"/logs", ann.access, nil)
	if ls := logs["logs"].([]any); len(ls) != 2 || ls[0].(map[string]any)["event"] != "message_sent" {
		t.Errorf("bot logs %v", logs)
	}
	e.must(204, "DELETE", "/bots/"+bot["id"].(string), ann.access, nil)
	e.must(401, "GET", "/users/@me", "Bot "+tok, nil)
	// As Together: revoking twice is 404, a revoked bot cannot be renamed,
	// and a name needs a letter or digit.
	for _, c := range []struct {
		name, method, path string
		body               any
		status             int
		msg                string
	}{
		{"revoke again", "DELETE", "/bots/" + bot["id"].(string), nil, 404, "Bot not found or already revoked"},
		{"rename revoked", "PATCH", "/bots/" + bot["id"].(string), map[string]any{"name": "Updated"}, 400, "Cannot update a revoked bot"},
		{"punctuation only", "POST", "/bots", map[string]any{"name": "!!!"}, 400, "Bot name must contain at least one alphanumeric character"},
		{"blank", "POST", "/bots", map[string]any{"name": "   "}, 400, "Bot name must be 1-64 characters"},
	} {
		if code, obj, _ := e.call(c.method, c.path, ann.access, c.body); code != c.status || obj["error"] != c.msg {
			t.Errorf("%s: %d %v, want %d %q", c.name, code, obj, c.status, c.msg)
		}
	}

	e.must(403, "GET", "/api/admin/stats", ann.access, nil)
	// No credentials: Together's 401 in its error shape, not a bare 404
	// (Owncast, which shares /api/admin/, has no such route).
	if code, obj, _ := e.call("GET", "/api/admin/stats", "", nil); code != 401 || obj["error"] == nil {
		t.Errorf("GET /api/admin/stats without credentials: %d %v, want 401 with an error", code, obj)
	}
	// Bare, as Together's nginx.conf and Vite dev server forward its
	// client's /api/admin/* calls: with a Bearer token they are ours (the
	// web UI's admin pages take the rest).
	e.must(403, "GET", "/admin/stats", ann.access, nil)
	root := e.rootAdmin()
	for _, p := range []string{"/admin/stats", "/admin/settings", "/admin/users?search=ann", "/admin/servers"} {
		e.must(200, "GET", p, root, nil)
	}
	if set, _ := e.must(200, "PATCH", "/admin/settings", root, map[string]any{"registration_mode": "open"}); set["registration_mode"] != "open" {
		t.Errorf("PATCH /admin/settings: %v", set)
	}
	st, _ := e.must(200, "GET", "/api/admin/stats", root, nil)
	// Every field of Together's AdminStatsResponse: its admin page formats
	// each one (total_messages.toLocaleString()).
	for _, k := range []string{"total_users", "total_servers", "total_messages", "total_channels", "active_ws_connections",
		"uptime_secs", "db_latency_ms", "storage_bytes"} {
		if _, ok := st[k].(float64); !ok {
			t.Errorf("stats %s: %v", k, st)
		}
	}
	if st["total_channels"] != 1.0 || st["total_messages"] != 1.0 {
		t.Errorf("stats counts %v", st)
	}
	e.must(200, "PATCH", "/api/admin/settings", root, map[string]any{"registration_mode": "closed"})
	if code, obj, _ := e.call("POST", "/auth/register", "", map[string]string{"username": "late", "password": "password123"}); code != 403 ||
		obj["error"] != "Registration is currently closed" {
		t.Errorf("closed registration: %d %v", code, obj)
	}
	e.must(403, "POST", "/auth/forgot-password", ann.access, map[string]any{"email": "ann@example.org"})
	// As Together: the body is checked before the caller is.
	e.must(400, "POST", "/auth/forgot-password", ann.access, map[string]any{"email": "not-an-email"})
	e.must(422, "POST", "/auth/forgot-password", ann.access, map[string]any{})
	if nf, _ := e.must(404, "POST", "/auth/forgot-password", root, map[string]any{"email": "nobody@example.org"}); nf["error"] != "No user found with email: nobody@example.org" {
		t.Errorf("forgot-password of an unknown address: %v", nf)
	}
	e.must(400, "POST", "/auth/forgot-password", root, map[string]any{"email": "not-an-email"})
	rt, _ := e.must(200, "POST", "/auth/forgot-password", root, map[string]any{"email": "ann@example.org"})
	// Together: a bad, used or expired token is 401; a short password 400.
	e.must(401, "POST", "/auth/reset-password", "", map[string]any{"token": "bogus", "new_password": "newpassword1"})
	e.must(400, "POST", "/auth/reset-password", "", map[string]any{"token": "bogus", "new_password": "short"})
	e.must(200, "POST", "/auth/reset-password", "", map[string]any{"token": rt["token"], "new_password": "newpassword1"})
	e.must(401, "POST", "/auth/reset-password", "", map[string]any{"token": rt["token"], "new_password": "newpassword2"})
	e.must(400, "POST", "/auth/refresh", "", map[string]any{"refresh_token": ""})
	e.must(401, "GET", "/users/@me", ann.access, nil) // sessions revoked by the reset
	e.must(200, "POST", "/auth/login", "", map[string]string{"username": "ann", "password": "newpassword1"})
	users, _ := e.must(200, "GET", "/api/admin/users?per_page=1", root, nil)
	if users["total"] != 2.0 || len(users["users"].([]any)) != 1 {
		t.Errorf("admin users %v", users)
	}
}

// TestRateLimits: the N+1th sign-in from one IP and the N+1th request of a
// bot within a second get 429 in Together's error shape.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	frozen := time.Now() // no refill however slowly the requests run
	e := newEnv(t, storetest.Engines()[0], func(d *together.Deps) {
		d.AuthRate, d.BotRate, d.RateClock = 0.001, 3, func() time.Time { return frozen }
	})
	ann := e.register("ann") // 1 of the burst of 5
	for range 4 {
		e.must(401, "POST", "/auth/login", "", map[string]string{"username": "ann", "password": "wrongpass1"})
	}
	code, obj, _ := e.call("POST", "/api/auth/login", "", map[string]string{"username": "ann", "password": "password123"})
	if code != 429 || obj["error"] == nil {
		t.Fatalf("6th sign-in: %d %v", code, obj)
	}
	e.must(200, "GET", "/users/@me", ann.access, nil) // other routes unaffected
	bot, _ := e.must(201, "POST", "/bots", ann.access, map[string]any{"name": "b"})
	tok := "Bot " + bot["token"].(string)
	for range 3 {
		e.must(200, "GET", "/users/@me", tok, nil)
	}
	if code, obj, _ := e.call("GET", "/users/@me", tok, nil); code != 429 || obj["error"] != "Bot rate limit exceeded. Max 3 requests/second." {
		t.Fatalf("bot over limit: %d %v", code, obj)
	}
}

// TestMessageRate: an account's messages share one bucket (MessageRate,
// burst five times that) across channel posts, thread replies, DMs and polls;
// past it 429 in Together's shape with Retry-After, while reads go on and
// another account and a bot are not held back by it.
func TestMessageRate(t *testing.T) {
	t.Parallel()
	frozen := time.Now() // no refill however slowly the requests run
	e := newEnv(t, storetest.Engines()[0], func(d *together.Deps) {
		d.MessageRate, d.RateClock = 0.8, func() time.Time { return frozen } // a burst of 4
	})
	ann, bob := e.register("ann"), e.register("bob")
	sid, cid := e.serverWithChannel(ann, "g", bob)
	dm, _ := e.must(201, "POST", "/dm-channels", ann.access, map[string]any{"user_id": bob.id})
	first, _ := e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": "one"})
	e.must(201, "POST", "/channels/"+cid+"/messages/"+first["id"].(string)+"/thread", ann.access, map[string]any{"content": "two"})
	e.must(201, "POST", "/dm-channels/"+dm["id"].(string)+"/messages", ann.access, map[string]any{"content": "three"})
	e.must(201, "POST", "/channels/"+cid+"/polls", ann.access, map[string]any{"question": "four?", "options": []string{"a", "b"}})
	for _, path := range []string{"/channels/" + cid + "/messages", "/dm-channels/" + dm["id"].(string) + "/messages"} {
		code, obj, hdr := e.callH("POST", path, ann.access, map[string]any{"content": "five"})
		if code != 429 || obj["error"] != "You are sending messages too quickly. Max 0.8 messages/second." || hdr.Get("Retry-After") == "" {
			t.Fatalf("past the burst, %s: %d %v %v", path, code, obj, hdr)
		}
	}
	e.must(200, "GET", "/channels/"+cid+"/messages", ann.access, nil)
	e.must(201, "POST", "/channels/"+cid+"/messages", bob.access, map[string]any{"content": "bob's own bucket"})
	bot, _ := e.must(201, "POST", "/bots", ann.access, map[string]any{"name": "b"})
	tok := "Bot " + bot["token"].(string)
	e.must(201, "POST", "/servers/"+sid+"/join", tok, nil)
	for i := range 6 {
		e.must(201, "POST", "/channels/"+cid+"/messages", tok, map[string]any{"content": fmt.Sprint("bot ", i)})
	}
}

// TestEditsAndReactionsPaced: an edit and a reaction added or removed each
// reach every member as an event, so they pay the same per-account bucket
// as posts (one account toggled a reaction 1,250 times a second before).
func TestEditsAndReactionsPaced(t *testing.T) {
	t.Parallel()
	frozen := time.Now() // no refill however slowly the requests run
	e := newEnv(t, storetest.Engines()[0], func(d *together.Deps) {
		d.MessageRate, d.RateClock = 0.8, func() time.Time { return frozen } // a burst of 4
	})
	ann, bob := e.register("ann"), e.register("bob")
	_, cid := e.serverWithChannel(ann, "g", bob)
	m, _ := e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": "one"})
	mid := m["id"].(string)
	react := "/channels/" + cid + "/messages/" + mid + "/reactions/%F0%9F%91%8D"
	e.must(200, "PATCH", "/messages/"+mid, ann.access, map[string]any{"content": "two"})
	e.must(204, "PUT", react, ann.access, nil)
	e.must(204, "DELETE", react, ann.access, nil)
	for _, c := range []struct {
		method, path string
		body         any
	}{{"PATCH", "/messages/" + mid, map[string]any{"content": "three"}}, {"PUT", react, nil}, {"DELETE", react, nil}} {
		code, obj, hdr := e.callH(c.method, c.path, ann.access, c.body)
		if code != 429 || obj["error"] != "You are sending messages too quickly. Max 0.8 messages/second." || hdr.Get("Retry-After") == "" {
			t.Fatalf("past the burst, %s %s: %d %v %v", c.method, c.path, code, obj, hdr)
		}
	}
	e.must(204, "PUT", react, bob.access, nil)
}

// TestAutomodAndAuditLog: word filters block messages and apply their
// action; duplicates are refused; the owner sees both logs.
func TestAutomodAndAuditLog(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			ann, bob := e.register("ann"), e.register("bob")
			srv, _ := e.must(201, "POST", "/servers", ann.access, map[string]any{"name": "A", "is_public": true})
			sid := srv["id"].(string)
			e.must(201, "POST", "/servers/"+sid+"/join", bob.access, nil)
			ch, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "g", "type": "text"})
			cid := ch["id"].(string)
			e.must(404, "GET", "/servers/"+sid+"/automod", ann.access, nil)
			e.must(403, "PATCH", "/servers/"+sid+"/automod", bob.access, map[string]any{"enabled": true})
			e.must(400, "PATCH", "/servers/"+sid+"/automod", ann.access, map[string]any{"spam_max_messages": 0})
			cfg, _ := e.must(200, "PATCH", "/servers/"+sid+"/automod", ann.access, map[string]any{"enabled": true,
				"word_filter_enabled": true, "word_filter_action": "timeout", "duplicate_enabled": true})
			if cfg["timeout_minutes"] != 10.0 || cfg["spam_action"] != "delete" {
				t.Errorf("config %v", cfg)
			}
			e.must(201, "POST", "/servers/"+sid+"/automod/words", ann.access, map[string]any{"word": "  Heck "})
			_, words := e.must(200, "GET", "/servers/"+sid+"/automod/words", ann.access, nil)
			if len(words) != 1 || words[0].(map[string]any)["word"] != "heck" {
				t.Errorf("words %v", words)
			}
			e.must(201, "POST", "/channels/"+cid+"/messages", bob.access, map[string]any{"content": "hello"})
			if code, obj, _ := e.call("POST", "/channels/"+cid+"/messages", bob.access, map[string]any{"content": "hello"}); code != 403 ||
				obj["error"] != "Duplicate message blocked" {
				t.Errorf("duplicate: %d %v", code, obj)
			}
			if code, obj, _ := e.call("POST", "/channels/"+cid+"/messages", bob.access, map[string]any{"content": "what the HECK"}); code != 403 ||
				obj["error"] != "Message blocked by word filter" {
				t.Errorf("word filter: %d %v", code, obj)
			}
			// The action (timeout) now blocks bob entirely.
			if code, obj, _ := e.call("POST", "/channels/"+cid+"/messages", bob.access, map[string]any{"content": "fine words"}); code != 403 ||
				obj["error"] != "User is timed out" {
				t.Errorf("timed out member posted: %d %v", code, obj)
			}
			_, logs := e.must(200, "GET", "/servers/"+sid+"/automod/logs", ann.access, nil)
			if len(logs) != 2 {
				t.Errorf("automod logs %v", logs)
			}
			e.must(204, "DELETE", "/servers/"+sid+"/automod/words/heck", ann.access, nil)
			_, audit := e.must(200, "GET", "/servers/"+sid+"/audit-logs?action=channel_create", ann.access, nil)
			if len(audit) != 1 || audit[0].(map[string]any)["target_id"] != cid || audit[0].(map[string]any)["actor_id"] != ann.id {
				t.Errorf("audit %v", audit)
			}
			_, all := e.must(200, "GET", "/servers/"+sid+"/audit-logs?limit=1", ann.access, nil)
			if len(all) != 1 || all[0].(map[string]any)["action"] != "automod_update" {
				t.Errorf("audit newest %v", all)
			}
			e.must(403, "GET", "/servers/"+sid+"/audit-logs", bob.access, nil)
			// Together's action names (snake_case; its client filters by
			// them) and details.
			e.must(200, "PATCH", "/servers/"+sid, ann.access, map[string]any{"is_public": true})
			tmp, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "tmp", "type": "voice"})
			ov, _ := e.must(200, "PUT", "/channels/"+tmp["id"].(string)+"/overrides", ann.access, map[string]any{"user_id": bob.id, "allow": 0, "deny": 1})
			e.must(200, "PATCH", "/servers/"+sid+"/channels/"+tmp["id"].(string), ann.access, map[string]any{"name": "renamed", "topic": "news"})
			e.must(204, "DELETE", "/servers/"+sid+"/channels/"+tmp["id"].(string), ann.access, nil)
			for action, want := range map[string]string{
				"server_create":           "server map[name:A]",
				"server_update":           "server map[icon_url:<nil> is_public:true name:A]",
				"channel_create":          "channel map[name:tmp type:voice]",
				"channel_update":          "channel map[category:<nil> name:renamed position:1 topic:news]",
				"channel_delete":          "channel map[name:renamed]",
				"channel_override_update": "channel map[allow:0 deny:1 override_id:" + ov["id"].(string) + " role_id:<nil> user_id:" + bob.id + "]",
			} {
				_, ls := e.must(200, "GET", "/servers/"+sid+"/audit-logs?action="+action, ann.access, nil)
				if len(ls) == 0 {
					t.Errorf("%s: %v", action, ls)
					continue
				}
				l := ls[0].(map[string]any)
				if got := fmt.Sprint(l["target_type"], " ", l["details"]); l["action"] != action || got != want {
					t.Errorf("%s: %v, want %s", action, l, want)
				}
			}
			e.must(404, "GET", "/servers/"+sid+"/export", bob.access, nil)
			req, _ := http.NewRequest("GET", e.url+"/servers/"+sid+"/export", nil)
			req.Header.Set("Authorization", "Bearer "+ann.access)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
			if err != nil || resp.Header.Get("Content-Type") != "application/zip" {
				t.Fatalf("export: %v %s", err, resp.Header)
			}
			var names []string
			for _, f := range zr.File {
				names = append(names, f.Name)
			}
			if want := "a-export/messages/g-" + cid + ".jsonl"; !strings.Contains(strings.Join(names, " "), want) {
				t.Errorf("export files %v", names)
			}
			e.must(400, "GET", "/servers/"+sid+"/audit-logs?before=yesterday", ann.access, nil)
		})
	}
}
