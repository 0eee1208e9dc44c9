package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// BenchmarkChannelAccess measures the permission check every channel
// request makes (ChannelAccess) and the community read behind the server
// list, in a community of 10 and of 1,000 members, on every engine: what a
// request costs should not grow with the community.
func BenchmarkChannelAccess(b *testing.B) {
	for _, eng := range storetest.Engines() {
		for _, n := range []int{10, 1000} {
			db := eng.Open(b)
			ctx := context.Background()
			svc := newCommunityService(b, db)
			owner := newAccount(b, db, "owner")
			c, err := svc.Create(ctx, owner, community.CreateInput{Name: "Bench", IsPublic: true,
				Channels: []*community.Channel{{Name: "general", Kind: community.KindText}}})
			if err != nil {
				b.Fatal(err)
			}
			member := owner
			for i := 1; i < n; i++ {
				member = newAccount(b, db, fmt.Sprintf("m%d", i))
				if _, err := svc.Join(ctx, member, c.ID); err != nil {
					b.Fatal(err)
				}
			}
			chans, err := db.Community().Channels(ctx, c.ID)
			if err != nil || len(chans) == 0 {
				b.Fatal(chans, err)
			}
			b.Run(fmt.Sprintf("%s/members=%d/channel", eng.Name, n), func(b *testing.B) {
				for b.Loop() {
					if ca, err := svc.ChannelAccess(ctx, member, chans[0].ID); err != nil || ca.Community.MemberCount != n {
						b.Fatal(ca, err)
					}
				}
			})
			b.Run(fmt.Sprintf("%s/members=%d/servers", eng.Name, n), func(b *testing.B) {
				for b.Loop() {
					if cs, err := db.Community().CommunitiesOf(ctx, member); err != nil || len(cs) != 1 || cs[0].MemberCount != n {
						b.Fatal(cs, err)
					}
				}
			})
		}
	}
}

// BenchmarkDMListings reads the list of an account in
// community.MaxDMChannels (1,000) DM channels with every recipient, on every
// engine, two ways: "lookups" as the Together surface did until DMListingsOf
// (the channels, then each recipient's account and profile: 2,001 queries),
// "joined" with DMListingsOf (one query).
func BenchmarkDMListings(b *testing.B) {
	for _, eng := range storetest.Engines() {
		db := eng.Open(b)
		ctx := context.Background()
		svc := newCommunityService(b, db)
		owner := newAccount(b, db, "owner")
		start := time.Now().UTC().Add(-time.Hour)
		for i := range community.MaxDMChannels {
			peer := newAccount(b, db, fmt.Sprintf("p%d", i))
			m := [2]string{owner, peer}
			if m[1] < m[0] {
				m[0], m[1] = m[1], m[0]
			}
			if err := db.Community().CreateDMChannel(ctx, &community.DMChannel{ID: identity.NewID(), Members: m,
				CreatedAt: start.Add(time.Duration(i) * time.Millisecond)}, owner, community.MaxDMChannels); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(eng.Name+"/lookups", func(b *testing.B) {
			for b.Loop() {
				ds, err := svc.DMs(ctx, owner)
				if err != nil || len(ds) != community.MaxDMChannels {
					b.Fatal(len(ds), err)
				}
				for _, d := range ds {
					if _, err := db.Identity().AccountByID(ctx, d.Other(owner)); err != nil {
						b.Fatal(err)
					}
					if _, err := svc.Profile(ctx, d.Other(owner)); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run(eng.Name+"/joined", func(b *testing.B) {
			for b.Loop() {
				if ls, err := svc.DMListings(ctx, owner); err != nil || len(ls) != community.MaxDMChannels {
					b.Fatal(len(ls), err)
				}
			}
		})
	}
}

// BenchmarkCommunityListings reads, on every engine, what READY needs of
// an account's community.MaxServersJoined (200) communities, each with five
// channels, three roles (the account holds one) and two overrides (one
// hiding a channel from the account), two ways: "lookups" as the Together
// surface did until CommunityListings (per community: the roles, the
// overrides, and Channels: the standing, the channels and the overrides
// again, six queries), "joined" with CommunityListings (four queries).
func BenchmarkCommunityListings(b *testing.B) {
	for _, eng := range storetest.Engines() {
		db := eng.Open(b)
		ctx := context.Background()
		st := db.Community()
		svc := newCommunityService(b, db)
		owner, member := newAccount(b, db, "owner"), newAccount(b, db, "member")
		start := time.Now().UTC().Add(-time.Hour)
		for i := range community.MaxServersJoined {
			at := start.Add(time.Duration(i) * time.Millisecond)
			c := &community.Community{ID: identity.NewID(), Name: fmt.Sprint("c", i), OwnerID: owner, CreatedAt: at, UpdatedAt: at}
			var chans []*community.Channel
			for j, kind := range []string{community.KindText, community.KindText, community.KindText, community.KindVoice, community.KindVoice} {
				chans = append(chans, &community.Channel{ID: identity.NewID(), CommunityID: c.ID, Name: fmt.Sprint("ch", j),
					Kind: kind, Position: j, CreatedAt: at})
			}
			if err := st.CreateCommunity(ctx, c, chans, community.MaxServersJoined); err != nil {
				b.Fatal(err)
			}
			if err := st.AddMember(ctx, c.ID, member, at, community.MaxServersJoined, ""); err != nil {
				b.Fatal(err)
			}
			var held string
			for j := range 3 {
				r := &community.Role{ID: identity.NewID(), CommunityID: c.ID, Name: fmt.Sprint("r", j), Position: j + 1, CreatedAt: at}
				if err := st.CreateRole(ctx, r, community.MaxRoles); err != nil {
					b.Fatal(err)
				}
				if j == 0 {
					held = r.ID
				}
			}
			if err := st.AddMemberRole(ctx, c.ID, member, held); err != nil {
				b.Fatal(err)
			}
			for _, o := range []*community.Override{
				{ID: identity.NewID(), ChannelID: chans[0].ID, RoleID: &held, Allow: community.PermSendMessages},
				{ID: identity.NewID(), ChannelID: chans[0].ID, AccountID: &member, Deny: community.PermViewChannel},
			} {
				if _, err := st.UpsertOverride(ctx, o, community.MaxOverrides); err != nil {
					b.Fatal(err)
				}
			}
		}
		const visible = community.MaxServersJoined * 4
		b.Run(eng.Name+"/lookups", func(b *testing.B) {
			for b.Loop() {
				cs, err := st.CommunitiesOf(ctx, member)
				if err != nil || len(cs) != community.MaxServersJoined {
					b.Fatal(len(cs), err)
				}
				n := 0
				for _, c := range cs {
					if _, err := st.Roles(ctx, c.ID); err != nil {
						b.Fatal(err)
					}
					if _, err := st.OverridesOfCommunity(ctx, c.ID); err != nil {
						b.Fatal(err)
					}
					chans, err := svc.Channels(ctx, member, c.ID)
					if err != nil {
						b.Fatal(err)
					}
					n += len(chans)
				}
				if n != visible {
					b.Fatal(n)
				}
			}
		})
		b.Run(eng.Name+"/joined", func(b *testing.B) {
			for b.Loop() {
				ls, err := svc.CommunityListings(ctx, member)
				if err != nil || len(ls) != community.MaxServersJoined {
					b.Fatal(len(ls), err)
				}
				n := 0
				for _, l := range ls {
					n += len(l.Channels)
				}
				if n != visible {
					b.Fatal(n)
				}
			}
		})
	}
}
