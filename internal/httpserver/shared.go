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
}

type shared struct {
	mu    sync.RWMutex
	cands []candidate
}

func (d *shared) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.RLock()
	cands := d.cands
	d.mu.RUnlock()
	var fallback http.Handler
	for _, c := range cands {
		if c.match == nil {
			if fallback == nil {
				fallback = c.h
			}
			continue
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
	http.NotFound(w, r)
}

// HandleWhen registers h for pattern, serving only requests for which match
// returns true (nil match: the fallback). Several surfaces may register the
// same pattern this way; see docs/compatibility.md for each shared path.
func (s *Server) HandleWhen(pattern string, match func(*http.Request) bool, h http.Handler) {
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
	d.cands = append(d.cands, candidate{match: match, h: h})
	d.mu.Unlock()
	if !ok {
		s.mux.Handle(pattern, d)
	}
}
