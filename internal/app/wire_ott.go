package app

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/gateway"
	"github.com/hearth-community/hearth/internal/media"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/surface/ott"
	"github.com/hearth-community/hearth/internal/watch"
)

// wireOtt builds the watch-room service, video metadata, and
// OpenTogetherTube's surface (REST under /api and the room socket).
func (a *App) wireOtt(ctx context.Context) error {
	cfg := a.Config
	log := a.Log.With("component", "watch")
	fetch, err := egress.New(egress.Config{AllowPrivate: cfg.MediaAllowPrivate})
	if err != nil {
		return fmt.Errorf("ott: egress: %w", err)
	}
	// Direct files are probed from their first bytes only; the cap guards
	// a server that ignores Range (the reader stops at ProbeBytes anyway).
	probe, err := egress.New(egress.Config{AllowPrivate: cfg.MediaAllowPrivate, MaxBodyBytes: 1 << 40, Timeout: 30 * time.Second})
	if err != nil {
		return fmt.Errorf("ott: egress: %w", err)
	}
	md, err := media.New(media.Config{YouTubeAPIKey: cfg.YouTubeAPIKey, PeerTubeInstances: cfg.PeerTubeInstances},
		fetch, probe, a.DB.MediaCache(), a.Log.With("component", "media"))
	if err != nil {
		return err
	}
	a.Watch, err = watch.New(watch.Config{AllowTemp: cfg.OttTemporaryRooms, Life: a.lifeCtx()}, a.DB.Watch(), a.Bus, md, log)
	if err != nil {
		return err
	}
	if cfg.OttSponsorBlock {
		a.Watch.SetSegmentSource(md)
	}
	// Room chat is a Hearth conversation: kept in the message store (history,
	// search) besides the live broadcast to the room.
	if a.Messages != nil {
		msgs := a.Messages
		a.Watch.SetChatSink(func(ctx context.Context, batch []watch.RoomChat) {
			ins := make([]messages.PostInput, len(batch))
			for i, c := range batch {
				ins[i] = messages.PostInput{ConversationID: watch.ConversationID(c.Room), Kind: messages.KindWatch,
					AuthorID: c.Actor.AccountID, Body: c.Text}
			}
			if _, err := msgs.PostBatch(ctx, ins); err != nil {
				log.Warn("store room chat", "messages", len(batch), "err", err)
			}
		})
	}
	// Rooms run on one node each (a lease in the database); other nodes
	// proxy to it over the bus. Same code path with one node. The node's id
	// is the data directory's (as for recordings), so a node restarted after
	// a crash knows the leases it still holds as its own and loads those
	// rooms at once, instead of proxying to its dead self (each request a
	// 5 s wait and an error) until the leases expire.
	node, err := nodeID(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("ott: %w", err)
	}
	if err := a.Watch.EnableCluster(node, watchSubscriber{a.Bus}, a.DB.Watch()); err != nil {
		return err
	}
	// A deleted account stops owning the rooms loaded on every node (the
	// store has already set their rows' owner NULL).
	if err := a.onAccountRevoked("ott", a.Watch.AccountGone); err != nil {
		return err
	}
	a.runners = append(a.runners, a.Watch.Run)
	hub, err := a.NewHub(gateway.Config{PingInterval: 10 * time.Second, InsecureSkipVerify: true}, "ott")
	if err != nil {
		return err
	}
	rl := ratelimit.Config{Limit: 1000, Interval: time.Hour, Burst: 1000}
	if !cfg.OttRateLimit {
		rl = ratelimit.Config{Limit: math.MaxInt32, Interval: time.Second, Burst: math.MaxInt32}
	}
	lim, err := ratelimit.New(rl)
	if err != nil {
		return err
	}
	if cfg.OttRateLimit {
		a.limits.Share("ott.points", lim) // a cluster's nodes charge one budget per address
	}
	// Discord sign-in calls Discord through the outbound-safe client.
	dc, err := egress.New(egress.Config{})
	if err != nil {
		return fmt.Errorf("ott: egress: %w", err)
	}
	discord := ott.Discord{ClientID: cfg.DiscordClientID, ClientSecret: cfg.DiscordClientSecret, AuthorizeURL: cfg.DiscordAuthorizeURL,
		TokenURL: cfg.DiscordTokenURL, UserURL: cfg.DiscordUserURL, CallbackURL: cfg.DiscordCallbackURL, HTTP: dc}
	s, err := ott.New(ott.Deps{Life: a.lifeCtx(), Links: a.DB.AccountLinks(), Discord: discord, Log: a.Log, Identity: a.Identity, Watch: a.Watch, Media: md, Sessions: a.DB.OttSessions(),
		Hub: hub, Limiter: lim, TrustProxy: cfg.TrustProxy, APIKey: cfg.OttAPIKey, InsecureCookies: cfg.OttInsecureCookies, DevRoutes: cfg.OttDevRoutes,
		Metrics: promhttp.HandlerFor(a.HTTP.Registry(), promhttp.HandlerOpts{Registry: a.HTTP.Registry()})})
	if err != nil {
		return err
	}
	s.Register(a.HTTP)
	a.runners = append(a.runners, s.Run)
	return nil
}

// watchSubscriber adapts the bus to watch.Subscriber and voice.Bus.
type watchSubscriber struct{ b bus.Bus }

func (w watchSubscriber) Publish(ctx context.Context, topic string, data []byte) error {
	return w.b.Publish(ctx, topic, data)
}

func (w watchSubscriber) Subscribe(p string, h func(string, []byte)) (func() error, error) {
	s, err := w.b.Subscribe(p, func(m bus.Message) { h(m.Topic, m.Data) })
	if err != nil {
		return nil, err
	}
	return s.Unsubscribe, nil
}
