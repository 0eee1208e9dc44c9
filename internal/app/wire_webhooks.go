package app

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// wireWebhooks builds the node's one webhook delivery engine over the
// durable queue in the database; Owncast's and Together's webhooks register
// their kinds on it (wireOwncast, wireTogether) and it runs with the node.
func (a *App) wireWebhooks(context.Context) error {
	var allow []netip.AddrPort
	for _, s := range a.Config.WebhookAllowAddrs {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return err
		}
		allow = append(allow, ap)
	}
	cfg := egress.Config{Timeout: 15 * time.Second, MaxBodyBytes: 64 << 10}
	if len(allow) > 0 {
		// The operator's exceptions hold for the operator's webhooks
		// (Owncast's, the admin's) and for communities an instance admin
		// owns; any account may make a community, whose webhooks would
		// otherwise reach the internal service the exception names, so
		// other communities' go through a client without it
		// (webhooks.Reach, communityReach).
		public, err := egress.New(cfg)
		if err != nil {
			return err
		}
		a.webhookPublic = public
		cfg.AllowAddr = func(ap netip.AddrPort) bool { return slices.Contains(allow, ap) }
	}
	out, err := egress.New(cfg)
	if err != nil {
		return err
	}
	e, err := webhooks.NewEngine(webhooks.EngineConfig{Workers: 16}, a.DB.WebhookQueue(), out, a.Log.With("component", "webhooks"))
	if err != nil {
		return err
	}
	a.webhookEngine, a.webhookClient = e, out
	a.runners = append(a.runners, e.Run)
	return nil
}

// communityReach is where communities' webhooks may connect: the engine's
// client, with the operator's --webhook-allow-addrs exceptions, for a
// community an instance admin who may act owns (InstanceAdmin); a
// client that reaches public addresses only for any other. Zero (the
// engine's client for all) when there are no exceptions.
func (a *App) communityReach() webhooks.Reach {
	if a.webhookPublic == nil {
		return webhooks.Reach{}
	}
	return webhooks.Reach{Public: a.webhookPublic, Operator: func(ctx context.Context, communityID string) (bool, error) {
		c, err := a.Community.Store().Community(ctx, communityID)
		if err != nil {
			return false, err
		}
		return enabledMembers{a}.InstanceAdmin(ctx, c.OwnerID)
	}}
}
