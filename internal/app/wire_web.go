package app

import (
	"context"

	"github.com/hearth-community/hearth/internal/surface/web"
)

// wireWeb serves the embedded web app: the catch-all "GET /" (every GET no
// API claims falls back to index.html), /admin and Owncast's embed paths.
// It is wired last, but ServeMux picks the most specific pattern, so order
// does not matter for correctness.
func (a *App) wireWeb(ctx context.Context) error {
	s, err := web.New(web.Deps{Log: a.Log.With("component", "web")})
	if err != nil {
		return err
	}
	s.Register(a.HTTP)
	return nil
}
