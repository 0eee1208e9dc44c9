package together_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestAdminDeleteUser is Together's DELETE /admin/users/:user_id: guards in
// Together's order and messages, then the account is gone while what it
// wrote stays with a null author_id.
func TestAdminDeleteUser(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			root := e.rootAdmin()
			me, _ := e.must(200, "GET", "/users/@me", root, nil)
			ann, bob := e.register("ann"), e.register("bob")
			srv, _ := e.must(201, "POST", "/servers", ann.access, map[string]any{"name": "S", "is_public": true})
			sid := srv["id"].(string)
			ch, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "general", "type": "text"})
			cid := ch["id"].(string)
			e.must(201, "POST", "/servers/"+sid+"/join", bob.access, nil)
			msg, _ := e.must(201, "POST", "/channels/"+cid+"/messages", bob.access, map[string]any{"content": "quokka sighting"})
			mid := msg["id"].(string)
			e.must(204, "PUT", "/channels/"+cid+"/messages/"+mid+"/reactions/%F0%9F%91%8D", bob.access, nil)
			dm, _ := e.must(201, "POST", "/dm-channels", bob.access, map[string]any{"user_id": ann.id})
			dmid := dm["id"].(string)
			e.must(201, "POST", "/dm-channels/"+dmid+"/messages", bob.access, map[string]any{"content": "psst"})

			for _, c := range []struct {
				name, auth, id string
				status         int
				msg            string
			}{
				{"not an admin", ann.access, bob.id, 403, "Admin access required"},
				{"self", root, me["id"].(string), 400, "Cannot delete yourself"},
				{"unknown", root, "0190a000-0000-7000-8000-000000000000", 404, "User not found"},
				{"not a uuid", root, "bob", 404, "User not found"},
				{"owns a server", root, ann.id, 400, "Cannot delete a user who owns servers. Transfer ownership first."},
			} {
				code, obj, _ := e.call("DELETE", "/api/admin/users/"+c.id, c.auth, nil)
				if code != c.status || obj["error"] != c.msg {
					t.Errorf("%s: %d %v, want %d %q", c.name, code, obj, c.status, c.msg)
				}
			}
			e.must(200, "GET", "/users/@me", ann.access, nil) // the refused delete left ann alone

			e.must(204, "DELETE", "/api/admin/users/"+bob.id, root, nil)
			e.must(404, "DELETE", "/api/admin/users/"+bob.id, root, nil)
			e.must(401, "GET", "/users/@me", bob.access, nil)
			e.must(401, "POST", "/auth/refresh", "", map[string]string{"refresh_token": bob.refresh})
			e.must(401, "POST", "/auth/login", "", map[string]string{"username": "bob", "password": "password123"})

			_, list := e.must(200, "GET", "/channels/"+cid+"/messages", ann.access, nil)
			if len(list) != 1 {
				t.Fatalf("messages after delete: %v", list)
			}
			if m := list[0].(map[string]any); m["id"] != mid || m["content"] != "quokka sighting" || m["author_id"] != nil {
				t.Errorf("anonymised message %v", m)
			} else if v, ok := m["author_id"]; !ok || v != nil {
				t.Errorf("author_id must be present and null: %v", m)
			}
			sr, _ := e.must(200, "GET", "/servers/"+sid+"/search?q=quokka", ann.access, nil)
			if rs, _ := sr["results"].([]any); len(rs) != 1 || rs[0].(map[string]any)["author_id"] != nil {
				t.Errorf("search after delete %v", sr)
			}
			_, members := e.must(200, "GET", "/servers/"+sid+"/members", ann.access, nil)
			if len(members) != 1 {
				t.Errorf("members after delete %v", members)
			}
			users, _ := e.must(200, "GET", "/api/admin/users", root, nil)
			if users["total"] != 2.0 {
				t.Errorf("admin users after delete %v", users)
			}
		})
	}
}

// TestAdminUpdateUserLastAdmin: PATCH /admin/users/:id refuses to demote or
// disable the last active admin, in Together's order (self guards first).
func TestAdminUpdateUserLastAdmin(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			root := e.rootAdmin()
			me, _ := e.must(200, "GET", "/users/@me", root, nil)
			rootID := me["id"].(string)
			ann := e.register("ann")
			path := func(id string) string { return "/api/admin/users/" + id }
			e.must(403, "PATCH", path(rootID), ann.access, map[string]any{"is_admin": false})
			// A JSON body: Together's web client parses every answer but a 204.
			if obj, _ := e.must(200, "PATCH", path(ann.id), root, map[string]any{"is_admin": true}); obj["message"] == nil {
				t.Errorf("PATCH admin user: %v, want a JSON body", obj)
			}
			e.must(200, "PATCH", path(rootID), ann.access, map[string]any{"disabled": true}) // two active admins
			e.must(403, "GET", "/users/@me", root, nil)                                      // "Account is disabled"
			// As Together, a disabled account has no public profile.
			if code, obj, _ := e.call("GET", "/users/"+rootID, ann.access, nil); code != 404 || obj["error"] != "User not found" {
				t.Errorf("profile of a disabled account: %d %v", code, obj)
			}

			for _, c := range []struct {
				name, id string
				body     map[string]any
				status   int
				msg      string
			}{
				{"demote self", ann.id, map[string]any{"is_admin": false}, 400, "Cannot demote yourself from admin"},
				{"disable self", ann.id, map[string]any{"disabled": true}, 400, "Cannot disable yourself"},
				{"disable the other, now disabled, admin", rootID, map[string]any{"disabled": true}, 400, "Cannot remove the last active admin"},
				{"demote it", rootID, map[string]any{"is_admin": false}, 400, "Cannot remove the last active admin"},
				{"unknown", "0190a000-0000-7000-8000-000000000000", map[string]any{"disabled": true}, 404, "User not found"},
			} {
				code, obj, _ := e.call("PATCH", path(c.id), ann.access, c.body)
				if code != c.status || obj["error"] != c.msg {
					t.Errorf("%s: %d %v, want %d %q", c.name, code, obj, c.status, c.msg)
				}
			}
			e.must(200, "PATCH", path(rootID), ann.access, map[string]any{"disabled": false})
			e.must(200, "GET", "/users/"+rootID, ann.access, nil)
			e.must(200, "PATCH", path(rootID), ann.access, map[string]any{"is_admin": false})
			e.must(200, "POST", "/auth/login", "", map[string]string{"username": "root", "password": "password123"})
		})
	}
}

// TestAdminPagingBounded: a huge ?page= on the admin lists is an empty page,
// not an overflowed offset (a panic for users, PostgreSQL's "OFFSET must not
// be negative" for servers: both were 500).
func TestAdminPagingBounded(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			root := e.rootAdmin()
			for _, page := range []string{"9223372036854775807", "4611686018427387904", "1000001", "-9223372036854775808"} {
				for _, list := range []string{"users", "servers"} {
					code, obj, _ := e.call("GET", "/api/admin/"+list+"?page="+page+"&per_page=100", root, nil)
					if code != 200 {
						t.Errorf("%s page %s: %d %v", list, page, code, obj)
						continue
					}
					if items, _ := obj[list].([]any); page != "-9223372036854775808" && len(items) != 0 {
						t.Errorf("%s page %s: %d items, want none", list, page, len(items))
					}
				}
			}
		})
	}
}

// TestAdminListsCountMessages: /admin/users and /admin/servers carry
// Together's message_count (its admin pages call toLocaleString on it and
// fail without it): channel messages per author, deleted ones included and
// DMs not, and messages per server.
func TestAdminListsCountMessages(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			root := e.rootAdmin()
			ann, bob := e.register("ann"), e.register("bob")
			sid, cid := e.serverWithChannel(ann, "general", bob)
			other, _ := e.must(201, "POST", "/servers", bob.access, map[string]any{"name": "Quiet"})
			for _, s := range []string{"one", "two"} {
				e.must(201, "POST", "/channels/"+cid+"/messages", bob.access, map[string]any{"content": s})
			}
			gone, _ := e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": "three"})
			e.must(204, "DELETE", "/messages/"+gone["id"].(string), ann.access, nil)
			dm, _ := e.must(201, "POST", "/dm-channels", bob.access, map[string]any{"user_id": ann.id})
			e.must(201, "POST", "/dm-channels/"+dm["id"].(string)+"/messages", bob.access, map[string]any{"content": "psst"})

			users, _ := e.must(200, "GET", "/api/admin/users?per_page=100", root, nil)
			want := map[string]float64{"root": 0, "ann": 1, "bob": 2}
			for _, u := range users["users"].([]any) {
				u := u.(map[string]any)
				if n, ok := u["message_count"].(float64); !ok || n != want[u["username"].(string)] {
					t.Errorf("%s: message_count %v, want %v", u["username"], u["message_count"], want[u["username"].(string)])
				}
			}
			servers, _ := e.must(200, "GET", "/api/admin/servers?per_page=100", root, nil)
			wantS := map[string]float64{sid: 3, other["id"].(string): 0}
			for _, s := range servers["servers"].([]any) {
				s := s.(map[string]any)
				if n, ok := s["message_count"].(float64); !ok || n != wantS[s["id"].(string)] {
					t.Errorf("server %s: message_count %v, want %v", s["name"], s["message_count"], wantS[s["id"].(string)])
				}
			}
		})
	}
}

// TestAdminSettingsRow: /admin/settings answers Together's InstanceSettings
// row (id, registration_mode, updated_at, updated_by), the shape its web
// client types it as: updated_by null and updated_at stable until a change,
// then the admin who changed it and when.
func TestAdminSettingsRow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	root := e.rootAdmin()
	me, _ := e.must(200, "GET", "/users/@me", root, nil)
	first, _ := e.must(200, "GET", "/api/admin/settings", root, nil)
	if first["id"] != 1.0 || first["registration_mode"] != "open" || first["updated_by"] != nil {
		t.Fatalf("settings before any change: %v", first)
	}
	if v, ok := first["updated_by"]; !ok || v != nil {
		t.Errorf("updated_by must be present and null: %v", first)
	}
	at, err := time.Parse(time.RFC3339Nano, first["updated_at"].(string))
	if err != nil {
		t.Fatalf("updated_at %v: %v", first["updated_at"], err)
	}
	again, _ := e.must(200, "GET", "/api/admin/settings", root, nil)
	if again["updated_at"] != first["updated_at"] {
		t.Errorf("updated_at moved without a change: %v then %v", first["updated_at"], again["updated_at"])
	}
	changed, _ := e.must(200, "PATCH", "/api/admin/settings", root, map[string]any{"registration_mode": "invite_only"})
	if changed["id"] != 1.0 || changed["registration_mode"] != "invite_only" || changed["updated_by"] != me["id"] {
		t.Fatalf("settings after a change: %v", changed)
	}
	if at2, err := time.Parse(time.RFC3339Nano, changed["updated_at"].(string)); err != nil || at2.Before(at) {
		t.Errorf("updated_at after a change %v, first %v", changed["updated_at"], at)
	}
	// The public route stays Together's one field.
	pub, _ := e.must(200, "GET", "/api/instance/registration-mode", "", nil)
	if len(pub) != 1 || pub["registration_mode"] != "invite_only" {
		t.Errorf("public registration mode %v", pub)
	}
}

// TestAdminListsSearchSortAndPage: /admin/users searches usernames and
// emails (case-insensitive, LIKE wildcards taken literally) and sorts by
// sort_by (newest first by default, as Together); /admin/servers searches
// server names, newest first; both page with total counting every match.
func TestAdminListsSearchSortAndPage(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			root := e.rootAdmin()
			alex, alx := e.register("alex"), e.register("al_x")
			e.must(201, "POST", "/auth/register", "", map[string]string{"username": "zed", "password": "password123", "email": "Zed@Mail.Test"})
			sid, cid := e.serverWithChannel(alx, "general", alex)
			e.must(201, "POST", "/channels/"+cid+"/messages", alex.access, map[string]any{"content": "one"})
			e.must(201, "POST", "/channels/"+cid+"/messages", alex.access, map[string]any{"content": "two"})
			e.must(201, "POST", "/channels/"+cid+"/messages", alx.access, map[string]any{"content": "three"})
			e.must(201, "POST", "/servers", alex.access, map[string]any{"name": "Alpha_Lounge"})
			e.must(201, "POST", "/servers", alex.access, map[string]any{"name": "Alphabet"})

			names := func(path, list, field string) ([]string, float64) {
				t.Helper()
				obj, _ := e.must(200, "GET", path, root, nil)
				var out []string
				for _, x := range obj[list].([]any) {
					out = append(out, x.(map[string]any)[field].(string))
				}
				return out, obj["total"].(float64)
			}
			for _, c := range []struct {
				path  string
				want  []string
				total float64
			}{
				{"/api/admin/users", []string{"zed", "al_x", "alex", "root"}, 4},
				{"/api/admin/users?sort_by=username", []string{"al_x", "alex", "root", "zed"}, 4},
				{"/api/admin/users?sort_by=message_count", []string{"alex", "al_x", "zed", "root"}, 4},
				{"/api/admin/users?search=AL", []string{"al_x", "alex"}, 2},
				{"/api/admin/users?search=l_", []string{"al_x"}, 1},
				{"/api/admin/users?search=%25", nil, 0},
				{"/api/admin/users?search=mail.TEST", []string{"zed"}, 1},
				{"/api/admin/users?per_page=1&page=2&sort_by=username", []string{"alex"}, 4},
				{"/api/admin/users?per_page=2&page=3", nil, 4},
			} {
				got, total := names(c.path, "users", "username")
				if !slices.Equal(got, c.want) || total != c.total {
					t.Errorf("%s: %v (total %v), want %v (total %v)", c.path, got, total, c.want, c.total)
				}
			}
			for _, c := range []struct {
				path  string
				want  []string
				total float64
			}{
				{"/api/admin/servers", []string{"Alphabet", "Alpha_Lounge", "S"}, 3},
				{"/api/admin/servers?search=alpha", []string{"Alphabet", "Alpha_Lounge"}, 2},
				{"/api/admin/servers?search=A_L", []string{"Alpha_Lounge"}, 1},
				{"/api/admin/servers?per_page=1&page=3", []string{"S"}, 3},
			} {
				got, total := names(c.path, "servers", "name")
				if !slices.Equal(got, c.want) || total != c.total {
					t.Errorf("%s: %v (total %v), want %v (total %v)", c.path, got, total, c.want, c.total)
				}
			}
			servers, _ := e.must(200, "GET", "/api/admin/servers?search=S", root, nil)
			for _, x := range servers["servers"].([]any) {
				if s := x.(map[string]any); s["id"] == sid && (s["owner_username"] != "al_x" || s["channel_count"] != float64(1) ||
					s["member_count"] != float64(2) || s["message_count"] != float64(3)) {
					t.Errorf("server S: %v", s)
				}
			}
			// A search longer than anything stored is refused, on each
			// engine alike: SQLite answered 500 to a LIKE pattern past its
			// 50,000 bytes ("%_" escaped doubles it). 256 characters pass.
			// (28,000 characters: the URL stays within the server's
			// 64 KiB of request line and headers.)
			long := strings.Repeat("%25_", 14000)
			for _, list := range []string{"users", "servers"} {
				obj, _ := e.must(400, "GET", "/api/admin/"+list+"?search="+long, root, nil)
				if msg, _ := obj["error"].(string); !strings.Contains(msg, "at most 256") {
					t.Errorf("%s with a 28,000-character search: %v", list, obj)
				}
				e.must(200, "GET", "/api/admin/"+list+"?search="+strings.Repeat("%C3%A9", 256), root, nil)
			}
			users, _ := e.must(200, "GET", "/api/admin/users?search=alex", root, nil)
			if u := users["users"].([]any)[0].(map[string]any); u["server_count"] != float64(3) || u["message_count"] != float64(2) {
				t.Errorf("alex: %v", u)
			}
		})
	}
}
