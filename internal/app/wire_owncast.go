package app

import (
	"context"

	"github.com/hearth-community/hearth/internal/surface/owncast"
)

// wireOwncast builds Owncast's surface and registers its routes on a.HTTP.
func (a *App) wireOwncast(ctx context.Context) error {
	s, err := owncast.New(owncast.Deps{Log: a.Log, Identity: a.Identity})
	if err != nil {
		return err
	}
	s.Register(a.HTTP)
	return nil
}
