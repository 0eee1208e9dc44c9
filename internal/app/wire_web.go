package app

import (
	"context"
	"net/http"

	"github.com/hearth-community/hearth/internal/surface/web"
)

// wireWeb serves the embedded web app: the catch-all "GET /" (every GET no
// API claims falls back to index.html), the admin UI under /admin/ (behind
// Owncast's Basic auth) and Owncast's embed paths. ServeMux picks the most
// specific pattern, so the API routes win whatever the wiring order.
func (a *App) wireWeb(ctx context.Context) error {
	s, err := web.New(web.Deps{Log: a.Log.With("component", "web"), AdminAuth: a.isAdminBasic})
	if err != nil {
		return err
	}
	s.Register(a.HTTP)
	return nil
}

// isAdminBasic accepts what Owncast's admin API accepts (identity's one
// rule for admin Basic credentials).
func (a *App) isAdminBasic(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	_, err := a.Identity.CheckAdminBasic(r.Context(), user, pass)
	return err == nil
}
