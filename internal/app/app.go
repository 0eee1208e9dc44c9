// Package app builds Hearth from a Config: it picks the adapters (SQLite or
// PostgreSQL, local bus or NATS) in one place, wires the domain services and
// surfaces by hand, and runs every long-running part under one errgroup.
package app

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hearth-community/hearth/internal/backup"
	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/gateway"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/presence"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/rtc"
	"github.com/hearth-community/hearth/internal/stagechat"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/voice"
	"github.com/hearth-community/hearth/internal/watch"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// App is a wired Hearth node.
type App struct {
	Config   config.Config
	Log      *slog.Logger
	DB       *store.DB
	Bus      bus.Bus
	Identity *identity.Service
	HTTP     *httpserver.Server
	// StageChat is the Owncast stage chat and page settings (wire_owncast.go).
	StageChat *stagechat.Service
	// Federation is the stage on the fediverse (wire_federation.go).
	Federation *federation.Service
	Watch      *watch.Service // watch rooms (OpenTogetherTube surface, community watch channels)
	Live       *liveService   // live streaming: stages, RTMP ingest, HLS (wire_live.go)
	// Community and Messages are the community and message services (wire_together.go).
	Community *community.Service
	Messages  *messages.Service

	stages   *stageChannelsService // stage channels ⇄ live stages (wire_stages.go)
	rtmpAddr net.Addr              // the RTMP ingest's bound address (wire_live.go)
	// node is this node's id (the data directory's node-id file) and
	// peerKey the cluster's key for signing requests between nodes
	// (recordings' files, live HLS); set by wireLive.
	node    string
	peerKey []byte
	// limits shares the in-memory rate limiters with the other nodes of a
	// cluster (nil on a single node: nothing to share).
	limits *ratelimit.Cluster
	// Recordings keeps broadcasts (wire_recordings.go).
	Recordings *recording.Service
	// RTC is the WebRTC media plane (wire_voice.go); nil without
	// --rtc-udp-addr.
	RTC *rtc.Plane
	// turn is the embedded TURN server (wire_voice.go); nil without
	// --turn-listen. Set while wiring, read by revocations from the bus.
	turn     atomic.Pointer[voice.TURN]
	webhooks *webhooks.Service
	// webhookEngine delivers every webhook (wire_webhooks.go), sending with
	// webhookClient.
	webhookEngine *webhooks.Engine
	webhookClient *egress.Client
	// webhookPublic reaches public addresses only: communities' webhooks
	// go through it unless an instance admin owns the community
	// (communityReach); nil without --webhook-allow-addrs.
	webhookPublic *egress.Client

	hubMu   sync.Mutex
	hubs    []*gateway.Hub
	sockets *gateway.Sockets // the node's socket budget, shared by its hubs (gateway.go)
	runners []func(context.Context) error
	closers []func() error
	// life is the context of background work started by bus handlers
	// registered while wiring (lifetime.go): it ends when Run ends.
	life    context.Context
	endLife context.CancelFunc
}

// OpenDB opens and migrates the configured database (used by serve and by
// the CLI's one-shot commands).
func OpenDB(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*store.DB, error) {
	if err := backup.Unfinished(cfg.DataDir); err != nil {
		return nil, err
	}
	dsn := cfg.DatabaseDSN()
	if !config.IsPostgres(dsn) {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("--data-dir %s: %w", cfg.DataDir, err)
		}
	}
	db, err := store.Open(ctx, dsn, logger.With("component", "store"))
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		_ = db.Close() // the open failed; that error is the one to report
		return nil, err
	}
	return db, nil
}

// busPrefixKey is the instance_kv key of the bus prefix made on first start.
const busPrefixKey = "bus_prefix"

// OpenBus opens the configured bus, namespaced by --bus-prefix or, when
// that is empty, by an id kept in the database (made on first start; every
// node on one database reads the same one).
func OpenBus(ctx context.Context, cfg *config.Config, db *store.DB, logger *slog.Logger) (bus.Bus, error) {
	prefix := cfg.BusPrefix
	if prefix == "" {
		id := strings.ReplaceAll(identity.NewID(), "-", "")
		p, err := db.Identity().SetInstanceValueOnce(ctx, busPrefixKey, "h"+id[len(id)-12:])
		if err != nil {
			return nil, fmt.Errorf("bus prefix: %w", err)
		}
		prefix = p
	}
	var b bus.Bus
	if cfg.Bus == "local" {
		b = bus.NewLocal()
	} else {
		nb, err := bus.NewNATS(ctx, cfg.Bus, logger.With("component", "bus"))
		if err != nil {
			return nil, err
		}
		b = nb
	}
	pb, err := bus.WithPrefix(b, prefix)
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("--bus-prefix: %w", err)
	}
	return pb, nil
}

// shareRateLimits joins this node's shared rate limits (the rate
// limiters, the stage chat's pace) to the other nodes' on a cluster (a
// NATS bus): each tells the others of the requests it lets through
// (ratelimit.Cluster). A single node shares nothing.
func (a *App) shareRateLimits() error {
	if a.Config.Bus == "local" {
		return nil
	}
	a.limits = ratelimit.NewCluster(func(data []byte) error {
		return a.Bus.Publish(a.lifeCtx(), ratelimit.ClusterTopic, data)
	}, func(err error) {
		a.Log.Warn("publish a rate limit charge: the other nodes do not see this node's charges", "err", err)
	})
	sub, err := a.Bus.Subscribe(ratelimit.ClusterTopic, func(m bus.Message) { a.limits.Notice(m.Data) })
	if err != nil {
		return fmt.Errorf("rate limits: subscribe: %w", err)
	}
	a.closers = append(a.closers, sub.Unsubscribe)
	return nil
}

// RateLimits is the node's share of the cluster's rate limiters (nil on a
// single node).
func (a *App) RateLimits() *ratelimit.Cluster { return a.limits }

// NewIdentity builds the identity service on db. On PostgreSQL (the only
// engine several nodes share) the sign-in limiter's buckets live in the
// database, so the nodes charge one budget; SQLite keeps them in memory.
func NewIdentity(ctx context.Context, cfg *config.Config, db *store.DB, pub identity.Publisher, logger *slog.Logger) (*identity.Service, error) {
	icfg := identity.Config{Secret: cfg.JWTSecret, AccessTTL: cfg.AccessTokenTTL, RefreshTTL: cfg.RefreshTokenTTL}
	if db.Engine == store.Postgres {
		icfg.SignInBudget = db.Identity()
	}
	return identity.New(ctx, icfg, db.Identity(), pub, logger.With("component", "identity"))
}

// New builds a node: database, bus, services, surfaces, HTTP listener. On
// error everything opened so far is closed.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger) (_ *App, err error) {
	a := &App{Config: cfg, Log: logger}
	a.startLife(ctx)
	defer func() {
		if err != nil {
			_ = a.Close() // New failed; its error is the one to report
		}
	}()
	if a.DB, err = OpenDB(ctx, &cfg, logger); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.DB.Close)
	if a.Bus, err = OpenBus(ctx, &cfg, a.DB, logger); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.Bus.Close)
	if err := a.shareRateLimits(); err != nil {
		return nil, err
	}
	if a.Identity, err = NewIdentity(ctx, &cfg, a.DB, a.Bus, logger); err != nil {
		return nil, err
	}
	created, pw, err := a.Identity.EnsureAdmin(ctx, cfg.AdminUser, cfg.AdminPassword)
	if err != nil {
		return nil, err
	}
	if created && pw != "" {
		// Printed once, on the first start only; it is never stored in clear.
		logger.Warn("created the instance admin with a generated password; change it after signing in",
			"username", cfg.AdminUser, "password", pw)
	} else if created {
		logger.Info("created the instance admin", "username", cfg.AdminUser)
	}
	var tlsConfig *tls.Config
	if len(cfg.TLSDomain) > 0 {
		acm, err := httpserver.NewACME(httpserver.ACMEConfig{Domains: cfg.TLSDomain, Email: cfg.TLSEmail,
			CacheDir: filepath.Join(cfg.DataDir, "acme"), DirectoryURL: cfg.ACMEDirectory})
		if err != nil {
			return nil, err
		}
		tlsConfig = acm.TLSConfig()
		if cfg.TLSHTTPAddr != "" {
			acmeLog := logger.With("component", "acme")
			a.runners = append(a.runners, func(ctx context.Context) error { return acm.RunHTTP(ctx, cfg.TLSHTTPAddr, acmeLog) })
		}
	}
	perIP := cfg.MaxConnsPerIP
	if cfg.TrustProxy {
		perIP = 0 // every connection comes from the proxy
	}
	if a.HTTP, err = httpserver.New(httpserver.Config{Addr: cfg.Addr, MaxBodyBytes: cfg.MaxBodyBytes, ShutdownTimeout: cfg.ShutdownTimeout, TLS: tlsConfig,
		MaxConnsPerIP: perIP},
		logger.With("component", "http")); err != nil {
		return nil, err
	}
	a.HTTP.Check("database", a.DB)
	a.HTTP.Check("bus", a.Bus)
	if err := a.wireRTC(); err != nil {
		return nil, err
	}
	if err := a.wire(ctx); err != nil {
		return nil, err
	}
	a.runners = append(a.runners, a.HTTP.Run)
	if cfg.PprofAddr != "" {
		a.runners = append(a.runners, func(ctx context.Context) error { return servePprof(ctx, cfg.PprofAddr, logger) })
	}
	return a, nil
}

// presenceTracker counts connections per key across the cluster on the
// node's bus, runs with the node and says goodbye to the other nodes when
// it closes.
func (a *App) presenceTracker(namespace, node string, logger *slog.Logger) (*presence.Tracker, error) {
	tr, err := presence.New(a.Bus, presence.Config{Namespace: namespace, Node: node, Life: a.lifeCtx()}, logger)
	if err != nil {
		return nil, err
	}
	a.runners = append(a.runners, tr.Run)
	a.closers = append(a.closers, func() error { tr.Close(); return nil })
	return tr, nil
}

// wire connects the gateway and the surfaces.
func (a *App) wire(ctx context.Context) error {
	// This node's revocations close its sockets at once; the bus brings
	// the other nodes' (and, again, this node's: closing twice is nothing).
	a.Identity.OnRevoked(a.onRevoked)
	sub, err := a.Bus.Subscribe(identity.RevokedTopic, func(m bus.Message) {
		var r identity.Revoked
		if err := json.Unmarshal(m.Data, &r); err != nil {
			return
		}
		a.onRevoked(r)
	})
	if err != nil {
		return fmt.Errorf("subscribe revocations: %w", err)
	}
	a.closers = append(a.closers, sub.Unsubscribe)
	for _, w := range []func(context.Context) error{a.wireWebhooks, a.wireLive, a.wireTogether, a.wireStages, a.wireOtt, a.wireWatchChannels, a.wireOwncast, a.wireRecordings, a.wireWebRTCLive, a.wireWeb} {
		if err := w(ctx); err != nil {
			return err
		}
	}
	return a.wireRenames()
}

// wireRenames carries an account's rename (identity.RenamedTopic, from any
// surface on any node) to the domains that show its name: its stage chat
// user and its members of the watch rooms this node serves. (The Together
// surface drops its member lists on the same topic itself.)
func (a *App) wireRenames() error {
	sub, err := a.Bus.Subscribe(identity.RenamedTopic, func(m bus.Message) {
		var r identity.Renamed
		if err := json.Unmarshal(m.Data, &r); err != nil || r.AccountID == "" {
			return
		}
		if a.Watch != nil {
			a.Watch.AccountRenamed(r.AccountID, r.Name)
		}
		if a.StageChat != nil {
			ctx, cancel := context.WithTimeout(a.lifeCtx(), 10*time.Second)
			defer cancel()
			if err := a.StageChat.AccountRenamed(ctx, r); err != nil {
				a.Log.Warn("rename a stage chat user", "account", r.AccountID, "err", err)
			}
		}
	})
	if err != nil {
		return fmt.Errorf("subscribe renames: %w", err)
	}
	a.closers = append(a.closers, sub.Unsubscribe)
	return nil
}

// Run runs every part until ctx is cancelled or one fails.
func (a *App) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	defer context.AfterFunc(gctx, a.stopLife)()
	for _, r := range a.runners {
		g.Go(func() error { return r(gctx) })
	}
	return g.Wait()
}

// Close releases everything in reverse order of opening.
func (a *App) Close() error {
	a.stopLife()
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	a.closers = nil
	return errors.Join(errs...)
}
