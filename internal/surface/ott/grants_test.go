package ott_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/watch"
)

// sweepPrincipal is one user of the swept room: a token and its socket.
type sweepPrincipal struct {
	name string
	role watch.Role
	tok  string
	h    *harness // the node its socket and requests go to
	w    *wsClient
	id   string
}

// sweepTry is one room action: over the socket (typ, fields) or over REST
// (method, path, body), refused when the caller lacks perm.
type sweepTry struct {
	what   string
	perm   watch.Permission
	typ    watch.RequestType
	fields map[string]any
	method string
	path   string
	body   any
}

// TestWrongPrincipalSweep walks every room action a client can take, over
// REST (each api/ott.yaml operation on /api/room/{name}/…) and over the
// room socket (each request type), as each principal below the owner
// (administrator aside): a moderator, a trusted user, a registered user
// and a guest, on both nodes of a cluster. The owner of a permanent room
// denies one permission at a time to every lower role (all others
// granted); each action needing it must be refused in OTT's shape (REST:
// {success:false, error:{name:"PermissionDeniedException"}}, 400; socket:
// Hearth's eventcustom notice, where OTT is silent) and leave the room as
// it was: queue, current video, position and pause, speed, the restore
// queue, votes, settings, grants, roles, nobody kicked, no chat or event
// sent. Then role escalation under OTT's default grants: promotions and
// demotions past the caller's own role, kicks of those at or above it,
// grants of roles at or above it, claims and permanent deletes by
// non-owners.
func TestWrongPrincipalSweep(t *testing.T) {
	t.Parallel()
	for name, build := range clusters(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n1, n2 := build(t)
			sweepRoomGrants(t, n1, n2)
		})
	}
}

func sweepRoomGrants(t *testing.T, n1, n2 *harness) {
	const room = "wrongprincipal"
	register := func(h *harness, user string) string {
		t.Helper()
		tok := h.grant()
		if r := h.do("POST", "/api/user/register", tok, map[string]any{"username": user, "password": "Passw0rdLong"}); r.status != 201 {
			t.Fatalf("register %s: %d %s", user, r.status, r.raw)
		}
		return tok
	}
	ownerTok := register(n1, "sweepowner")
	n1.createRoom(ownerTok, room, map[string]any{"isTemporary": false})
	vid := func(i int) map[string]any {
		return map[string]any{"service": "direct", "id": n1.fixture(fmt.Sprintf("clip%d.mp4", i))}
	}
	addList := func(ids ...int) {
		t.Helper()
		var vs []map[string]any
		for _, i := range ids {
			vs = append(vs, vid(i))
		}
		if r := n1.do("POST", "/api/room/"+room+"/queue", ownerTok, map[string]any{"videos": vs}); r.status != 200 {
			t.Fatalf("add: %d %s", r.status, r.raw)
		}
	}
	// A queue kept aside (prevQueue) for the restore requests: the room is
	// unloaded with a queue and comes back from the database.
	addList(1, 2)
	if r := n1.do("DELETE", "/api/room/"+room, "", nil, "apikey", testAPIKey); r.status != 200 {
		t.Fatalf("unload: %d %s", r.status, r.raw)
	}
	if r := n1.do("GET", "/api/room/"+room, ownerTok, nil); r.status != 200 {
		t.Fatalf("reload: %d %s", r.status, r.raw)
	}
	addList(3, 4, 5)

	owner, ownerID := n1.join(room, ownerTok)
	ps := map[string]*sweepPrincipal{}
	for _, p := range []struct {
		name string
		h    *harness
		role watch.Role
	}{
		{"adm", n1, watch.RoleAdministrator}, {"mod", n2, watch.RoleModerator}, {"trusted", n1, watch.RoleTrusted},
		{"reg", n2, watch.RoleRegistered}, {"guest", n2, watch.RoleUnregistered}, {"victim", n1, watch.RoleUnregistered},
	} {
		tok := ""
		if p.role == watch.RoleUnregistered {
			tok = p.h.grant()
		} else {
			tok = register(p.h, "sweep"+p.name)
		}
		w, id := p.h.join(room, tok)
		ps[p.name] = &sweepPrincipal{name: p.name, role: p.role, tok: tok, h: p.h, w: w, id: id}
		if p.role > watch.RoleRegistered {
			owner.req(watch.ReqPromote, map[string]any{"targetClientId": id, "role": int(p.role)})
			owner.until("user", func(m map[string]any) bool {
				v, _ := m["update"].(map[string]any)["value"].(map[string]any)
				return v != nil && v["id"] == id && v["role"] == float64(p.role)
			})
		}
	}

	// state is the room as a newcomer sees it: the full sync (less the
	// clock's reading time) and every sweep principal's role from the user
	// list.
	state := func() map[string]any {
		t.Helper()
		w := n1.dial(room)
		defer w.c.CloseNow()
		w.send(map[string]any{"action": "auth", "token": ownerTok})
		out := map[string]any{}
		for {
			m := w.next()
			switch m["action"] {
			case "sync":
				if _, full := m["name"]; full && out["sync"] == nil {
					delete(m, "serverTime")
					out["sync"] = m
				}
			case "user":
				u := m["update"].(map[string]any)
				if u["kind"] != "init" {
					continue
				}
				roles := map[string]any{}
				for _, v := range u["value"].([]any) {
					v := v.(map[string]any)
					roles[v["id"].(string)] = v["role"]
				}
				want := map[string]any{ownerID: roles[ownerID]}
				for _, p := range ps {
					want[p.id] = roles[p.id]
				}
				out["roles"] = want
			case "you":
				if out["sync"] == nil || out["roles"] == nil {
					t.Fatalf("a newcomer got no full sync or user list: %v", out)
				}
				return out
			}
		}
	}
	setGrants := func(own watch.Permission) {
		t.Helper()
		var g [][2]int64
		for r := watch.RoleUnregistered; r <= watch.RoleModerator; r++ {
			g = append(g, [2]int64{int64(r), int64(own & watch.ValidationMask(r))})
		}
		if r := n1.do("PATCH", "/api/room/"+room, ownerTok, map[string]any{"grants": g}); r.status != 200 {
			t.Fatalf("owner sets grants: %d %s", r.status, r.raw)
		}
	}
	// quiet is the owner's socket seeing no chat and no event between two
	// lines of its own chat.
	quiet := func(label string, during func()) {
		t.Helper()
		owner.req(watch.ReqChat, map[string]any{"text": "before " + label})
		owner.until("chat", func(m map[string]any) bool { return m["text"] == "before "+label })
		during()
		owner.req(watch.ReqChat, map[string]any{"text": "after " + label})
		for {
			m := owner.next()
			if m["action"] == "chat" && m["text"] == "after "+label {
				return
			}
			if m["action"] == "event" {
				if rq, _ := m["request"].(map[string]any); rq["type"] == float64(watch.ReqJoin) || rq["type"] == float64(watch.ReqLeave) {
					continue // state's own sockets coming and going
				}
			}
			if m["action"] == "chat" || m["action"] == "event" {
				t.Errorf("%s: the owner saw %v", label, m)
			}
		}
	}
	// onSocket sends the request and reads this socket's answer up to a
	// barrier (an unknown action, answered with a notice): a refusal is a
	// notice before it.
	barrier := 0
	onSocket := func(p *sweepPrincipal, typ watch.RequestType, fields map[string]any) (refused bool, text string) {
		t.Helper()
		barrier++
		mark := fmt.Sprintf("sweepbarrier%d", barrier)
		p.w.req(typ, fields)
		p.w.send(map[string]any{"action": mark})
		for {
			m := p.w.next()
			if m["action"] != "eventcustom" {
				continue
			}
			s, _ := m["text"].(string)
			if strings.Contains(s, mark) {
				return refused, text
			}
			refused, text = true, s
		}
	}
	try := func(p *sweepPrincipal, c sweepTry) {
		t.Helper()
		if c.method == "" {
			if refused, text := onSocket(p, c.typ, c.fields); !refused {
				t.Errorf("%s over the socket: %s was not refused", p.name, c.what)
			} else if c.perm != 0 && !strings.Contains(text, "Permission denied") && !strings.Contains(text, "ermission") {
				t.Errorf("%s over the socket: %s refused for %q", p.name, c.what, text)
			}
			return
		}
		r := p.h.do(c.method, c.path, p.tok, c.body)
		if r.status < 400 || r.body["success"] != false || r.errName() == "" {
			t.Errorf("%s over REST: %s %s %v: %d %s", p.name, c.method, c.path, c.body, r.status, r.raw)
		} else if c.perm != 0 && (r.status != 400 || r.errName() != "PermissionDeniedException") {
			t.Errorf("%s over REST: %s: want 400 PermissionDeniedException, got %d %s", p.name, c.what, r.status, r.raw)
		}
	}

	queued, fresh := vid(4), map[string]any{"service": "direct", "id": n1.fixture("clip.mp4")}
	base := "/api/room/" + room
	undo := func(ev map[string]any) map[string]any { return map[string]any{"data": map[string]any{"event": ev}} }
	evSeek := map[string]any{"request": map[string]any{"type": int(watch.ReqSeek), "value": 3}, "user": map[string]any{},
		"additional": map[string]any{"prevPosition": 2}}
	evSkip := map[string]any{"request": map[string]any{"type": int(watch.ReqSkip)}, "user": map[string]any{},
		"additional": map[string]any{"video": vid(3), "prevPosition": 1}}
	evAdd := map[string]any{"request": map[string]any{"type": int(watch.ReqAdd), "video": queued}, "user": map[string]any{},
		"additional": map[string]any{"video": queued}}
	evRemove := map[string]any{"request": map[string]any{"type": int(watch.ReqRemove), "video": vid(1)}, "user": map[string]any{},
		"additional": map[string]any{"video": vid(1), "queueIdx": 0}}
	settings := func(perm watch.Permission, s map[string]any) []sweepTry {
		return []sweepTry{
			{what: fmt.Sprint("settings ", s), perm: perm, typ: watch.ReqApplySettings, fields: map[string]any{"settings": s}},
			{what: fmt.Sprint("PATCH ", s), perm: perm, method: "PATCH", path: base, body: s},
		}
	}
	tries := []sweepTry{
		{what: "play", perm: watch.PermPlayPause, typ: watch.ReqPlayback, fields: map[string]any{"state": true}},
		{what: "skip", perm: watch.PermSkip, typ: watch.ReqSkip},
		{what: "seek", perm: watch.PermSeek, typ: watch.ReqSeek, fields: map[string]any{"value": 2}},
		{what: "speed", perm: watch.PermSpeed, typ: watch.ReqPlaybackSpeed, fields: map[string]any{"speed": 1.5}},
		{what: "add", perm: watch.PermAdd, typ: watch.ReqAdd, fields: map[string]any{"video": fresh}},
		{what: "add a list", perm: watch.PermAdd, typ: watch.ReqAdd, fields: map[string]any{"videos": []any{fresh}}},
		{what: "POST queue", perm: watch.PermAdd, method: "POST", path: base + "/queue", body: fresh},
		{what: "play now (new)", perm: watch.PermAdd, typ: watch.ReqPlayNow, fields: map[string]any{"video": fresh}},
		{what: "restore the queue", perm: watch.PermAdd, typ: watch.ReqRestoreQueue, fields: map[string]any{"discard": false}},
		{what: "remove", perm: watch.PermRemove, typ: watch.ReqRemove, fields: map[string]any{"video": queued}},
		{what: "DELETE queue", perm: watch.PermRemove, method: "DELETE", path: base + "/queue", body: queued},
		{what: "discard the restore queue", perm: watch.PermRemove, typ: watch.ReqRestoreQueue, fields: map[string]any{"discard": true}},
		{what: "order", perm: watch.PermOrder, typ: watch.ReqOrder, fields: map[string]any{"fromIdx": 0, "toIdx": 1}},
		{what: "shuffle", perm: watch.PermOrder, typ: watch.ReqShuffle},
		{what: "play now (queued)", perm: watch.PermOrder, typ: watch.ReqPlayNow, fields: map[string]any{"video": queued}},
		{what: "play now", perm: watch.PermPlayNow, typ: watch.ReqPlayNow, fields: map[string]any{"video": queued}},
		{what: "vote", perm: watch.PermVote, typ: watch.ReqVote, fields: map[string]any{"video": queued, "add": true}},
		{what: "POST vote", perm: watch.PermVote, method: "POST", path: base + "/vote", body: queued},
		{what: "DELETE vote", perm: watch.PermVote, method: "DELETE", path: base + "/vote", body: queued},
		{what: "edit", perm: watch.PermEdit, typ: watch.ReqUpdateQueueItem, fields: map[string]any{"video": queued,
			"update": map[string]any{"subtitleUrl": "https://example.org/x.vtt"}}},
		{what: "PATCH queue", perm: watch.PermEdit, method: "PATCH", path: base + "/queue", body: map[string]any{"service": "direct",
			"id": queued["id"], "subtitleUrl": "https://example.org/x.vtt"}},
		{what: "chat", perm: watch.PermChat, typ: watch.ReqChat, fields: map[string]any{"text": "not allowed"}},
		{what: "undo a seek", perm: watch.PermSeek, typ: watch.ReqUndo, fields: map[string]any{"event": evSeek}},
		{what: "POST undo a seek", perm: watch.PermSeek, method: "POST", path: base + "/undo", body: undo(evSeek)},
		{what: "undo a skip", perm: watch.PermSkip, typ: watch.ReqUndo, fields: map[string]any{"event": evSkip}},
		{what: "POST undo a skip", perm: watch.PermSkip, method: "POST", path: base + "/undo", body: undo(evSkip)},
		{what: "undo an add", perm: watch.PermRemove, typ: watch.ReqUndo, fields: map[string]any{"event": evAdd}},
		{what: "POST undo an add", perm: watch.PermRemove, method: "POST", path: base + "/undo", body: undo(evAdd)},
		{what: "undo a remove", perm: watch.PermAdd, typ: watch.ReqUndo, fields: map[string]any{"event": evRemove}},
		{what: "POST undo a remove", perm: watch.PermAdd, method: "POST", path: base + "/undo", body: undo(evRemove)},
	}
	tries = append(tries, settings(watch.PermSetTitle, map[string]any{"title": "Taken over"})...)
	tries = append(tries, settings(watch.PermSetDescription, map[string]any{"description": "Taken over"})...)
	tries = append(tries, settings(watch.PermSetVisibility, map[string]any{"visibility": "private"})...)
	tries = append(tries, settings(watch.PermSetQueueMode, map[string]any{"queueMode": "vote"})...)
	tries = append(tries, settings(watch.PermConfigureOther, map[string]any{"enableVoteSkip": true})...)
	tries = append(tries, settings(watch.PermConfigureOther, map[string]any{"restoreQueueBehavior": 2})...)
	tries = append(tries, settings(watch.PermConfigureOther, map[string]any{"autoSkipSegmentCategories": []string{"intro"}})...)
	tries = append(tries, settings(watch.PermSetPermsUnregistered, map[string]any{"grants": [][2]int{{0, 1}}})...)
	tries = append(tries, settings(watch.PermSetPermsRegistered, map[string]any{"grants": [][2]int{{1, 0}}})...)
	tries = append(tries, settings(watch.PermSetPermsTrusted, map[string]any{"grants": [][2]int{{2, 0}}})...)
	tries = append(tries, settings(watch.PermSetPermsModerator, map[string]any{"grants": [][2]int{{3, 0}}})...)
	// Promotions and demotions of registered users, and kicks, each by the
	// permission it needs. The victim of a kick is a guest (below all).
	promote := func(perm watch.Permission, target string, role watch.Role) sweepTry {
		return sweepTry{what: fmt.Sprintf("promote %s to %d", target, role), perm: perm, typ: watch.ReqPromote,
			fields: map[string]any{"targetClientId": ps[target].id, "role": int(role)}}
	}
	tries = append(tries,
		promote(watch.PermPromoteTrusted, "reg", watch.RoleTrusted),
		promote(watch.PermDemoteTrusted, "trusted", watch.RoleRegistered),
		promote(watch.PermPromoteModerator, "reg", watch.RoleModerator),
		promote(watch.PermPromoteModerator, "trusted", watch.RoleModerator),
		promote(watch.PermDemoteModerator, "mod", watch.RoleTrusted),
		promote(watch.PermPromoteAdmin, "reg", watch.RoleAdministrator),
		promote(watch.PermPromoteAdmin, "mod", watch.RoleAdministrator),
		promote(watch.PermDemoteAdmin, "adm", watch.RoleModerator),
		sweepTry{what: "kick", perm: watch.PermKick, typ: watch.ReqKick, fields: map[string]any{"clientId": ps["victim"].id}},
		sweepTry{what: "ban", perm: watch.PermKick, typ: watch.ReqKick, fields: map[string]any{"clientId": ps["victim"].id, "ban": true}},
	)

	if s := state()["sync"].(map[string]any); s["hasOwner"] != true || s["isTemporary"] != false || s["prevQueue"] == nil ||
		s["currentSource"] == nil || len(s["queue"].([]any)) != 2 || s["isPlaying"] != false {
		t.Fatalf("the swept room is not as set up: %s", jsonOf(s))
	}
	lower := []*sweepPrincipal{ps["mod"], ps["trusted"], ps["reg"], ps["guest"]}
	var perms []watch.Permission
	for _, c := range tries {
		if !slices.Contains(perms, c.perm) {
			perms = append(perms, c.perm)
		}
	}
	for _, perm := range perms {
		setGrants(watch.AllPermissions &^ perm)
		before := state()
		quiet(perm.Name(), func() {
			for _, p := range lower {
				for _, c := range tries {
					if c.perm == perm {
						try(p, c)
					}
				}
			}
		})
		if after := state(); !reflect.DeepEqual(before, after) {
			t.Errorf("without %s the room changed:\nbefore %s\nafter  %s", perm.Name(), jsonOf(before), jsonOf(after))
		}
	}

	// Role escalation under OTT's default grants (moderators may promote
	// and demote trusted users and kick).
	def := watch.DefaultGrants()
	var g [][2]int64
	for r := watch.RoleUnregistered; r <= watch.RoleModerator; r++ {
		g = append(g, [2]int64{int64(r), int64(def.Mask(r))})
	}
	if r := n1.do("PATCH", base, ownerTok, map[string]any{"grants": g}); r.status != 200 {
		t.Fatalf("default grants: %d %s", r.status, r.raw)
	}
	before := state()
	quiet("escalation", func() {
		esc := []struct {
			by string
			c  sweepTry
		}{
			{"mod", promote(watch.PermPromoteAdmin, "mod", watch.RoleAdministrator)},
			{"mod", promote(watch.PermPromoteModerator, "trusted", watch.RoleModerator)},
			{"mod", promote(watch.PermPromoteAdmin, "reg", watch.RoleAdministrator)},
			{"mod", promote(watch.PermDemoteAdmin, "adm", watch.RoleTrusted)},
			{"mod", sweepTry{what: "kick the admin", typ: watch.ReqKick, fields: map[string]any{"clientId": ps["adm"].id}}},
			{"mod", sweepTry{what: "kick the owner", typ: watch.ReqKick, fields: map[string]any{"clientId": ownerID}}},
			{"mod", sweepTry{what: "grants for moderators", perm: watch.PermSetPermsModerator, typ: watch.ReqApplySettings,
				fields: map[string]any{"settings": map[string]any{"grants": [][2]int{{3, int(watch.AllPermissions)}}}}}},
			{"trusted", promote(watch.PermPromoteTrusted, "reg", watch.RoleTrusted)},
			{"trusted", promote(watch.PermPromoteModerator, "trusted", watch.RoleModerator)},
			{"trusted", sweepTry{what: "kick a guest", perm: watch.PermKick, typ: watch.ReqKick, fields: map[string]any{"clientId": ps["victim"].id}}},
			{"trusted", sweepTry{what: "grants for trusted users", perm: watch.PermSetPermsTrusted, method: "PATCH", path: base,
				body: map[string]any{"grants": [][2]int{{2, int(watch.AllPermissions)}}}}},
			{"reg", sweepTry{what: "grants for registered users", perm: watch.PermSetPermsRegistered, method: "PATCH", path: base,
				body: map[string]any{"grants": [][2]int{{1, int(watch.AllPermissions)}}}}},
			{"guest", sweepTry{what: "grants for guests", perm: watch.PermSetPermsUnregistered, method: "PATCH", path: base,
				body: map[string]any{"grants": [][2]int{{0, 0}}}}},
			{"guest", promote(watch.PermPromoteTrusted, "reg", watch.RoleTrusted)},
			{"adm", sweepTry{what: "kick the owner", typ: watch.ReqKick, fields: map[string]any{"clientId": ownerID}}},
			{"adm", sweepTry{what: "demote the owner", typ: watch.ReqPromote, fields: map[string]any{"targetClientId": ownerID, "role": 1}}},
			{"adm", sweepTry{what: "make the owner an admin", typ: watch.ReqPromote, fields: map[string]any{"targetClientId": ownerID, "role": 4}}},
			{"adm", sweepTry{what: "make themselves owner", typ: watch.ReqPromote, fields: map[string]any{"targetClientId": ps["adm"].id, "role": -1}}},
			{"adm", sweepTry{what: "make someone owner", typ: watch.ReqPromote, fields: map[string]any{"targetClientId": ps["reg"].id, "role": -1}}},
		}
		for _, e := range esc {
			try(ps[e.by], e.c)
		}
		// Grants of administrators and the owner cannot be set at all: OTT
		// ignores them (success, nothing changed).
		for _, by := range []string{"mod", "adm"} {
			if r := n2.do("PATCH", base, ps[by].tok, map[string]any{"grants": [][2]int{{4, 0}, {-1, 0}}}); r.status != 200 {
				t.Errorf("%s setting grants of admins and the owner: %d %s", by, r.status, r.raw)
			}
		}
		// Claims and permanent deletes: only the owner's.
		for _, c := range []struct {
			by, method, path string
			body             any
			status           int
			name             string
		}{
			{"adm", "PATCH", base, map[string]any{"claim": true}, 400, "BadApiArgumentException"},
			{"reg", "PATCH", base, map[string]any{"claim": true}, 400, "BadApiArgumentException"},
			{"guest", "PATCH", base, map[string]any{"claim": true}, 401, ""},
			{"adm", "DELETE", base + "?permanent=true", nil, 403, "PermissionDeniedException"},
			{"mod", "DELETE", base + "?permanent=true", nil, 403, "PermissionDeniedException"},
			{"guest", "DELETE", base + "?permanent=true", nil, 401, "Unauthorized"},
			{"adm", "DELETE", base, nil, 400, "Unauthorized"},
			{"guest", "POST", "/api/room/create", map[string]any{"name": room, "isTemporary": false}, 400, "RoomNameTakenException"},
		} {
			r := ps[c.by].h.do(c.method, c.path, ps[c.by].tok, c.body)
			if r.status != c.status || r.body["success"] != false || r.errName() != c.name {
				t.Errorf("%s %s %s %v: %d %s", c.by, c.method, c.path, c.body, r.status, r.raw)
			}
		}
	})
	if after := state(); !reflect.DeepEqual(before, after) {
		t.Errorf("escalation changed the room:\nbefore %s\nafter  %s", jsonOf(before), jsonOf(after))
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
