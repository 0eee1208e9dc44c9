package community_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// world is one community with a ladder of members:
//
//	owner  (owner, no roles)
//	admin  "admin"  position 10, ADMINISTRATOR
//	high   "high"   position 8,  MANAGE_ROLES|KICK|BAN|MUTE
//	mgr    "mgr"    position 5,  MANAGE_ROLES only (the attacker of issue 13)
//	mod    "mod"    position 5,  KICK|BAN|MUTE
//	low    "low"    position 1,  no bits
//	plain  no roles
//
// and two unassigned roles below mgr: "kicker" (position 2, KICK) and
// "lowadmin" (position 0, ADMINISTRATOR: an owner's mis-ordered role).
type world struct {
	t       *testing.T
	svc     *community.Service
	c       *community.Community
	channel string
	acct    map[string]string
	role    map[string]*community.Role
}

func newWorld(t *testing.T, db *store.DB) *world {
	t.Helper()
	ctx := context.Background()
	svc, err := community.New(db.Community(), nil, db.Messages(), nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, svc: svc, acct: map[string]string{}, role: map[string]*community.Role{}}
	for _, n := range []string{"owner", "admin", "high", "mgr", "mod", "low", "plain"} {
		now := time.Now().UTC()
		a := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: n, CreatedAt: now, UpdatedAt: now}
		if err := db.Identity().CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		w.acct[n] = a.ID
	}
	w.c, err = svc.Create(ctx, w.acct["owner"], community.CreateInput{Name: "ladder", IsPublic: true,
		Channels: []*community.Channel{{Name: "general", Kind: community.KindText}}})
	if err != nil {
		t.Fatal(err)
	}
	chans, err := svc.Channels(ctx, w.acct["owner"], w.c.ID)
	if err != nil || len(chans) != 1 {
		t.Fatalf("channels: %v %v", chans, err)
	}
	w.channel = chans[0].ID
	for _, n := range []string{"admin", "high", "mgr", "mod", "low", "plain"} {
		if _, err := svc.Join(ctx, w.acct[n], w.c.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []struct {
		name  string
		pos   int
		perms int64
	}{
		{"admin", 10, community.PermAdministrator},
		{"high", 8, community.PermManageRoles | community.PermKickMembers | community.PermBanMembers | community.PermMuteMembers},
		{"mgr", 5, community.PermManageRoles},
		{"mod", 5, community.PermKickMembers | community.PermBanMembers | community.PermMuteMembers},
		{"low", 1, 0},
		{"kicker", 2, community.PermKickMembers},
		{"lowadmin", 0, community.PermAdministrator},
	} {
		ro := w.mustRole(r.name, r.pos, r.perms)
		if _, member := w.acct[r.name]; member {
			if err := svc.SetMemberRole(ctx, w.acct["owner"], w.c.ID, w.acct[r.name], ro.ID, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	return w
}

// mustRole has the owner create a role.
func (w *world) mustRole(name string, pos int, perms int64) *community.Role {
	w.t.Helper()
	r, err := w.createRole("owner", name, &pos, perms)
	if err != nil {
		w.t.Fatal(err)
	}
	w.role[name] = r
	return r
}

func (w *world) createRole(actor, name string, pos *int, perms int64) (*community.Role, error) {
	return w.svc.CreateRole(context.Background(), w.acct[actor], w.c.ID, community.RoleInput{Name: &name, Permissions: &perms, Position: pos})
}

func (w *world) update(actor, role string, in community.RoleInput) error {
	_, err := w.svc.UpdateRole(context.Background(), w.acct[actor], w.c.ID, w.role[role].ID, in)
	return err
}

func (w *world) assign(actor, member, role string, add bool) error {
	return w.svc.SetMemberRole(context.Background(), w.acct[actor], w.c.ID, w.acct[member], w.role[role].ID, add)
}

func (w *world) roleOverride(actor, role string, allow, deny int64) (*community.Override, error) {
	id := w.role[role].ID
	return w.svc.SetOverride(context.Background(), w.acct[actor], w.channel, &community.Override{RoleID: &id, Allow: allow, Deny: deny})
}

func (w *world) memberOverride(actor, member string, allow, deny int64) (*community.Override, error) {
	id := w.acct[member]
	return w.svc.SetOverride(context.Background(), w.acct[actor], w.channel, &community.Override{AccountID: &id, Allow: allow, Deny: deny})
}

func (w *world) perms(member string) int64 {
	w.t.Helper()
	a, err := w.svc.Access(context.Background(), w.acct[member], w.c.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	return a.Perms
}

func ip(n int) *int { return &n }

func i64(n int64) *int64 { return &n }

type hcase struct {
	name string
	do   func(w *world) error
	want string     // the error's message; "" for success
	kind fault.Kind // the error's kind; Forbidden when zero
}

func runCases(t *testing.T, w *world, cases []hcase) {
	t.Helper()
	for _, c := range cases {
		err := c.do(w)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want success", c.name, err)
		case c.want == "":
		case err == nil:
			t.Errorf("%s: succeeded, want %q", c.name, c.want)
		default:
			kind := c.kind
			if kind == fault.Internal {
				kind = fault.Forbidden
			}
			if fault.Message(err) != c.want || !errors.Is(err, kind) {
				t.Errorf("%s: %v (%v), want %q (%v)", c.name, err, fault.KindOf(err), c.want, kind)
			}
		}
	}
}

// TestRoleHierarchy: creating, editing, deleting, assigning and removing
// roles (issue 13 §1).
func TestRoleHierarchy(t *testing.T) {
	t.Parallel()
	const (
		grant   = "Cannot grant permissions you do not have"
		missing = "Missing required permission"
	)
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, eng.Open(t))
			ctx := context.Background()
			before, err := w.svc.Roles(ctx, w.acct["owner"], w.c.ID)
			if err != nil {
				t.Fatal(err)
			}
			runCases(t, w, []hcase{
				// Creating.
				{"MANAGE_ROLES-only creates an ADMINISTRATOR role", func(w *world) error {
					_, err := w.createRole("mgr", "pwn", ip(0), community.PermAdministrator)
					return err
				}, grant, 0},
				{"MANAGE_ROLES-only creates a role with KICK_MEMBERS", func(w *world) error {
					_, err := w.createRole("mgr", "pwn", ip(1), community.PermKickMembers)
					return err
				}, grant, 0},
				{"create at one's own position", func(w *world) error {
					_, err := w.createRole("mgr", "pwn", ip(5), 0)
					return err
				}, "Cannot create a role at or above your highest role position", 0},
				{"create above one's own position", func(w *world) error {
					_, err := w.createRole("mgr", "pwn", ip(7), community.PermManageRoles)
					return err
				}, "Cannot create a role at or above your highest role position", 0},
				{"ADMINISTRATOR is bound by position too (Together)", func(w *world) error {
					_, err := w.createRole("admin", "pwn", ip(10), 0)
					return err
				}, "Cannot create a role at or above your highest role position", 0},
				{"no MANAGE_ROLES", func(w *world) error {
					_, err := w.createRole("plain", "pwn", ip(0), 0)
					return err
				}, missing, 0},
			})
			after, err := w.svc.Roles(ctx, w.acct["owner"], w.c.ID)
			if err != nil || len(after) != len(before) {
				t.Fatalf("refused creates left %d roles (was %d): %v", len(after), len(before), err)
			}
			runCases(t, w, []hcase{
				{"create below with bits one holds", func(w *world) error {
					r, err := w.createRole("mgr", "junior", ip(3), community.PermManageRoles)
					w.role["junior"] = r
					return err
				}, "", 0},
				{"create with the default position (0) and no bits", func(w *world) error {
					r, err := w.createRole("mgr", "spare", nil, 0)
					w.role["spare"] = r
					return err
				}, "", 0},
				{"ADMINISTRATOR creates any bits below itself", func(w *world) error {
					_, err := w.createRole("admin", "deputy", ip(9), community.PermAdministrator)
					return err
				}, "", 0},
				{"the owner creates anything anywhere", func(w *world) error {
					_, err := w.createRole("owner", "crown", ip(100), community.AllPerms&(1<<15-1))
					return err
				}, "", 0},

				// Editing.
				{"edit a role holding a bit one lacks", func(w *world) error {
					return w.update("mgr", "kicker", community.RoleInput{Name: sp("renamed")})
				}, "Cannot edit a role with permissions you do not have", 0},
				{"add ADMINISTRATOR to a role below", func(w *world) error {
					return w.update("mgr", "junior", community.RoleInput{Permissions: i64(community.PermAdministrator)})
				}, grant, 0},
				{"move a role up to one's own position", func(w *world) error {
					return w.update("mgr", "junior", community.RoleInput{Position: ip(5)})
				}, "Cannot move a role to a position at or above your highest role position", 0},
				{"move a role above oneself", func(w *world) error {
					return w.update("mgr", "junior", community.RoleInput{Position: ip(9)})
				}, "Cannot move a role to a position at or above your highest role position", 0},
				{"edit one's own role (give it ADMINISTRATOR)", func(w *world) error {
					return w.update("mgr", "mgr", community.RoleInput{Permissions: i64(community.PermAdministrator)})
				}, "Cannot edit a role at or above your highest role position", 0},
				{"edit a role above", func(w *world) error {
					return w.update("mgr", "high", community.RoleInput{Name: sp("x")})
				}, "Cannot edit a role at or above your highest role position", 0},
				{"ADMINISTRATOR edits its own role", func(w *world) error {
					return w.update("admin", "admin", community.RoleInput{Name: sp("x")})
				}, "Cannot edit a role at or above your highest role position", 0},
				{"edit below, within one's bits", func(w *world) error {
					return w.update("mgr", "junior", community.RoleInput{Name: sp("junior2"), Position: ip(4), Permissions: i64(0)})
				}, "", 0},
				{"the owner edits the top role", func(w *world) error {
					return w.update("owner", "admin", community.RoleInput{Name: sp("Admins")})
				}, "", 0},

				// Deleting.
				{"delete a role holding a bit one lacks", func(w *world) error {
					return w.svc.DeleteRole(ctx, w.acct["mgr"], w.c.ID, w.role["kicker"].ID)
				}, "Cannot delete a role with permissions you do not have", 0},
				{"delete a role above", func(w *world) error {
					return w.svc.DeleteRole(ctx, w.acct["mgr"], w.c.ID, w.role["high"].ID)
				}, "Cannot delete a role at or above your highest role position", 0},
				{"delete one's own role", func(w *world) error {
					return w.svc.DeleteRole(ctx, w.acct["mgr"], w.c.ID, w.role["mgr"].ID)
				}, "Cannot delete a role at or above your highest role position", 0},
				{"delete below, within one's bits", func(w *world) error {
					return w.svc.DeleteRole(ctx, w.acct["mgr"], w.c.ID, w.role["spare"].ID)
				}, "", 0},

				// Assigning and removing.
				{"assign the ADMINISTRATOR role above to oneself", func(w *world) error {
					return w.assign("mgr", "mgr", "admin", true)
				}, "Cannot assign a role at or above your highest role position", 0},
				{"assign an ADMINISTRATOR role placed below to oneself", func(w *world) error {
					return w.assign("mgr", "mgr", "lowadmin", true)
				}, grant, 0},
				{"assign a role with a bit one lacks", func(w *world) error {
					return w.assign("mgr", "plain", "kicker", true)
				}, grant, 0},
				{"assign one's own role", func(w *world) error {
					return w.assign("mgr", "plain", "mgr", true)
				}, "Cannot assign a role at or above your highest role position", 0},
				{"ADMINISTRATOR assigns a role at its own position", func(w *world) error {
					return w.assign("admin", "plain", "admin", true)
				}, "Cannot assign a role at or above your highest role position", 0},
				{"assign below, within one's bits", func(w *world) error {
					return w.assign("mgr", "plain", "junior", true)
				}, "", 0},
				{"ADMINISTRATOR assigns any bits below itself", func(w *world) error {
					return w.assign("admin", "low", "kicker", true)
				}, "", 0},
				{"the owner assigns a role to itself", func(w *world) error {
					return w.assign("owner", "owner", "junior", true)
				}, "", 0},
				{"remove a role from the owner", func(w *world) error {
					return w.assign("mgr", "owner", "junior", false)
				}, "Cannot remove roles from the server owner", 0},
				{"remove a role above", func(w *world) error {
					return w.assign("mgr", "high", "high", false)
				}, "Cannot remove a role at or above your highest role position", 0},
				{"remove a role with a bit one lacks", func(w *world) error {
					return w.assign("mgr", "low", "kicker", false)
				}, "Cannot remove a role with permissions you do not have", 0},
				{"remove below, within one's bits", func(w *world) error {
					return w.assign("mgr", "plain", "junior", false)
				}, "", 0},
				{"the owner removes anything", func(w *world) error {
					return w.assign("owner", "low", "kicker", false)
				}, "", 0},
			})
			if got := w.perms("mgr"); got != community.PermManageRoles {
				t.Errorf("after the attempts mgr holds %d, want only MANAGE_ROLES", got)
			}
		})
	}
}

// TestOverrideHierarchy: channel permission overrides grant no bit the
// actor lacks in the channel and touch no one at or above the actor.
func TestOverrideHierarchy(t *testing.T) {
	t.Parallel()
	const (
		grant = "Cannot grant permissions you do not have"
		held  = "Cannot manage an override with permissions you do not have"
	)
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, eng.Open(t))
			ctx := context.Background()
			var mine, owners *community.Override
			runCases(t, w, []hcase{
				{"allow ADMINISTRATOR to a role below", func(w *world) error {
					_, err := w.roleOverride("mgr", "low", community.PermAdministrator, 0)
					return err
				}, grant, 0},
				{"allow MANAGE_MESSAGES to a role below", func(w *world) error {
					_, err := w.roleOverride("mgr", "low", community.PermManageMessages, 0)
					return err
				}, grant, 0},
				{"allow KICK_MEMBERS to a member below", func(w *world) error {
					_, err := w.memberOverride("mgr", "plain", community.PermKickMembers, 0)
					return err
				}, grant, 0},
				{"deny a bit one lacks", func(w *world) error {
					_, err := w.roleOverride("mgr", "low", 0, community.PermManageMessages)
					return err
				}, held, 0},
				{"override a role above", func(w *world) error {
					_, err := w.roleOverride("mgr", "high", 0, community.PermSendMessages)
					return err
				}, "Cannot manage the override of a role at or above your highest role position", 0},
				{"override one's own role", func(w *world) error {
					_, err := w.roleOverride("mgr", "mgr", community.PermSendMessages, 0)
					return err
				}, "Cannot manage the override of a role at or above your highest role position", 0},
				{"override the owner", func(w *world) error {
					_, err := w.memberOverride("mgr", "owner", 0, community.PermViewChannel)
					return err
				}, "Cannot manage the override of the server owner", 0},
				{"override a member above", func(w *world) error {
					_, err := w.memberOverride("mgr", "high", 0, community.PermViewChannel)
					return err
				}, "Cannot manage the override of a member with an equal or higher role", 0},
				{"override a member at one's level", func(w *world) error {
					_, err := w.memberOverride("mgr", "mod", 0, community.PermViewChannel)
					return err
				}, "Cannot manage the override of a member with an equal or higher role", 0},
				{"ADMINISTRATOR overrides its own role", func(w *world) error {
					_, err := w.roleOverride("admin", "admin", 0, community.PermSendMessages)
					return err
				}, "Cannot manage the override of a role at or above your highest role position", 0},
				{"no MANAGE_ROLES", func(w *world) error {
					_, err := w.roleOverride("plain", "low", 0, 0)
					return err
				}, "Missing required permission", 0},
				{"allow and deny bits one holds in the channel", func(w *world) error {
					o, err := w.roleOverride("mgr", "low", community.PermSendMessages, community.PermAddReactions)
					mine = o
					return err
				}, "", 0},
				{"a member override within one's bits", func(w *world) error {
					_, err := w.memberOverride("mgr", "plain", 0, community.PermSendMessages)
					return err
				}, "", 0},
				{"ADMINISTRATOR grants any bit below itself", func(w *world) error {
					_, err := w.roleOverride("admin", "kicker", community.PermManageMessages, 0)
					return err
				}, "", 0},
				{"the owner denies MANAGE_MESSAGES to a role", func(w *world) error {
					o, err := w.roleOverride("owner", "kicker", 0, community.PermManageMessages)
					owners = o
					return err
				}, "", 0},
				{"replacing an override with bits one lacks", func(w *world) error {
					_, err := w.roleOverride("mgr", "kicker", 0, 0)
					return err
				}, held, 0},
				{"deleting an override with bits one lacks", func(w *world) error {
					return w.svc.DeleteOverride(ctx, w.acct["mgr"], w.channel, owners.ID)
				}, held, 0},
				{"deleting one's own override", func(w *world) error {
					return w.svc.DeleteOverride(ctx, w.acct["mgr"], w.channel, mine.ID)
				}, "", 0},
				{"deleting an override that does not exist", func(w *world) error {
					return w.svc.DeleteOverride(ctx, w.acct["mgr"], w.channel, mine.ID)
				}, "Override not found", fault.NotFound},
				{"the owner deletes anything", func(w *world) error {
					return w.svc.DeleteOverride(ctx, w.acct["owner"], w.channel, owners.ID)
				}, "", 0},
			})
		})
	}
}

// TestModerationHierarchy: kick, ban and timeout act only on members below
// the actor's highest role, ADMINISTRATOR included, and never on the owner.
func TestModerationHierarchy(t *testing.T) {
	t.Parallel()
	const (
		above = "Cannot moderate a member with an equal or higher role"
		owner = "Cannot moderate the server owner"
	)
	kick := func(actor, target string) func(w *world) error {
		return func(w *world) error {
			return w.svc.Kick(context.Background(), w.acct[actor], w.c.ID, w.acct[target], nil)
		}
	}
	ban := func(actor, target string) func(w *world) error {
		return func(w *world) error {
			return w.svc.Ban(context.Background(), w.acct[actor], w.c.ID, w.acct[target], nil)
		}
	}
	timeout := func(actor, target string, d time.Duration) func(w *world) error {
		return func(w *world) error {
			_, err := w.svc.Timeout(context.Background(), w.acct[actor], w.c.ID, w.acct[target], d, nil)
			return err
		}
	}
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, eng.Open(t))
			ctx := context.Background()
			runCases(t, w, []hcase{
				{"kick a member above", kick("mod", "high"), above, 0},
				{"kick a member at one's level", kick("mod", "mgr"), above, 0},
				{"ban a member above", ban("mod", "admin"), above, 0},
				{"time out a member above", timeout("high", "admin", time.Hour), above, 0},
				{"lift the timeout of a member above", timeout("high", "admin", 0), above, 0},
				{"ban the owner", ban("mod", "owner"), owner, 0},
				{"ADMINISTRATOR kicks the owner", kick("admin", "owner"), owner, 0},
				{"ADMINISTRATOR bans its equal", func(w *world) error {
					if err := w.assign("owner", "mgr", "admin", true); err != nil {
						return err
					}
					defer func() { _ = w.assign("owner", "mgr", "admin", false) }()
					return ban("admin", "mgr")(w)
				}, above, 0},
				{"kick oneself", kick("mod", "mod"), "You cannot moderate yourself", fault.Invalid},
				{"no KICK_MEMBERS", kick("mgr", "low"), "Missing required permission", 0},
				{"time out a member below", timeout("mod", "plain", time.Hour), "", 0},
				{"lift it", timeout("mod", "plain", 0), "", 0},
				{"ADMINISTRATOR times out a member below", timeout("admin", "high", time.Hour), "", 0},
				{"kick a member below", kick("mod", "low"), "", 0},
				{"ban a member below", ban("high", "plain"), "", 0},
				{"the owner kicks ADMINISTRATOR", kick("owner", "admin"), "", 0},
				// Automod acts with the owner's authority, never on the owner.
				{"automod bans the owner", func(w *world) error {
					if err := w.svc.Enforce(ctx, w.c.ID, w.acct["owner"], "ban", 0, "spam"); err != nil {
						return err
					}
					if _, err := w.svc.Access(ctx, w.acct["owner"], w.c.ID); err != nil {
						t.Errorf("automod removed the owner: %v", err)
					}
					return nil
				}, "", 0},
				{"automod with an unknown action", func(w *world) error {
					return w.svc.Enforce(ctx, w.c.ID, w.acct["mod"], "promote", 0, "spam")
				}, "action must be timeout, kick or ban", fault.Invalid},
			})
			if _, err := w.svc.Access(ctx, w.acct["high"], w.c.ID); err != nil {
				t.Errorf("the refused kick removed high: %v", err)
			}
		})
	}
}
