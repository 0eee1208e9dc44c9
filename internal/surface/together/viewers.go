package together

import (
	"context"
	"time"

	"github.com/hearth-community/hearth/internal/community"
)

// viewerTTL bounds how long a cached permission set is trusted; any event
// of the community (joins, leaves, roles, overrides) drops it at once on
// every node, the TTL only covers a lost event.
const viewerTTL = 30 * time.Second

type viewerEntry struct {
	communityID string
	perms       map[string]int64
	expires     time.Time
}

// viewers returns every member's bits in a channel, cached per channel so a
// busy channel's fan-out costs no queries.
func (s *Surface) viewers(ctx context.Context, channelID string) (map[string]int64, error) {
	now := time.Now()
	s.vmu.Lock()
	e := s.vcache[channelID]
	gen := s.vgen
	s.vmu.Unlock()
	if e != nil && now.Before(e.expires) {
		return e.perms, nil
	}
	ch, perms, err := s.d.Community.ChannelViewers(ctx, channelID)
	if err != nil {
		return nil, err
	}
	s.vmu.Lock()
	// A community event seen while we read may have made the result stale:
	// use it for this event, but do not cache it.
	if s.vgen == gen {
		if len(s.vcache) > 10000 {
			clear(s.vcache)
		}
		s.vcache[channelID] = &viewerEntry{communityID: ch.CommunityID, perms: perms, expires: now.Add(viewerTTL)}
	}
	s.vmu.Unlock()
	return perms, nil
}

// forgetCommunity drops the cached permissions of a community's channels.
func (s *Surface) forgetCommunity(communityID string) {
	s.vmu.Lock()
	defer s.vmu.Unlock()
	s.vgen++
	s.mgen++
	delete(s.mcache, communityID)
	delete(s.ccache, communityID)
	for id, e := range s.vcache {
		if e.communityID == communityID {
			delete(s.vcache, id)
		}
	}
}

// canView reports whether accountID may view the channel per the cache.
func canView(perms map[string]int64, accountID string) bool {
	return community.CanView(perms[accountID])
}
