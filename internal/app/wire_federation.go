package app

import (
	"context"
	"log/slog"
	"net/netip"
	"net/url"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/directory"
	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// newFederation builds the fediverse service over the stage settings; its
// deliveries are a kind on the node's one webhook engine (wireWebhooks),
// sent through federation's own egress client.
// onEngagement is called with each inbound engagement (the surface sets
// its webhook half once it exists).
func newFederation(a *App, chat *stagechat.Service, log *slog.Logger, onEngagement func(context.Context, federation.Engagement)) (*federation.Service, error) {
	ecfg := egress.Config{Timeout: 15 * time.Second, MaxBodyBytes: 1 << 20}
	if a.Config.FederationTestLoopback {
		// Tests: instances on one machine federate over loopback.
		ecfg.AllowAddr = func(ap netip.AddrPort) bool { return ap.Addr().IsLoopback() }
	}
	out, err := egress.New(ecfg)
	if err != nil {
		return nil, err
	}
	cfg := federation.Config{Settings: chat.FederationSettings, Version: "hearth", OnEngagement: onEngagement,
		InsecureHTTP: a.Config.FederationTestLoopback}
	if a.Community != nil && a.Live != nil {
		// Each public stage channel is its own actor (its stage has its
		// id). Public: its community is one anyone may join (public, no
		// invite needed), where a member with no role sees every channel
		// (an override hides a channel only from the roles and members it
		// names). A private community's stage channel is no actor: its
		// name and stream titles are not published, and it has no
		// followers outside.
		cfg.StageChannel = func(ctx context.Context, id string) (federation.StageChannelInfo, bool) {
			ch, err := a.Community.Store().Channel(ctx, id)
			if err != nil || ch.Kind != community.KindStage {
				return federation.StageChannelInfo{}, false
			}
			c, err := a.Community.Store().Community(ctx, ch.CommunityID)
			public := err == nil && c.OpenToAll()
			info := federation.StageChannelInfo{Name: ch.Name, Public: public,
				Page: "/c/" + url.PathEscape(ch.CommunityID) + "/" + url.PathEscape(ch.ID)}
			// Its stream: Owncast's /hls/ when it is bound to the default
			// stage; its own stage's stable address for anyone
			// (/stages/{id}/stream.m3u8, which plays while the channel is
			// open to all). A private channel names none.
			if stage, err := a.Live.StageForChannel(ctx, ch.ID); err == nil && public {
				if stage == a.Live.DefaultStageID() {
					info.HLS = "/hls/stream.m3u8"
				} else {
					info.HLS = "/stages/" + url.PathEscape(ch.ID) + "/stream.m3u8"
				}
			}
			return info, true
		}
	}
	fed, err := federation.New(cfg, a.DB.Federation(), a.webhookEngine, out, log)
	if err != nil {
		return nil, err
	}
	a.Federation = fed
	return fed, nil
}

// newDirectory builds the Owncast directory pinger (config/directoryenabled)
// and adds it to the runners; one node pings per round. An empty
// --directory-url means none.
func newDirectory(a *App, chat *stagechat.Service, log *slog.Logger) (*directory.Service, error) {
	if a.Config.DirectoryURL == "" {
		return nil, nil // no directory: config/directoryenabled is refused
	}
	out, err := egress.New(egress.Config{Timeout: 15 * time.Second, MaxBodyBytes: 64 << 10})
	if err != nil {
		return nil, err
	}
	d, err := directory.New(directory.Config{URL: a.Config.DirectoryURL, Settings: chat.DirectorySettings, Claim: chat.ClaimOnce},
		a.DB.StageChat(), out, log)
	if err != nil {
		return nil, err
	}
	a.runners = append(a.runners, d.Run)
	return d, nil
}
