package app

import "context"

// wireWeb builds the web part of the node and registers its routes on a.HTTP.
// Owned by the web issue; kept in its own file so surfaces are wired apart.
func (a *App) wireWeb(ctx context.Context) error {
	return nil
}
