package together

import (
	"net/http"
	"time"
)

// A large community's member list (GET /servers/:id/members) costs a query
// over every member with their profile: 3.5 ms for 500 members, a quarter
// of the server's CPU under Together's k6 mix. Lists of memberCacheMin or
// more members are therefore kept, encoded, for up to memberCacheTTL. Any
// community event (joins, leaves, roles, nicknames — on any node, through
// the bus) drops that community's list, a presence or profile change drops
// the lists of the account's communities, and a rename drops them all; the TTL bounds what an event lost on the bus could leave
// stale. Smaller lists are cheap and always read fresh.
const (
	memberCacheMin = 100
	memberCacheTTL = time.Second
)

type memberEntry struct {
	body    []byte
	expires time.Time
}

// memberGen is read before building a list: a list built while an event
// arrived is served but not cached.
func (s *Surface) memberGen() uint64 {
	s.vmu.Lock()
	defer s.vmu.Unlock()
	return s.mgen
}

func (s *Surface) cachedMembers(communityID string) []byte {
	s.vmu.Lock()
	defer s.vmu.Unlock()
	if e := s.mcache[communityID]; e != nil && time.Now().Before(e.expires) {
		return e.body
	}
	return nil
}

func (s *Surface) cacheMembers(communityID string, gen uint64, body []byte) {
	s.vmu.Lock()
	defer s.vmu.Unlock()
	if s.mgen != gen {
		return
	}
	if len(s.mcache) > 1000 {
		clear(s.mcache)
	}
	s.mcache[communityID] = &memberEntry{body: body, expires: time.Now().Add(memberCacheTTL)}
}

// forgetMembers drops every cached member list (a rename may show in any
// of them).
func (s *Surface) forgetMembers() {
	s.vmu.Lock()
	defer s.vmu.Unlock()
	s.mgen++
	clear(s.mcache)
}

func writeRawJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
