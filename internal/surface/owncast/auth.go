package owncast

import (
	"net/http"

	"github.com/hearth-community/hearth/internal/httpserver"
)

// registerAuth adds Owncast's IndieAuth chat sign-in routes (fediverse
// sign-in is in federation.go).
func (s *Surface) registerAuth(h *httpserver.Server) {
	if s.d.IndieAuth == nil {
		return
	}
	h.Handle("POST /api/auth/indieauth", s.wrap(s.requireChatUser(s.handleIndieAuthStart)))
	h.Handle("GET /api/auth/indieauth/callback", s.wrap(s.handleIndieAuthCallback))
}

// handleIndieAuthStart is POST /api/auth/indieauth?accessToken=…
// {authHost}: {redirect} is the authorization URL to send the browser to.
func (s *Surface) handleIndieAuthStart(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AuthHost string `json:"authHost"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	redirect, err := s.d.IndieAuth.Start(r.Context(), chatUser(r), r.URL.Query().Get("accessToken"), req.AuthHost)
	if err != nil {
		// Too many pending requests is Owncast's 400 {success:false,
		// message}, as its other refusals here, not 429.
		writeReportError(w, err)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"redirect": redirect})
}

// handleIndieAuthCallback is where the IndieAuth server sends the browser
// back: 307 to / when signed in, Owncast's HTML notice otherwise.
func (s *Surface) handleIndieAuthCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := s.d.IndieAuth.Callback(r.Context(), q.Get("state"), q.Get("code")); err != nil {
		s.log.Debug("indieauth callback", "err", err)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`Unable to complete authentication. <a href="/">Go back.</a><hr/>`))
		return
	}
	http.Redirect(w, r, "/", http.StatusTemporaryRedirect)
}
