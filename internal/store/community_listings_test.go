package store_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestCommunityListingsOf: CommunityListingsOf gives CommunitiesOf's
// communities in its order, each with what a lookup per community gives
// (HeldRoles' roles and held ids, Channels, OverridesOfCommunity), on every
// engine, for 12 communities of varied sizes (none, some or many roles,
// channels and overrides; roles of equal position; channels of equal
// position), one of them the account's own; others' communities never show,
// and an account in none gets none. Service.CommunityListings keeps the
// channels Service.Channels answers for each community.
func TestCommunityListingsOf(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			st := db.Community()
			svc := newCommunityService(t, db)
			owner, ann, other, lone := newAccount(t, db, "owner"), newAccount(t, db, "ann"), newAccount(t, db, "other"),
				newAccount(t, db, "lone")
			start := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
			tick := 0
			at := func() time.Time { tick++; return start.Add(time.Duration(tick) * time.Millisecond) }

			mk := func(by, name string, members ...string) string {
				t.Helper()
				when := at()
				c := &community.Community{ID: identity.NewID(), Name: name, OwnerID: by, CreatedAt: when, UpdatedAt: when}
				if err := st.CreateCommunity(ctx, c, nil, community.MaxServersJoined); err != nil {
					t.Fatal(err)
				}
				for _, m := range members {
					if err := st.AddMember(ctx, c.ID, m, at(), community.MaxServersJoined, ""); err != nil {
						t.Fatal(err)
					}
				}
				return c.ID
			}
			var ofAnn []string
			for i := range 12 {
				by := owner
				if i == 4 {
					by = ann
				}
				members := []string{ann, other}
				if by == ann {
					members = []string{other}
				}
				cid := mk(by, fmt.Sprint("c", i), members...)
				ofAnn = append(ofAnn, cid)
				var roles, chans []string
				for j := range i % 5 {
					r := &community.Role{ID: identity.NewID(), CommunityID: cid, Name: fmt.Sprint("r", j),
						Permissions: int64(j) * community.PermManageMessages, Position: j % 2, CreatedAt: at()}
					if err := st.CreateRole(ctx, r, community.MaxRoles); err != nil {
						t.Fatal(err)
					}
					roles = append(roles, r.ID)
					if j%2 == 0 {
						if err := st.AddMemberRole(ctx, cid, ann, r.ID); err != nil {
							t.Fatal(err)
						}
					}
				}
				for j := range i % 4 * 2 {
					ch := &community.Channel{ID: identity.NewID(), CommunityID: cid, Name: fmt.Sprint("ch", j),
						Kind: []string{community.KindText, community.KindVoice}[j%2], Position: j / 3, CreatedAt: at()}
					if err := st.CreateChannel(ctx, ch, community.MaxChannels); err != nil {
						t.Fatal(err)
					}
					chans = append(chans, ch.ID)
				}
				for j, chID := range chans {
					o := &community.Override{ID: identity.NewID(), ChannelID: chID, AccountID: &ann, Deny: community.PermViewChannel}
					if j%3 == 1 {
						o.AccountID = &other
					}
					if j%3 == 2 && len(roles) > 0 {
						o.AccountID, o.RoleID = nil, &roles[0]
					}
					if _, err := st.UpsertOverride(ctx, o, community.MaxOverrides); err != nil {
						t.Fatal(err)
					}
				}
			}
			theirs := mk(owner, "not ann's", other)
			if err := st.CreateChannel(ctx, &community.Channel{ID: identity.NewID(), CommunityID: theirs, Name: "x",
				Kind: community.KindText, CreatedAt: at()}, community.MaxChannels); err != nil {
				t.Fatal(err)
			}

			// What a lookup per community gives.
			want := func(of string) []*community.CommunityListing {
				t.Helper()
				cs, err := st.CommunitiesOf(ctx, of)
				if err != nil {
					t.Fatal(err)
				}
				out := []*community.CommunityListing{}
				for _, c := range cs {
					l := &community.CommunityListing{Community: c}
					if l.Roles, l.RoleIDs, err = st.HeldRoles(ctx, c.ID, of); err != nil {
						t.Fatal(err)
					}
					if l.Channels, err = st.Channels(ctx, c.ID); err != nil {
						t.Fatal(err)
					}
					if l.Overrides, err = st.OverridesOfCommunity(ctx, c.ID); err != nil {
						t.Fatal(err)
					}
					out = append(out, l)
				}
				return out
			}
			for _, c := range []struct {
				name string
				of   string
				n    int
			}{
				{"ann's", ann, 12},
				{"other's", other, 13},
				{"an account in none", lone, 0},
			} {
				got, err := st.CommunityListingsOf(ctx, c.of)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				w := want(c.of)
				if len(got) != c.n || !reflect.DeepEqual(got, w) {
					t.Errorf("%s: %d listings (want %d), not what a lookup per community gives", c.name, len(got), c.n)
					for i := range max(len(got), len(w)) {
						var g, x any
						if i < len(got) {
							g = *got[i]
						}
						if i < len(w) {
							x = *w[i]
						}
						if !reflect.DeepEqual(g, x) {
							t.Errorf("  %d: got  %+v\n     want %+v", i, g, x)
						}
					}
				}
			}
			got, err := st.CommunityListingsOf(ctx, ann)
			if err != nil {
				t.Fatal(err)
			}
			for i, l := range got {
				if l.Community.ID != ofAnn[i] {
					t.Errorf("listing %d is %s, want %s (join order)", i, l.Community.ID, ofAnn[i])
				}
			}

			// The service keeps the channels ann may view, as Channels does
			// for each community.
			ls, err := svc.CommunityListings(ctx, ann)
			if err != nil || len(ls) != 12 {
				t.Fatal(len(ls), err)
			}
			hidden := 0
			for _, l := range ls {
				chans, err := svc.Channels(ctx, ann, l.Community.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(l.Channels, chans) {
					t.Errorf("%s: the listing's channels %v, Channels answers %v", l.Community.Name, l.Channels, chans)
				}
				all, err := st.Channels(ctx, l.Community.ID)
				if err != nil {
					t.Fatal(err)
				}
				hidden += len(all) - len(chans)
			}
			if hidden == 0 {
				t.Error("no channel hidden from ann: the case is not tested")
			}
		})
	}
}
