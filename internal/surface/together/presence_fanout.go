package together

import (
	"context"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/gateway"
)

// A PRESENCE_UPDATE goes to everyone who shares a community with the
// account. The bus carries it once, naming the account (dispatch.Of), not
// the recipients: a list of every co-member made each update's bus message
// grow with the community, so a sign-in storm of N members cost N² ids on
// the bus and in every node's backlog. Each node works out its own local
// recipients: the account's communities (one small query) and each
// community's member ids, cached per community until a community event
// (joins, leaves, kicks, bans — through the bus, on every node) drops them
// or comemberTTL passes.
const comemberTTL = 30 * time.Second

type comemberEntry struct {
	ids     []string
	expires time.Time
}

// communityMemberIDs returns a community's member ids, cached.
func (s *Surface) communityMemberIDs(ctx context.Context, communityID string) ([]string, error) {
	now := time.Now()
	s.vmu.Lock()
	e := s.ccache[communityID]
	gen := s.vgen
	s.vmu.Unlock()
	if e != nil && now.Before(e.expires) {
		return e.ids, nil
	}
	ms, err := s.d.Community.Store().Members(ctx, communityID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.AccountID
	}
	s.vmu.Lock()
	if s.vgen == gen { // no community event while we read: safe to keep
		if len(s.ccache) > 10000 {
			clear(s.ccache)
		}
		s.ccache[communityID] = &comemberEntry{ids: ids, expires: now.Add(comemberTTL)}
	}
	s.vmu.Unlock()
	return ids, nil
}

// sendToCoMembers delivers msg to the local connections of every account
// sharing a community with accountID (the account itself included), or of
// the account alone when it is in none — who the co-member list named
// before. It also drops the cached member lists of those communities only:
// the account's status shows in them and in no other.
func (s *Surface) sendToCoMembers(ctx context.Context, accountID string, msg []byte) {
	if msg == nil && !s.hasMemberLists() {
		return // no socket and no cached list here (a list being built is not cached)
	}
	comms, err := s.d.Community.Store().CommunitiesOf(ctx, accountID)
	if err != nil {
		return
	}
	s.forgetMemberLists(comms)
	if msg == nil || !s.hasClients() {
		return
	}
	if len(comms) == 0 {
		s.sendTo(msg, func(id string) bool { return id == accountID })
		return
	}
	lists := make([][]string, 0, len(comms))
	for _, c := range comms {
		ids, err := s.communityMemberIDs(ctx, c.ID)
		if err != nil {
			return
		}
		lists = append(lists, ids)
	}
	s.sendToLists(msg, lists)
}

// sendToLists delivers msg once to every local connection of the accounts
// named in lists (an account in several lists gets it once).
func (s *Surface) sendToLists(msg []byte, lists [][]string) {
	var seen map[string]struct{}
	if len(lists) > 1 {
		seen = map[string]struct{}{}
	}
	s.sendCollected(msg, func(conns []*gateway.Conn) []*gateway.Conn {
		for _, ids := range lists {
			for _, id := range ids {
				set := s.clients[id]
				if len(set) == 0 {
					continue
				}
				if seen != nil {
					if _, ok := seen[id]; ok {
						continue
					}
					seen[id] = struct{}{}
				}
				conns = appendReady(conns, set)
			}
		}
		return conns
	})
}

// forgetMemberLists drops the cached member lists of the given communities.
func (s *Surface) forgetMemberLists(comms []*community.Community) {
	if len(comms) == 0 {
		return
	}
	s.vmu.Lock()
	defer s.vmu.Unlock()
	s.mgen++
	for _, c := range comms {
		delete(s.mcache, c.ID)
	}
}

// hasMemberLists reports whether any member list is cached; when none is,
// it still bumps the generation, so a list being built now is not cached
// with the status from before this update.
func (s *Surface) hasMemberLists() bool {
	s.vmu.Lock()
	defer s.vmu.Unlock()
	if len(s.mcache) == 0 {
		s.mgen++
		return false
	}
	return true
}
