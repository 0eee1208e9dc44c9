package app

import "context"

// wireTogether builds the together part of the node and registers its routes on a.HTTP.
// Owned by the together issue; kept in its own file so surfaces are wired apart.
func (a *App) wireTogether(ctx context.Context) error {
	return nil
}
