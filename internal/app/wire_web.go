package app

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/surface/web"
)

// wireWeb serves the embedded web app: the catch-all "GET /" (every GET no
// API claims falls back to index.html), the admin UI under /admin/ (behind
// Owncast's Basic auth) and Owncast's embed paths. ServeMux picks the most
// specific pattern, so the API routes win whatever the wiring order.
func (a *App) wireWeb(ctx context.Context) error {
	d := web.Deps{Log: a.Log.With("component", "web"), AdminAuth: a.isAdminBasic}
	if dir := a.Config.WebDir; dir != "" {
		// os.Root keeps every file lookup inside the directory, symlinks
		// included.
		root, err := os.OpenRoot(dir)
		if err != nil {
			return fmt.Errorf("--web-dir %s: %w", dir, err)
		}
		a.closers = append(a.closers, root.Close)
		d.Files, d.Custom = root.FS(), true
	}
	s, err := web.New(d)
	if err != nil {
		return err
	}
	s.Register(a.HTTP)
	return nil
}

// isAdminBasic accepts what Owncast's admin API accepts (identity's one
// rule for admin Basic credentials, under its sign-in limits).
func (a *App) isAdminBasic(r *http.Request) error {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return fault.New(fault.Unauthorized, "Basic credentials required")
	}
	_, err := a.Identity.CheckAdminBasic(r.Context(), user, pass, ratelimit.ClientIP(r, a.Config.TrustProxy))
	return err
}
