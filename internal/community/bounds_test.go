package community_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestCountsBounded: a community stops at MaxChannels channels, MaxRoles
// roles, MaxFilteredWords filtered words (adding one already there
// still answers it) and MaxInvites working invites, and an account at MaxServersJoined servers, created
// or joined; leaving one makes room again.
func TestCountsBounded(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			w := newWorld(t, db)
			ctx := context.Background()
			owner, plain := w.acct["owner"], w.acct["plain"]

			chans, err := db.Community().Channels(ctx, w.c.ID)
			if err != nil {
				t.Fatal(err)
			}
			for i := len(chans); i < community.MaxChannels; i++ {
				if _, err := w.svc.CreateChannel(ctx, owner, w.c.ID, community.ChannelInput{Name: ptr(fmt.Sprint("c", i)), Kind: community.KindText}); err != nil {
					t.Fatalf("channel %d: %v", i, err)
				}
			}
			if _, err := w.svc.CreateChannel(ctx, owner, w.c.ID, community.ChannelInput{Name: ptr("late"), Kind: community.KindText}); !errors.Is(err, community.ErrTooManyChannels) {
				t.Errorf("channel past the bound: %v", err)
			}

			roles, err := db.Community().Roles(ctx, w.c.ID)
			if err != nil {
				t.Fatal(err)
			}
			for i := len(roles); i < community.MaxRoles; i++ {
				if _, err := w.svc.CreateRole(ctx, owner, w.c.ID, community.RoleInput{Name: ptr(fmt.Sprint("r", i))}); err != nil {
					t.Fatalf("role %d: %v", i, err)
				}
			}
			if _, err := w.svc.CreateRole(ctx, owner, w.c.ID, community.RoleInput{Name: ptr("late")}); !errors.Is(err, community.ErrTooManyRoles) {
				t.Errorf("role past the bound: %v", err)
			}

			w.svc.SetModeration(db.TogetherExtras())
			for i := range community.MaxFilteredWords {
				if _, err := w.svc.AddWord(ctx, owner, w.c.ID, fmt.Sprint("w", i)); err != nil {
					t.Fatalf("word %d: %v", i, err)
				}
			}
			if _, err := w.svc.AddWord(ctx, owner, w.c.ID, "late"); !errors.Is(err, community.ErrTooManyWords) {
				t.Errorf("word past the bound: %v", err)
			}
			if wf, err := w.svc.AddWord(ctx, owner, w.c.ID, "W7"); err != nil || wf.Word != "w7" {
				t.Errorf("a word already there, at the bound: %+v %v", wf, err)
			}

			// Invites count while they work: one used up frees its place.
			one := 1
			for i := range community.MaxInvites - 1 {
				if _, err := w.svc.CreateInvite(ctx, owner, w.c.ID, nil, nil); err != nil {
					t.Fatalf("invite %d: %v", i, err)
				}
			}
			single, err := w.svc.CreateInvite(ctx, owner, w.c.ID, &one, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.svc.CreateInvite(ctx, owner, w.c.ID, nil, nil); !errors.Is(err, community.ErrTooManyInvites) {
				t.Errorf("invite past the bound: %v", err)
			}
			now := time.Now().UTC()
			newcomer := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: "newcomer", CreatedAt: now, UpdatedAt: now}
			if err := db.Identity().CreateAccount(ctx, newcomer); err != nil {
				t.Fatal(err)
			}
			if _, err := w.svc.AcceptInvite(ctx, newcomer.ID, single.Code); err != nil {
				t.Fatal(err)
			}
			if _, err := w.svc.CreateInvite(ctx, owner, w.c.ID, nil, nil); err != nil {
				t.Errorf("an invite once one was used up: %v", err)
			}

			// plain is in the ladder already.
			var last *community.Community
			for i := 1; i < community.MaxServersJoined; i++ {
				if last, err = w.svc.Create(ctx, plain, community.CreateInput{Name: fmt.Sprint("s", i)}); err != nil {
					t.Fatalf("server %d: %v", i, err)
				}
			}
			if _, err := w.svc.Create(ctx, plain, community.CreateInput{Name: "late"}); !errors.Is(err, community.ErrTooManyServers) {
				t.Errorf("server past the bound: %v", err)
			}
			open, err := w.svc.Create(ctx, owner, community.CreateInput{Name: "open", IsPublic: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.svc.Join(ctx, plain, open.ID); !errors.Is(err, community.ErrTooManyServers) {
				t.Errorf("join past the bound: %v", err)
			}
			if err := w.svc.Delete(ctx, plain, last.ID, false); err != nil {
				t.Fatal(err)
			}
			if _, err := w.svc.Join(ctx, plain, open.ID); err != nil {
				t.Errorf("join after leaving one: %v", err)
			}
		})
	}
}

// TestDMChannelsBounded: an account opens DM channels up to MaxDMChannels
// (with any account, a free chat user's included); past it a new one is
// refused while reopening one it has still works, and one another
// account opens to it still works (only the opener's count is checked).
// Its list answers the MaxDMChannels most recently active.
func TestDMChannelsBounded(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			w := newWorld(t, db)
			ctx := context.Background()
			plain := w.acct["plain"]
			newAcct := func(name string) string {
				now := time.Now().UTC()
				a := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: name, CreatedAt: now, UpdatedAt: now}
				if err := db.Identity().CreateAccount(ctx, a); err != nil {
					t.Fatal(err)
				}
				return a.ID
			}
			var first string
			for i := range community.MaxDMChannels {
				other := newAcct(fmt.Sprint("dm", i))
				if i == 0 {
					first = other
				}
				if _, created, err := w.svc.OpenDM(ctx, plain, other); err != nil || !created {
					t.Fatalf("DM %d: %v %v", i, created, err)
				}
			}
			late := newAcct("late")
			if _, _, err := w.svc.OpenDM(ctx, plain, late); !errors.Is(err, community.ErrTooManyDMs) {
				t.Fatalf("DM past the bound: %v", err)
			}
			if _, created, err := w.svc.OpenDM(ctx, plain, first); err != nil || created {
				t.Errorf("reopening a DM at the bound: %v %v", created, err)
			}
			// late opens one to plain: late's count is checked, not plain's.
			d, created, err := w.svc.OpenDM(ctx, late, plain)
			if err != nil || !created {
				t.Fatalf("a DM opened to an account at the bound: %v %v", created, err)
			}
			dms, err := w.svc.DMs(ctx, plain)
			if err != nil || len(dms) != community.MaxDMChannels {
				t.Fatalf("DM list: %d %v, want %d", len(dms), err, community.MaxDMChannels)
			}
			if dms[0].ID != d.ID {
				t.Errorf("DM list starts with %s, want the newest %s", dms[0].ID, d.ID)
			}
		})
	}
}

// TestOverridesBounded: a channel holds MaxOverrides permission overrides;
// a new target past it is refused, replacing one already there still
// works, and removing one makes room.
func TestOverridesBounded(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			w := newWorld(t, db)
			ctx := context.Background()
			owner := w.acct["owner"]
			newRole := func(i int) string {
				r, err := w.svc.CreateRole(ctx, owner, w.c.ID, community.RoleInput{Name: ptr(fmt.Sprint("o", i))})
				if err != nil {
					t.Fatalf("role %d: %v", i, err)
				}
				return r.ID
			}
			have, err := db.Community().Overrides(ctx, w.channel)
			if err != nil {
				t.Fatal(err)
			}
			var first *community.Override
			for i := len(have); i < community.MaxOverrides; i++ {
				id := newRole(i)
				o, err := w.svc.SetOverride(ctx, owner, w.channel, &community.Override{RoleID: &id, Allow: community.PermSendMessages})
				if err != nil {
					t.Fatalf("override %d: %v", i, err)
				}
				if first == nil {
					first = o
				}
			}
			late := newRole(-1)
			if _, err := w.svc.SetOverride(ctx, owner, w.channel, &community.Override{RoleID: &late}); !errors.Is(err, community.ErrTooManyOverrides) {
				t.Fatalf("override past the bound: %v", err)
			}
			if _, err := w.svc.SetOverride(ctx, owner, w.channel, &community.Override{RoleID: first.RoleID, Deny: community.PermSendMessages}); err != nil {
				t.Errorf("replacing an override at the bound: %v", err)
			}
			if err := w.svc.DeleteOverride(ctx, owner, w.channel, first.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := w.svc.SetOverride(ctx, owner, w.channel, &community.Override{RoleID: &late}); err != nil {
				t.Errorf("an override once one was removed: %v", err)
			}
		})
	}
}
