package httpserver

import (
	"net/http"
	"sync"
)

// A few paths belong to more than one surface (DESIGN.md §1 "Paths"): /ws is
// Together's gateway with ?token= and Owncast's chat with ?accessToken=;
// /api/status is OTT's and Owncast's; /api/admin/* is Together's with a
// Bearer token and Owncast's with Basic auth. Each surface registers its
// handler for such a pattern with the predicate that recognises its
// requests; the first matching candidate (in registration order) serves, and
// a candidate with a nil predicate is the fallback.

type candidate struct {
	match func(*http.Request) bool
	h     http.Handler
	owner bool // serves what nothing matched when there is no fallback
}

type shared struct {
	mu    sync.RWMutex
	cands []candidate
}

func (d *shared) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.RLock()
	cands := d.cands
	d.mu.RUnlock()
	var fallback, owner http.Handler
	for _, c := range cands {
		if c.match == nil {
			if fallback == nil {
				fallback = c.h
			}
			continue
		}
		if c.owner && owner == nil {
			owner = c.h
		}
		if c.match(r) {
			c.h.ServeHTTP(w, r)
			return
		}
	}
	if fallback != nil {
		fallback.ServeHTTP(w, r)
		return
	}
	if owner != nil {
		owner.ServeHTTP(w, r)
		return
	}
	http.NotFound(w, r)
}

// HandleWhen registers h for pattern, serving only requests for which match
// returns true (nil match: the fallback). Several surfaces may register the
// same pattern this way; see docs/compatibility.md for each shared path.
func (s *Server) HandleWhen(pattern string, match func(*http.Request) bool, h http.Handler) {
	s.handleWhen(pattern, candidate{match: match, h: h})
}

// HandleOwned is HandleWhen for a path whose surface also answers the
// requests match refuses when no other surface registered a fallback for
// the pattern: Together's instance-admin routes take Bearer requests under
// /api/admin/, and where Owncast has no route of the same pattern a
// request without one gets Together's 401, not a bare 404.
func (s *Server) HandleOwned(pattern string, match func(*http.Request) bool, h http.Handler) {
	s.handleWhen(pattern, candidate{match: match, h: h, owner: true})
}

func (s *Server) handleWhen(pattern string, c candidate) {
	s.mu.Lock()
	if s.shared == nil {
		s.shared = map[string]*shared{}
	}
	d, ok := s.shared[pattern]
	if !ok {
		d = &shared{}
		s.shared[pattern] = d
	}
	s.mu.Unlock()
	d.mu.Lock()
	d.cands = append(d.cands, c)
	d.mu.Unlock()
	if !ok {
		s.mux.Handle(pattern, d)
	}
}
