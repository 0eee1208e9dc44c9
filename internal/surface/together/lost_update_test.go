package together_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// heldProfiles holds the next profile write once armed, until the test
// lets it go: the write then runs with the account as the request read it.
type heldProfiles struct {
	identity.Store
	armed   *atomic.Bool
	reached chan struct{}
	release chan struct{}
}

func (s heldProfiles) UpdateProfile(ctx context.Context, a *identity.Account, f identity.ProfileFields) error {
	if s.armed.CompareAndSwap(true, false) {
		close(s.reached)
		<-s.release
	}
	return s.Store.UpdateProfile(ctx, a, f)
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
			held := heldProfiles{Store: db.Identity(), armed: &atomic.Bool{}, reached: make(chan struct{}), release: make(chan struct{})}
			e := newNodeOver(t, db, bus.NewLocal(), held, db.Community())
			ctx := t.Context()
			root, mole := e.register("root"), e.register("mole")
			yes := true
			for _, id := range []string{root.id, mole.id} {
				if err := e.ident.UpdateAdminState(ctx, id, &yes, nil); err != nil {
					t.Fatal(err)
				}
			}

			held.armed.Store(true)
			edit := make(chan int, 1)
			go func() {
				resp, err := http.DefaultClient.Do(e.jsonReq("PATCH", "/users/@me", mole.access,
					map[string]any{"avatar_url": "https://example.org/m.png"}))
				if err != nil {
					edit <- 0
					return
				}
				resp.Body.Close()
				edit <- resp.StatusCode
			}()
			<-held.reached // the edit has read the account and is about to write
			e.must(200, "PATCH", "/api/admin/users/"+mole.id, root.access, map[string]any{"is_admin": false, "disabled": true})
			close(held.release)
			if code := <-edit; code != 200 {
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

// roleGate holds one role write until the test lets it go.
type roleGate struct{ reached, release chan struct{} }

// heldRoles holds the next role write once a gate is set: the write then
// runs with the role as its request read it.
type heldRoles struct {
	community.Store
	gate *atomic.Pointer[roleGate]
}

func (s heldRoles) UpdateRole(ctx context.Context, was, r *community.Role, f community.RoleFields) (*community.Role, bool, error) {
	if g := s.gate.Swap(nil); g != nil {
		close(g.reached)
		<-g.release
	}
	return s.Store.UpdateRole(ctx, was, r, f)
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
			held := heldRoles{Store: db.Community(), gate: &atomic.Pointer[roleGate]{}}
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
				g := &roleGate{reached: make(chan struct{}), release: make(chan struct{})}
				held.gate.Store(g)
				type answer struct {
					code int
					body map[string]any
				}
				done := make(chan answer, 1)
				go func() {
					code, body, _ := e.call("PATCH", path, mal.access, map[string]any{"name": name})
					done <- answer{code, body}
				}()
				<-g.reached
				e.must(200, "PATCH", path, ann.access, meanwhile)
				close(g.release)
				a := <-done
				return a.code, a.body
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

// heldCommunities holds the next community write once a gate is set.
type heldCommunities struct {
	community.Store
	gate *atomic.Pointer[roleGate]
}

func (s heldCommunities) UpdateCommunity(ctx context.Context, c *community.Community, f community.CommunityFields) error {
	if g := s.gate.Swap(nil); g != nil {
		close(g.reached)
		<-g.release
	}
	return s.Store.UpdateCommunity(ctx, c, f)
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
			held := heldCommunities{Store: db.Community(), gate: &atomic.Pointer[roleGate]{}}
			e := newNodeOver(t, db, bus.NewLocal(), db.Identity(), held)
			ann := e.register("ann")
			sid, _ := e.serverWithChannel(ann, "general")
			g := &roleGate{reached: make(chan struct{}), release: make(chan struct{})}
			held.gate.Store(g)
			done := make(chan int, 1)
			go func() {
				code, _, _ := e.call("PATCH", "/servers/"+sid, ann.access, map[string]any{"name": "Renamed"})
				done <- code
			}()
			<-g.reached
			e.must(200, "PATCH", "/servers/"+sid, ann.access, map[string]any{"is_public": false, "require_invite": true})
			close(g.release)
			if code := <-done; code != 200 {
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
			held := heldProfiles{Store: db.Identity(), armed: &atomic.Bool{}, reached: make(chan struct{}), release: make(chan struct{})}
			e := newNodeOver(t, db, bus.NewLocal(), held, db.Community())
			ctx := t.Context()
			mole := e.register("mole")
			held.armed.Store(true)
			edit := make(chan int, 1)
			go func() {
				code, _, _ := e.call("PATCH", "/users/@me", mole.access, map[string]any{"avatar_url": "https://example.org/m.png"})
				edit <- code
			}()
			<-held.reached // the edit has read the account and is about to write
			if _, err := e.ident.Rename(ctx, mole.id, "Renamed Mole"); err != nil {
				t.Fatal(err)
			}
			close(held.release)
			if code := <-edit; code != 200 {
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

// heldProfileRows holds the next profiles-row write once a gate is set.
type heldProfileRows struct {
	community.Store
	gate *atomic.Pointer[roleGate]
}

func (s heldProfileRows) SaveProfile(ctx context.Context, p *community.Profile, f community.ProfileFields) error {
	if g := s.gate.Swap(nil); g != nil {
		close(g.reached)
		<-g.release
	}
	return s.Store.SaveProfile(ctx, p, f)
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
			held := heldProfileRows{Store: db.Community(), gate: &atomic.Pointer[roleGate]{}}
			e := newNodeOver(t, db, bus.NewLocal(), db.Identity(), held)
			ann := e.register("ann")
			g := &roleGate{reached: make(chan struct{}), release: make(chan struct{})}
			held.gate.Store(g)
			type answer struct {
				code int
				body map[string]any
			}
			done := make(chan answer, 1)
			go func() {
				code, body, _ := e.call("PATCH", "/users/@me", ann.access, map[string]any{"bio": "new bio"})
				done <- answer{code, body}
			}()
			<-g.reached
			e.must(200, "PATCH", "/users/@me", ann.access, map[string]any{"pronouns": "they/them"})
			close(g.release)
			a := <-done
			if a.code != 200 {
				t.Fatalf("bio edit: status %d", a.code)
			}
			if a.body["bio"] != "new bio" || a.body["pronouns"] != "they/them" {
				t.Errorf("the bio edit answered bio %v, pronouns %v; want the profile as stored", a.body["bio"], a.body["pronouns"])
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
