package community_test

import (
	"context"
	"testing"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestPositionsBounded: a channel or role position past MaxPosition is a
// bad request on every engine (it was a 500 on PostgreSQL, whose column is
// 32-bit), and a channel created after one at MaxPosition still fits.
func TestPositionsBounded(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, eng.Open(t))
			ctx := context.Background()
			owner := w.acct["owner"]
			for _, p := range []int{-1, community.MaxPosition + 1, 3_000_000_000} {
				if _, err := w.svc.UpdateChannel(ctx, owner, w.c.ID, w.channel, community.ChannelInput{Position: &p}); fault.KindOf(err) != fault.Invalid {
					t.Errorf("channel position %d: %v, want invalid", p, err)
				}
				if _, err := w.svc.CreateRole(ctx, owner, w.c.ID, community.RoleInput{Name: ptr("r"), Position: &p}); fault.KindOf(err) != fault.Invalid {
					t.Errorf("role position %d: %v, want invalid", p, err)
				}
			}
			top := community.MaxPosition
			if _, err := w.svc.UpdateChannel(ctx, owner, w.c.ID, w.channel, community.ChannelInput{Position: &top}); err != nil {
				t.Fatal(err)
			}
			ch, err := w.svc.CreateChannel(ctx, owner, w.c.ID, community.ChannelInput{Name: ptr("next"), Kind: community.KindText})
			if err != nil || ch.Position != top+1 {
				t.Fatalf("the channel after the top one: %+v %v", ch, err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
