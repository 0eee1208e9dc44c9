package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/community"
)

// onCommunityEvents calls f with every community event (not DM events) this
// node receives, from any node, until the app closes.
func (a *App) onCommunityEvents(what string, f func(context.Context, *community.Event)) error {
	sub, err := a.Bus.Subscribe("community.>", func(m bus.Message) {
		if strings.HasPrefix(m.Topic, "community.dm.") {
			return
		}
		var e community.Event
		if json.Unmarshal(m.Data, &e) != nil {
			return
		}
		f(a.lifeCtx(), &e)
	})
	if err != nil {
		return fmt.Errorf("%s: subscribe: %w", what, err)
	}
	a.closers = append(a.closers, sub.Unsubscribe)
	return nil
}
