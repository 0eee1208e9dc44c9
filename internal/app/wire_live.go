package app

import "context"

// wireLive builds the live part of the node and registers its routes on a.HTTP.
// Owned by the live issue; kept in its own file so surfaces are wired apart.
func (a *App) wireLive(ctx context.Context) error {
	return nil
}
