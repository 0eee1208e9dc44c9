package together_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// writeGate holds one write of a held store, between its request's read
// and its write, until the test lets it go.
type writeGate struct{ reached, release chan struct{} }

// hold waits at the gate set in p, if one is: only the next write waits.
func hold(p *atomic.Pointer[writeGate]) {
	if g := p.Swap(nil); g != nil {
		close(g.reached)
		<-g.release
	}
}

// whileHeld makes the request (method, path, token, body) with the next
// write of the store gated by p held, runs meanwhile while it is held, then
// lets it go; it answers the request's status (0: no answer) and body.
func whileHeld(e *env, p *atomic.Pointer[writeGate], method, path, token string, body map[string]any, meanwhile func()) (int, map[string]any) {
	e.t.Helper()
	req := e.jsonReq(method, path, token, body)
	g := &writeGate{reached: make(chan struct{}), release: make(chan struct{})}
	p.Store(g)
	type answer struct {
		code int
		body map[string]any
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- answer{}
			return
		}
		defer resp.Body.Close()
		var obj map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&obj)
		done <- answer{resp.StatusCode, obj}
	}()
	<-g.reached // the request has read what it changes and is about to write
	meanwhile()
	close(g.release)
	a := <-done
	return a.code, a.body
}

// heldProfiles holds the next account profile write once a gate is set:
// the write then runs with the account as the request read it.
type heldProfiles struct {
	identity.Store
	gate *atomic.Pointer[writeGate]
}

func (s heldProfiles) UpdateProfile(ctx context.Context, a *identity.Account, f identity.ProfileFields) error {
	hold(s.gate)
	return s.Store.UpdateProfile(ctx, a, f)
}

// heldCommunity holds the next role, server or profile-row write once a
// gate is set: the write then runs with what its request read.
type heldCommunity struct {
	community.Store
	gate *atomic.Pointer[writeGate]
}

func (s heldCommunity) UpdateRole(ctx context.Context, was, r *community.Role, f community.RoleFields) (*community.Role, bool, error) {
	hold(s.gate)
	return s.Store.UpdateRole(ctx, was, r, f)
}

func (s heldCommunity) UpdateCommunity(ctx context.Context, c *community.Community, f community.CommunityFields) error {
	hold(s.gate)
	return s.Store.UpdateCommunity(ctx, c, f)
}

func (s heldCommunity) SaveProfile(ctx context.Context, p *community.Profile, f community.ProfileFields) error {
	hold(s.gate)
	return s.Store.SaveProfile(ctx, p, f)
}

// TestOwnProfileEditDoesNotUndoDemotion: a user's PATCH /users/@me that
// read the account before an admin's PATCH /api/admin/users/:id demoted
// and disabled it, and writes after, leaves the account demoted and
// disabled, on every engine. The edit wrote every column of the row from
// its old read, so the demotion and the disable were silently undone.
func TestOwnProfileEditDoesNotUndoDemotion(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			held := heldProfiles{Store: db.Identity(), gate: &atomic.Pointer[writeGate]{}}
			e := newNodeOver(t, db, bus.NewLocal(), held, db.Community())
			ctx := t.Context()
			root, mole := e.register("root"), e.register("mole")
			yes := true
			for _, id := range []string{root.id, mole.id} {
				if err := e.ident.UpdateAdminState(ctx, id, &yes, nil); err != nil {
					t.Fatal(err)
				}
			}

			if code, _ := whileHeld(e, held.gate, "PATCH", "/users/@me", mole.access, map[string]any{"avatar_url": "https://example.org/m.png"}, func() {
				e.must(200, "PATCH", "/api/admin/users/"+mole.id, root.access, map[string]any{"is_admin": false, "disabled": true})
			}); code != 200 {
				t.Fatalf("PATCH /users/@me: status %d", code)
			}

			got, err := e.ident.Account(ctx, mole.id)
			if err != nil {
				t.Fatal(err)
			}
			if got.IsAdmin || !got.Disabled() {
				t.Fatalf("the profile edit undid the admin's change: admin %v, disabled %v", got.IsAdmin, got.DisabledAt)
			}
			if got.AvatarURL != "https://example.org/m.png" {
				t.Fatalf("the profile edit was lost: avatar %q", got.AvatarURL)
			}
		})
	}
}

// TestRoleRenameDoesNotUndoPermissionChange: a manager's role rename
// (PATCH /servers/:id/roles/:role_id with a name only) that read the role
// before the owner removed one of its permissions, and writes after,
// leaves the permission removed; one that read it before the owner gave
// it a bit the manager does not hold is refused as an edit of such a role
// would be, on every engine. The rename wrote the whole role from its read,
// putting the removed permission back.
func TestRoleRenameDoesNotUndoPermissionChange(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			held := heldCommunity{Store: db.Community(), gate: &atomic.Pointer[writeGate]{}}
			e := newNodeOver(t, db, bus.NewLocal(), db.Identity(), held)
			ann, mal := e.register("ann"), e.register("mal")
			sid, _ := e.serverWithChannel(ann, "general", mal)
			roles := "/servers/" + sid + "/roles"
			mgr, _ := e.must(201, "POST", roles, ann.access, map[string]any{"name": "managers",
				"permissions": community.PermManageRoles | community.PermKickMembers, "position": 5})
			e.must(204, "PUT", "/servers/"+sid+"/members/"+mal.id+"/roles/"+mgr["id"].(string), ann.access, nil)
			mods, _ := e.must(201, "POST", roles, ann.access, map[string]any{"name": "mods",
				"permissions": community.PermKickMembers, "position": 1})
			path := roles + "/" + mods["id"].(string)

			// rename has mal rename the role, held between its read and its
			// write while the owner's change runs; it answers the status.
			rename := func(name string, meanwhile map[string]any) (int, map[string]any) {
				t.Helper()
				return whileHeld(e, held.gate, "PATCH", path, mal.access, map[string]any{"name": name}, func() {
					e.must(200, "PATCH", path, ann.access, meanwhile)
				})
			}
			stored := func() map[string]any {
				t.Helper()
				_, list := e.must(200, "GET", roles, ann.access, nil)
				for _, r := range list {
					if r := r.(map[string]any); r["id"] == mods["id"] {
						return r
					}
				}
				t.Fatal("role gone")
				return nil
			}

			if code, body := rename("moderators", map[string]any{"permissions": 0}); code != 200 {
				t.Fatalf("rename: status %d %v", code, body)
			}
			if r := stored(); r["permissions"] != float64(0) || r["name"] != "moderators" {
				t.Fatalf("the rename undid the owner's change, or was lost: %v", r)
			}

			// The owner gives the role BAN_MEMBERS, which mal lacks: mal's
			// rename, checked against the old bits, is refused.
			code, body := rename("pwned", map[string]any{"permissions": community.PermBanMembers})
			if code != 403 || body["error"] != "Cannot edit a role with permissions you do not have" {
				t.Fatalf("rename of a role that gained a bit mal lacks: status %d %v", code, body)
			}
			if r := stored(); r["permissions"] != float64(community.PermBanMembers) || r["name"] != "moderators" {
				t.Fatalf("role after the refused rename: %v", r)
			}
		})
	}
}

// TestServerRenameDoesNotReopenServer: a PATCH /servers/:id renaming the
// server that read it before another PATCH made it private and
// invite-only, and writes after, leaves it private and invite-only, on
// every engine. The update wrote every field from its read.
func TestServerRenameDoesNotReopenServer(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			held := heldCommunity{Store: db.Community(), gate: &atomic.Pointer[writeGate]{}}
			e := newNodeOver(t, db, bus.NewLocal(), db.Identity(), held)
			ann := e.register("ann")
			sid, _ := e.serverWithChannel(ann, "general")
			if code, _ := whileHeld(e, held.gate, "PATCH", "/servers/"+sid, ann.access, map[string]any{"name": "Renamed"}, func() {
				e.must(200, "PATCH", "/servers/"+sid, ann.access, map[string]any{"is_public": false, "require_invite": true})
			}); code != 200 {
				t.Fatalf("rename: status %d", code)
			}
			got, _ := e.must(200, "GET", "/servers/"+sid, ann.access, nil)
			if got["is_public"] != false || got["require_invite"] != true || got["name"] != "Renamed" {
				t.Fatalf("the rename undid the other change, or was lost: %v", got)
			}
		})
	}
}

// TestAvatarEditDoesNotUndoRename: a PATCH /users/@me setting the avatar,
// whose request read the account before the user renamed themselves
// elsewhere (OpenTogetherTube's PUT /api/user, identity.Rename), and
// writes after, keeps the new name, on every engine. The edit wrote every
// profile column from its read, putting the old display name back.
func TestAvatarEditDoesNotUndoRename(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			held := heldProfiles{Store: db.Identity(), gate: &atomic.Pointer[writeGate]{}}
			e := newNodeOver(t, db, bus.NewLocal(), held, db.Community())
			ctx := t.Context()
			mole := e.register("mole")
			if code, _ := whileHeld(e, held.gate, "PATCH", "/users/@me", mole.access, map[string]any{"avatar_url": "https://example.org/m.png"}, func() {
				if _, err := e.ident.Rename(ctx, mole.id, "Renamed Mole"); err != nil {
					t.Fatal(err)
				}
			}); code != 200 {
				t.Fatalf("PATCH /users/@me: status %d", code)
			}
			got, err := e.ident.Account(ctx, mole.id)
			if err != nil {
				t.Fatal(err)
			}
			if got.DisplayName != "Renamed Mole" {
				t.Fatalf("the avatar edit undid the rename: display name %q", got.DisplayName)
			}
			if got.AvatarURL != "https://example.org/m.png" {
				t.Fatalf("the avatar edit was lost: avatar %q", got.AvatarURL)
			}
		})
	}
}

// TestBioEditDoesNotUndoPronouns: two PATCH /users/@me of one account, one
// setting the bio and held between its read and its write while the other
// sets the pronouns, keep both, on every engine. Each wrote the whole
// profile row from its read, so the later write put the old pronouns back
// (as a PRESENCE_UPDATE, which writes the same row, could the old bio).
func TestBioEditDoesNotUndoPronouns(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			held := heldCommunity{Store: db.Community(), gate: &atomic.Pointer[writeGate]{}}
			e := newNodeOver(t, db, bus.NewLocal(), db.Identity(), held)
			ann := e.register("ann")
			code, body := whileHeld(e, held.gate, "PATCH", "/users/@me", ann.access, map[string]any{"bio": "new bio"}, func() {
				e.must(200, "PATCH", "/users/@me", ann.access, map[string]any{"pronouns": "they/them"})
			})
			if code != 200 {
				t.Fatalf("bio edit: status %d", code)
			}
			if body["bio"] != "new bio" || body["pronouns"] != "they/them" {
				t.Errorf("the bio edit answered bio %v, pronouns %v; want the profile as stored", body["bio"], body["pronouns"])
			}
			prof, err := db.Community().Profile(t.Context(), ann.id)
			if err != nil {
				t.Fatal(err)
			}
			if prof.Bio == nil || *prof.Bio != "new bio" || prof.Pronouns == nil || *prof.Pronouns != "they/them" {
				t.Fatalf("one profile edit undid the other: bio %v, pronouns %v", prof.Bio, prof.Pronouns)
			}
		})
	}
}
