package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
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

// onAccountRevoked calls f with the account of every revocation naming one
// (identity.RevokedTopic, from any node), with 10 s to act, until the app
// closes.
func (a *App) onAccountRevoked(what string, f func(ctx context.Context, accountID string)) error {
	return a.onAccountEvent(what, identity.RevokedTopic, f)
}

// onAccountDemoted calls f with every instance admin demoted on any node
// (identity.DemotedTopic), with 10 s to act, until the app closes.
func (a *App) onAccountDemoted(what string, f func(ctx context.Context, accountID string)) error {
	return a.onAccountEvent(what, identity.DemotedTopic, f)
}

// onAccountEvent subscribes f to an identity topic whose payload names the
// account in "account_id" (identity.Revoked, identity.Demoted); payloads
// naming none are skipped.
func (a *App) onAccountEvent(what, topic string, f func(ctx context.Context, accountID string)) error {
	sub, err := a.Bus.Subscribe(topic, func(m bus.Message) {
		var e struct {
			AccountID string `json:"account_id"`
		}
		if json.Unmarshal(m.Data, &e) != nil || e.AccountID == "" {
			return
		}
		ctx, cancel := context.WithTimeout(a.lifeCtx(), 10*time.Second)
		defer cancel()
		f(ctx, e.AccountID)
	})
	if err != nil {
		return fmt.Errorf("%s: subscribe %s: %w", what, topic, err)
	}
	a.closers = append(a.closers, sub.Unsubscribe)
	return nil
}
