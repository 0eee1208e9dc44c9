package community_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestCountsBounded: a community stops at MaxChannels channels, MaxRoles
// roles and MaxFilteredWords filtered words (adding one already there
// still answers it), and an account at MaxServersJoined servers, created
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
