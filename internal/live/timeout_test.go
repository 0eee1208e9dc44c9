package live_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/live"
)

// heldStages is fakeStages with broadcasts streamed with held keys.
type heldStages struct {
	*fakeStages
	held  []live.HeldBroadcast
	ended []string // holders whose broadcast was ended
}

func (h *heldStages) HeldBroadcasts() []live.HeldBroadcast {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.held)
}

func (h *heldStages) EndHeldBroadcast(stageID, holder string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, b := range h.held {
		if b.StageID == stageID && b.Holder == holder {
			h.held = append(h.held[:i], h.held[i+1:]...)
			h.ended = append(h.ended, holder)
			return true
		}
	}
	return false
}

// TestStageChannelKeyHolderTimedOut: a stage channel's key let its holder
// stream while timed out in the community (speaking on the stage, which
// Discord's timeout refuses), and a timeout did not end a broadcast that
// was on. Publishing now needs no timeout besides MANAGE_CHANNELS, and the
// community's timeout event ends that holder's broadcast on this node,
// no one else's; without a timeout the holder streams again.
func TestStageChannelKeyHolderTimedOut(t *testing.T) {
	t.Parallel()
	st := &heldStages{fakeStages: newFakeStages()}
	ch := &community.Channel{ID: identity.NewID(), CommunityID: identity.NewID(), Kind: community.KindStage, Name: "Main"}
	comm := &fakeCommunity{chans: map[string]*community.Channel{ch.ID: ch}, access: map[[2]string]*community.ChannelAccess{}}
	sc, err := live.NewStageChannels(st, comm, comm, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	timed, other := identity.NewID(), identity.NewID()
	until := time.Now().Add(time.Hour)
	manager := func(account string, timeout *time.Time) *community.ChannelAccess {
		return &community.ChannelAccess{Access: &community.Access{AccountID: account, Perms: community.PermManageChannels, TimeoutUntil: timeout},
			Channel: ch, Perms: community.PermViewChannel}
	}
	comm.set(timed, manager(timed, &until))
	comm.set(other, manager(other, nil))
	if err := sc.MayPublish(ctx, ch.ID, timed); !errors.Is(err, community.ErrTimedOut) {
		t.Fatalf("a timed-out holder's publish: %v, want %v", err, community.ErrTimedOut)
	}
	if err := sc.MayPublish(ctx, ch.ID, other); err != nil {
		t.Fatalf("another manager's publish: %v", err)
	}
	st.held = []live.HeldBroadcast{{StageID: ch.ID, Holder: timed}, {StageID: ch.ID, Holder: other}}
	sc.OnCommunityEvent(ctx, &community.Event{Type: community.EvMemberTimeout, CommunityID: ch.CommunityID, AccountID: timed})
	if !slices.Equal(st.ended, []string{timed}) {
		t.Fatalf("ended the broadcasts of %v, want only the timed-out holder's", st.ended)
	}
	comm.set(timed, manager(timed, nil))
	if err := sc.MayPublish(ctx, ch.ID, timed); err != nil {
		t.Fatalf("the holder's publish once the timeout is lifted: %v", err)
	}
}
