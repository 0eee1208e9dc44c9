package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hearth-community/hearth/internal/community"
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
