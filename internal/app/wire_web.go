package app

import (
	"context"
	"fmt"
	"os"

	"github.com/hearth-community/hearth/internal/surface/web"
)

// wireWeb serves the embedded web app: the catch-all "GET /" (every GET no
// API claims falls back to index.html), the admin UI under /admin/ (behind
// Owncast's Basic auth) and Owncast's embed paths. ServeMux picks the most
// specific pattern, so the API routes win whatever the wiring order.
func (a *App) wireWeb(ctx context.Context) error {
	d := web.Deps{Log: a.Log.With("component", "web"), Admins: a.Identity, TrustProxy: a.Config.TrustProxy}
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
