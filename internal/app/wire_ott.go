package app

import "context"

// wireOtt builds the ott part of the node and registers its routes on a.HTTP.
// Owned by the ott issue; kept in its own file so surfaces are wired apart.
func (a *App) wireOtt(ctx context.Context) error {
	return nil
}
