package owncast

import (
	"net/http"

	"github.com/hearth-community/hearth/internal/httpserver"
)

// registerDirectory adds /api/admin/yp/reset: forget the Owncast
// directory's registration key (the next ping registers afresh).
func (s *Surface) registerDirectory(h *httpserver.Server) {
	if s.d.Directory == nil {
		return
	}
	s.admin(h, "POST /api/admin/yp/reset", func(w http.ResponseWriter, r *http.Request) {
		if err := s.d.Directory.Reset(r.Context()); err != nil {
			writeError(w, err)
			return
		}
		writeResult(w, http.StatusOK, true, "directory registration reset")
	})
}
