package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// TestProfileEditKeepsPrivilegedFields: a profile edit made from a read
// taken before an admin demoted and disabled the account, and before its
// password changed, does not write the old admin role, disabled state or
// password hash back, on every engine. UpdateAccount wrote every column
// from the caller's copy, so a user's own edit racing an admin's demotion
// silently undid it.
func TestProfileEditKeepsPrivilegedFields(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			st := eng.Open(t).Identity()
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			mk := func(name string) *identity.Account {
				t.Helper()
				a := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: name, IsAdmin: true,
					PasswordHash: "old", CreatedAt: now, UpdatedAt: now}
				if err := st.CreateAccount(ctx, a); err != nil {
					t.Fatal(err)
				}
				return a
			}
			mk("boss")
			mole := mk("mole")
			stale, err := st.AccountByID(ctx, mole.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.SetAdmin(ctx, mole.ID, false, now); err != nil {
				t.Fatal(err)
			}
			if err := st.SetDisabled(ctx, mole.ID, &now, now); err != nil {
				t.Fatal(err)
			}
			if err := st.SetPasswordHash(ctx, mole.ID, "new", now); err != nil {
				t.Fatal(err)
			}
			stale.DisplayName, stale.AvatarURL = "Mole", "https://example.org/m.png"
			if err := st.UpdateProfile(ctx, stale, identity.ProfileDisplayName|identity.ProfileAvatar); err != nil {
				t.Fatal(err)
			}
			got, err := st.AccountByID(ctx, mole.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.IsAdmin || !got.Disabled() || !got.DisabledAt.Equal(now) || got.PasswordHash != "new" {
				t.Fatalf("the stale profile edit undid the admin's change: admin %v, disabled %v, hash %q",
					got.IsAdmin, got.DisabledAt, got.PasswordHash)
			}
			if got.DisplayName != "Mole" || got.AvatarURL != "https://example.org/m.png" {
				t.Fatalf("the profile edit was lost: %+v", got)
			}

			// And the other way: a stale copy that says disabled and not
			// admin does not undo a re-enable and a promotion.
			if err := st.SetDisabled(ctx, mole.ID, nil, now); err != nil {
				t.Fatal(err)
			}
			if err := st.SetAdmin(ctx, mole.ID, true, now); err != nil {
				t.Fatal(err)
			}
			got.DisplayName = "Mole 2"
			if err := st.UpdateProfile(ctx, got, identity.ProfileDisplayName); err != nil {
				t.Fatal(err)
			}
			if again, _ := st.AccountByID(ctx, mole.ID); !again.IsAdmin || again.Disabled() || again.DisplayName != "Mole 2" {
				t.Fatalf("the stale profile edit undid the re-enable: %+v", again)
			}
		})
	}
}

// TestRoleEditWritesOnlyItsFields: a role update writes only the fields
// it names, so a rename made from a read taken before another manager
// removed a permission does not put the permission back; and it writes
// nothing when the role's permissions or position are no longer those its
// edit was checked against, on every engine. UpdateRole wrote name,
// permissions, colour and position from the caller's copy.
func TestRoleEditWritesOnlyItsFields(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			st := db.Community()
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			owner := newAccount(t, db, "owner")
			c := newCommunity(t, db, owner)
			red := "#ff0000"
			mods := &community.Role{ID: identity.NewID(), CommunityID: c.ID, Name: "mods",
				Permissions: community.PermKickMembers | community.PermBanMembers, Color: &red, Position: 2, CreatedAt: now}
			if err := st.CreateRole(ctx, mods, community.MaxRoles); err != nil {
				t.Fatal(err)
			}
			read := func() *community.Role {
				t.Helper()
				r, err := st.Role(ctx, mods.ID)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}

			// A rename from the same read as a permission removal, written
			// after it: the removal stays.
			a, b := read(), read()
			cut := *b
			cut.Permissions = community.PermKickMembers
			if _, ok, err := st.UpdateRole(ctx, b, &cut, community.RolePermissions); err != nil || !ok {
				t.Fatalf("remove BAN_MEMBERS: ok %v, err %v", ok, err)
			}
			renamed := *a
			renamed.Name = "moderators"
			// Its compare is on the fresh row, as the service's retry does;
			// the write itself comes from the old copy.
			got, ok, err := st.UpdateRole(ctx, read(), &renamed, community.RoleName)
			if err != nil || !ok {
				t.Fatalf("rename: ok %v, err %v", ok, err)
			}
			if got.Permissions != community.PermKickMembers || got.Name != "moderators" || got.Color == nil || *got.Color != red ||
				got.Position != 2 {
				t.Fatalf("the rename wrote more than the name: %+v", got)
			}
			if again := read(); again.Permissions != community.PermKickMembers || again.Name != "moderators" {
				t.Fatalf("stored role %+v", again)
			}

			// An edit whose check saw permissions or a position the role
			// no longer has writes nothing.
			stale := *a // KICK|BAN at position 2; the role now has KICK only
			stale.Name = "stale"
			if got, ok, err := st.UpdateRole(ctx, a, &stale, community.RoleName); err != nil || ok || got != nil {
				t.Fatalf("an edit checked against old permissions: got %+v, ok %v, err %v", got, ok, err)
			}
			cur := read()
			moved := *cur
			moved.Position = 7
			if _, ok, err := st.UpdateRole(ctx, cur, &moved, community.RolePosition); err != nil || !ok {
				t.Fatalf("move: ok %v, err %v", ok, err)
			}
			cur.Name = "stale"
			if _, ok, err := st.UpdateRole(ctx, read(), cur, community.RoleName|community.RolePosition); err != nil || !ok {
				t.Fatalf("move back and rename: ok %v, err %v", ok, err)
			}
			if _, ok, _ := st.UpdateRole(ctx, &moved, cur, community.RoleName); ok {
				t.Fatal("an edit checked against an old position was written")
			}
			if got := read(); got.Name != "stale" || got.Position != 2 || got.Permissions != community.PermKickMembers {
				t.Fatalf("stored role %+v", got)
			}

			// A role that is gone: not ok, no error.
			if err := st.DeleteRole(ctx, mods.ID); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := st.UpdateRole(ctx, cur, cur, community.RoleName); err != nil || ok {
				t.Fatalf("update of a deleted role: ok %v, err %v", ok, err)
			}
		})
	}
}

// TestCommunityEditWritesOnlyItsFields: a community update writes only
// the fields it names, so a rename made from a read taken before the owner
// made the community private and invite-only does not make it public and
// open again, on every engine. UpdateCommunity wrote every field from the
// caller's copy.
func TestCommunityEditWritesOnlyItsFields(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			st := db.Community()
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			owner := newAccount(t, db, "owner")
			c := &community.Community{ID: identity.NewID(), Name: "C", OwnerID: owner, IsPublic: true, CreatedAt: now, UpdatedAt: now}
			if err := st.CreateCommunity(ctx, c, nil, community.MaxServersJoined); err != nil {
				t.Fatal(err)
			}
			read := func() *community.Community {
				t.Helper()
				got, err := st.Community(ctx, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				return got
			}
			stale, fresh := read(), read()
			fresh.IsPublic, fresh.RequireInvite = false, true
			if err := st.UpdateCommunity(ctx, fresh, community.CommunityPublic|community.CommunityRequireInvite); err != nil {
				t.Fatal(err)
			}
			icon := "https://example.org/i.png"
			stale.Name, stale.IconURL, stale.UpdatedAt = "Renamed", &icon, now.Add(time.Second)
			if err := st.UpdateCommunity(ctx, stale, community.CommunityName|community.CommunityIcon); err != nil {
				t.Fatal(err)
			}
			got := read()
			if got.IsPublic || !got.RequireInvite {
				t.Fatalf("the stale rename undid the owner's change: public %v, require invite %v", got.IsPublic, got.RequireInvite)
			}
			if got.Name != "Renamed" || got.IconURL == nil || *got.IconURL != icon || !got.UpdatedAt.Equal(stale.UpdatedAt) {
				t.Fatalf("the rename was lost: %+v", got)
			}
			if err := st.UpdateCommunity(ctx, &community.Community{ID: identity.NewID(), UpdatedAt: now}, community.CommunityName); !errors.Is(err, fault.NotFound) {
				t.Fatalf("update of an unknown community: %v", err)
			}
		})
	}
}

// TestWebhookEditWritesOnlyItsFields: a webhook update writes only the
// fields it names, so a rename made from a read taken before another
// manager disabled the hook and pointed it elsewhere does not enable it
// again at its old URL, on every engine. UpdateWebhook wrote name, URL,
// events and enabled from the caller's copy.
func TestWebhookEditWritesOnlyItsFields(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			st := db.TogetherExtras()
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			owner := newAccount(t, db, "owner")
			c := newCommunity(t, db, owner)
			h := &webhooks.Hook{ID: identity.NewID(), CommunityID: c.ID, CreatedBy: owner, Name: "ci", URL: "https://old.example/h",
				Secret: "s", EventTypes: []string{"message.create"}, Enabled: true, CreatedAt: now, UpdatedAt: now}
			if err := st.CreateWebhook(ctx, h, webhooks.MaxHooks); err != nil {
				t.Fatal(err)
			}
			read := func() *webhooks.Hook {
				t.Helper()
				got, err := st.Webhook(ctx, c.ID, h.ID)
				if err != nil {
					t.Fatal(err)
				}
				return got
			}
			stale, fresh := read(), read()
			fresh.Enabled, fresh.URL = false, "https://new.example/h"
			if err := st.UpdateWebhook(ctx, fresh, webhooks.HookEnabled|webhooks.HookURL); err != nil {
				t.Fatal(err)
			}
			stale.Name, stale.EventTypes = "deploys", []string{"member.join"}
			if err := st.UpdateWebhook(ctx, stale, webhooks.HookName|webhooks.HookEvents); err != nil {
				t.Fatal(err)
			}
			got := read()
			if got.Enabled || got.URL != "https://new.example/h" {
				t.Fatalf("the stale edit undid the disable or the new URL: enabled %v, url %q", got.Enabled, got.URL)
			}
			if got.Name != "deploys" || len(got.EventTypes) != 1 || got.EventTypes[0] != "member.join" {
				t.Fatalf("the edit was lost: %+v", got)
			}
			if err := st.UpdateWebhook(ctx, &webhooks.Hook{ID: identity.NewID(), UpdatedAt: now}, webhooks.HookName); !errors.Is(err, fault.NotFound) {
				t.Fatalf("update of an unknown hook: %v", err)
			}
		})
	}
}

// TestProfileEditsWriteOnlyTheirFields: profile writes made from reads
// taken before each other's keep each other's fields, on every engine: a
// rename and an avatar change of one account, and a bio edit and a
// presence change of one profile. Each wrote every profile column from its
// read, so the later write put the earlier one's field back.
func TestProfileEditsWriteOnlyTheirFields(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			st, cs := db.Identity(), db.Community()
			ctx := context.Background()
			pat := newAccount(t, db, "pat")
			one, err := st.AccountByID(ctx, pat)
			if err != nil {
				t.Fatal(err)
			}
			two := *one
			one.DisplayName = "Pat"
			if err := st.UpdateProfile(ctx, one, identity.ProfileDisplayName); err != nil {
				t.Fatal(err)
			}
			two.AvatarURL = "https://example.org/p.png"
			if err := st.UpdateProfile(ctx, &two, identity.ProfileAvatar); err != nil {
				t.Fatal(err)
			}
			got, err := st.AccountByID(ctx, pat)
			if err != nil {
				t.Fatal(err)
			}
			if got.DisplayName != "Pat" || got.AvatarURL != "https://example.org/p.png" || got.Username != "pat" {
				t.Fatalf("one profile edit undid the other: %+v", got)
			}

			bio := "hello"
			if err := cs.SaveProfile(ctx, &community.Profile{AccountID: pat, Status: "offline"}, community.ProfileStatus); err != nil {
				t.Fatal(err)
			}
			stale, err := cs.Profile(ctx, pat)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cs.SetPresence(ctx, pat, true, false); err != nil {
				t.Fatal(err)
			}
			stale.Bio = &bio
			if err := cs.SaveProfile(ctx, stale, community.ProfileBio); err != nil {
				t.Fatal(err)
			}
			p, err := cs.Profile(ctx, pat)
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != "online" || p.Bio == nil || *p.Bio != "hello" {
				t.Fatalf("the bio edit undid the presence change, or was lost: status %q, bio %v", p.Status, p.Bio)
			}
		})
	}
}
