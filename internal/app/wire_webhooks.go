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
