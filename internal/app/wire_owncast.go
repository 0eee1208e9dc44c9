package app

import "context"

// wireOwncast builds the owncast part of the node and registers its routes on a.HTTP.
// Owned by the owncast issue; kept in its own file so surfaces are wired apart.
func (a *App) wireOwncast(ctx context.Context) error {
	return nil
}
