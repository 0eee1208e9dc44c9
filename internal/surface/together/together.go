// Package together is Together's (jtjenkins/Together) public API on Hearth:
// its REST routes, served both bare (/servers) and under /api/
// (/api/servers), and its WebSocket gateway at /ws?token=. It translates
// Together's wire format (snake_case JSON, {"error": "…"} bodies, string-op
// gateway envelopes) to calls on the identity, community and messages
// services and back; it holds no business rules. The route table, auth,
// the gateway, voice, servers and messages are here; the other route groups
// are sub-packages built on rest.Base (groups.go).
package together

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/gateway"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/presence"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/surface/together/admin"
	"github.com/hearth-community/hearth/internal/surface/together/bots"
	"github.com/hearth-community/hearth/internal/surface/together/embeds"
	"github.com/hearth-community/hearth/internal/surface/together/export"
	"github.com/hearth-community/hearth/internal/surface/together/files"
	"github.com/hearth-community/hearth/internal/surface/together/hooks"
	"github.com/hearth-community/hearth/internal/surface/together/moderation"
	"github.com/hearth-community/hearth/internal/surface/together/polls"
	"github.com/hearth-community/hearth/internal/surface/together/rest"
	"github.com/hearth-community/hearth/internal/voice"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// Bus is the part of the node's bus the surface needs.
type Bus interface {
	Publish(ctx context.Context, topic string, data []byte) error
}

// Subscriber subscribes to bus topics (the node's bus).
type Subscriber interface {
	Subscribe(pattern string, h func(topic string, data []byte)) (cancel func() error, err error)
}

// Deps is what the surface needs from the node.
type Deps struct {
	// Life is the node's life (internal/app/lifetime.go): the surface's
	// background work (gateway fan-out, presence) takes its context from it
	// and also ends at Close. Nil: a context that never ends (tests; app
	// always sets it).
	Life      context.Context
	Log       *slog.Logger
	Identity  *identity.Service
	Community *community.Service
	Messages  *messages.Service
	Bus       Bus
	Sub       Subscriber
	// PresenceBus carries presence between nodes (the node's bus); nil
	// counts this node's connections only.
	PresenceBus bus.Bus
	// OfflineGrace is how long after an account's last connection (on any
	// node) closes it is announced offline. Default 2 s.
	OfflineGrace time.Duration
	// PresenceSweep is how long after start the node, having heard every
	// other node's connections, marks offline the accounts left online by
	// a node that stopped or crashed. Default 15 s.
	PresenceSweep time.Duration
	Hub           *gateway.Hub
	Bots          BotStore
	// Extras stores attachments, emoji, polls and events; UploadDir holds
	// the files (both needed for those routes).
	Extras ExtrasStore
	// IdleTimeout closes a socket that sends nothing for this long (zero:
	// Together's 300 s).
	IdleTimeout time.Duration
	// GiphyAPIKey enables /giphy/search; GiphyBase overrides Giphy's URL
	// (tests).
	GiphyAPIKey string
	GiphyBase   string
	// MaxLinkFetches bounds the link-preview and GIF-search fetches made
	// at once (default 16), LinkFetchWait how long a request waits for a
	// turn (5 s).
	MaxLinkFetches int
	LinkFetchWait  time.Duration
	// MaxSearches bounds the message searches run at once on this node
	// (default: the cores, at least 2), SearchWait how long a search waits
	// for a turn before it is answered 503 (default 5 s).
	MaxSearches int
	SearchWait  time.Duration
	// Webhooks stores outgoing webhooks; WebhookEngine is the node's one
	// delivery engine, which sends them (either nil: routes 503).
	Webhooks      webhooks.HookStore
	WebhookEngine *webhooks.Engine
	// WebhookReach says where communities' webhooks may connect (zero:
	// wherever the engine's client reaches).
	WebhookReach webhooks.Reach
	// Voice stores voice states (nil: voice routes 503); Calls, required
	// with it, holds the rules of who stays in a call and tells the surface
	// what they ended, which it announces.
	Voice VoiceStore
	Calls *voice.Calls
	// SFU forwards voice and video for VOICE_SFU clients (nil: the op
	// answers an error and clients stay on the mesh).
	SFU       *voice.SFU
	UploadDir string
	// UploadMinFree: attachment and emoji uploads are refused (507) while
	// the disk holding UploadDir has less free space than this (0: no
	// check). UploadSweep is how often the node reclaims the files of
	// deleted messages and uploads no row names (default 1 h).
	UploadMinFree int64
	UploadSweep   time.Duration
	// UploadQuota is how much an account's kept attachments may hold in
	// all (507 past it; instance admins have none). 0: no quota.
	UploadQuota int64
	// NodeID names this node on the files uploaded through it; another
	// node of the cluster fetches them from here at its Peers URL, signed
	// with PeerKey (files.Peers; without them a file another node holds
	// is 404 unless the upload directory is shared).
	NodeID  string
	Peers   files.Peers
	PeerKey []byte
	// Limits shares the auth, bot, message, join and voice-state rates
	// with the other nodes of a cluster (nil: this node's requests only).
	Limits *ratelimit.Cluster
	// Egress fetches link previews (nil: /link-preview answers 503).
	Egress *egress.Client
	// AuthRate is /auth/* requests per second per client IP (burst 5);
	// BotRate requests per second per bot; MessageRate messages (posts,
	// thread replies, DMs, polls, events; edits, reactions, poll votes) per second per account that is
	// not a bot (burst five times that, so a seeding burst of 50 passes at 10). Zero disables each.
	AuthRate    float64
	BotRate     float64
	MessageRate float64
	// JoinRate is server joins (POST /servers/{id}/join, invite accepts)
	// per second per account, burst ten times that (the app sets
	// JoinsPerSec). Zero disables it.
	JoinRate float64
	// SocketsPerAccount bounds the gateway sockets one account holds on a
	// node (429 past it; --together-sockets-per-account); 0: no bound.
	SocketsPerAccount int
	// RateClock is the rate limits' clock (nil: time.Now; a test freezes it
	// so its verdict does not depend on how fast its requests run).
	RateClock  func() time.Time
	TrustProxy bool
	// DBPing reports database health for /health.
	DBPing  func(ctx context.Context) error
	Version string
	// TURN servers for /ice-servers (optional), each handed out with REST
	// credentials made from TurnSecret.
	TurnURLs   []string
	TurnSecret string
	// AllowedOrigins are the Origin host patterns that may call the REST
	// API cross-origin (cors.go); empty allows same-origin requests only.
	AllowedOrigins []string
	// StageChats, when set, lets stage channels use a live stage's chat
	// (stages.go).
	StageChats StageChats
}

// Surface serves Together's API.
type Surface struct {
	d       Deps
	log     *slog.Logger
	started time.Time

	presMu sync.Mutex        // orders presence transitions (gateway.go)
	pres   *presence.Tracker // gateway connections per account, cluster-wide
	// heldMu guards presHeld: the PRESENCE_UPDATE held per account until
	// its pace allows it (presenceUpdate).
	heldMu   sync.Mutex
	presHeld map[string]presenceIn
	mu       sync.Mutex
	clients  map[string][]*client // account id → local gateway connections (a slice: an account has a few, and a set each costs an idle socket ~300 bytes)

	cancel func() error

	// base is what every route group shares; the groups are the
	// sub-packages' (rest, files, embeds, export, admin, moderation,
	// hooks, polls, bots).
	base       *rest.Base
	files      *files.API
	embeds     *embeds.API
	export     *export.API
	admin      *admin.API
	moderation *moderation.API
	hooks      *hooks.API
	polls      *polls.API
	bots       *bots.API
	bg         context.Context // background work: ends with the node's life (Deps.Life) or at Close
	stopBG     context.CancelFunc
	authRL     *ratelimit.Limiter
	botRL      *ratelimit.Limiter
	msgRL      *ratelimit.Limiter // humans' messages (MessageRate)
	voiceRL    *ratelimit.Limiter // voice joins and state changes (VoiceStatesPerSec)
	searches   *ratelimit.Turns   // message searches at once (Deps.MaxSearches)
	joinRL     *ratelimit.Limiter // server joins (JoinsPerSec)
	presRL     *ratelimit.Limiter // PRESENCE_UPDATE per account (PresenceUpdates a minute)
	typingRL   *ratelimit.Limiter // TYPING_START per account (TypingPerSec)
	goLive     *voice.GoLiveRules // which go_live signals to relay (nil without Deps.Voice)

	vmu    sync.Mutex
	vcache map[string]*viewerEntry   // channel id → member bits (viewers.go)
	vgen   uint64                    // bumped by every community event
	mcache map[string]*memberEntry   // community id → encoded member list (members_cache.go)
	mgen   uint64                    // bumped by every change that may show in a member list
	ccache map[string]*comemberEntry // community id → member ids, for presence fan-out (presence_fanout.go)

	readySent func() // tests: runs between writing READY and marking the client ready
}

// New builds the surface.
func New(d Deps) (*Surface, error) {
	if d.Identity == nil || d.Community == nil || d.Messages == nil || d.Bus == nil || d.Sub == nil || d.Hub == nil {
		return nil, errors.New("together: identity, community, messages, bus and hub are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	s := &Surface{d: d, log: d.Log.With("component", "together"), started: time.Now(),
		clients: map[string][]*client{},
		vcache:  map[string]*viewerEntry{}, mcache: map[string]*memberEntry{}, ccache: map[string]*comemberEntry{}}
	if d.IdleTimeout <= 0 {
		s.d.IdleTimeout = IdleTimeout
	}
	if d.OfflineGrace <= 0 {
		s.d.OfflineGrace = 2 * time.Second
	}
	if d.UploadSweep <= 0 {
		s.d.UploadSweep = time.Hour
	}
	if d.PresenceSweep <= 0 {
		s.d.PresenceSweep = 15 * time.Second
	}
	if d.Life == nil {
		d.Life = context.Background()
	}
	s.bg, s.stopBG = context.WithCancel(d.Life)
	var err error
	if err := s.routeGroups(); err != nil {
		s.stopBG()
		return nil, err
	}
	if d.AuthRate > 0 {
		if s.authRL, err = ratelimit.New(ratelimit.Config{Limit: d.AuthRate, Burst: 5, Clock: d.RateClock}); err != nil {
			return nil, fmt.Errorf("together: auth rate: %w", err)
		}
	}
	if d.BotRate > 0 {
		if s.botRL, err = ratelimit.New(ratelimit.Config{Limit: d.BotRate, Burst: int(max(1, d.BotRate)), Clock: d.RateClock}); err != nil {
			return nil, fmt.Errorf("together: bot rate: %w", err)
		}
	}
	if d.MessageRate > 0 {
		if s.msgRL, err = ratelimit.New(ratelimit.Config{Limit: d.MessageRate, Burst: int(max(1, 5*d.MessageRate)), Clock: d.RateClock}); err != nil {
			return nil, fmt.Errorf("together: message rate: %w", err)
		}
	}
	if s.presRL, err = ratelimit.New(ratelimit.Config{Limit: PresenceUpdates, Interval: time.Minute, Burst: PresenceUpdates,
		Clock: d.RateClock}); err != nil {
		return nil, fmt.Errorf("together: presence rate: %w", err)
	}
	if s.typingRL, err = ratelimit.New(ratelimit.Config{Limit: TypingPerSec, Burst: 5 * TypingPerSec, Clock: d.RateClock}); err != nil {
		return nil, fmt.Errorf("together: typing rate: %w", err)
	}
	if s.voiceRL, err = ratelimit.New(ratelimit.Config{Limit: VoiceStatesPerSec, Burst: 5 * VoiceStatesPerSec, Clock: d.RateClock}); err != nil {
		return nil, fmt.Errorf("together: voice state rate: %w", err)
	}
	if s.d.MaxSearches <= 0 {
		s.d.MaxSearches = max(2, runtime.GOMAXPROCS(0))
	}
	if s.d.SearchWait <= 0 {
		s.d.SearchWait = 5 * time.Second
	}
	s.searches = ratelimit.NewTurns(s.d.MaxSearches, s.d.SearchWait).PerKey(SearchesPerAccount)
	if d.JoinRate > 0 {
		if s.joinRL, err = ratelimit.New(ratelimit.Config{Limit: d.JoinRate, Burst: int(max(1, 10*d.JoinRate)), Clock: d.RateClock}); err != nil {
			return nil, fmt.Errorf("together: join rate: %w", err)
		}
	}
	// On a cluster the paces hold across the nodes (ratelimit.Cluster).
	for name, l := range map[string]*ratelimit.Limiter{"together.auth": s.authRL, "together.bot": s.botRL,
		"together.message": s.msgRL, "together.join": s.joinRL, "together.voice": s.voiceRL} {
		d.Limits.Share(name, l)
	}
	if d.Voice != nil {
		if d.Calls == nil {
			s.stopBG()
			return nil, errors.New("together: voice states need the call rules (Deps.Calls)")
		}
		if s.goLive, err = voice.NewGoLiveRules(d.Voice, d.Community); err != nil {
			s.stopBG()
			return nil, fmt.Errorf("together: %w", err)
		}
	}
	pb := d.PresenceBus
	if pb == nil {
		local := bus.NewLocal()
		pb = local
		go func() { <-s.bg.Done(); _ = local.Close() }()
	}
	// The tracker may report other nodes' counts before New returns:
	// presenceChanged reads s.pres under presMu.
	tr, err := presence.New(pb, presence.Config{Namespace: "together", OnChange: s.presenceChanged, Life: s.bg}, s.log)
	if err != nil {
		s.stopBG()
		return nil, fmt.Errorf("together: presence: %w", err)
	}
	s.presMu.Lock()
	s.pres = tr
	s.presMu.Unlock()
	go func() { _ = s.pres.Run(s.bg) }()
	go s.sweepPresence(s.bg)
	if d.SFU != nil && d.Voice != nil {
		d.SFU.EnableMesh(voice.MeshConfig{Peers: s.voicePeers, Send: s.sendMeshSignal})
	}
	if d.Calls != nil {
		d.Calls.Listen(voice.CallNews{Left: s.announceLeft, GoLiveStopped: s.announceGoLiveStop})
	}
	return s, nil
}

func (s *Surface) sinceStart() time.Duration { return time.Since(s.started) }

// Start loads the file-signing key and subscribes the gateway fan-out to
// the bus.
func (s *Surface) Start(ctx context.Context) error {
	if err := s.files.Start(ctx); err != nil {
		return fmt.Errorf("together: %w", err)
	}
	var cancels []func() error
	for _, p := range []string{messages.TopicPrefix + ">", "community.>", dispatchTopic, identity.RenamedTopic} {
		c, err := s.d.Sub.Subscribe(p, s.onBus)
		if err != nil {
			for _, c := range cancels {
				_ = c()
			}
			return err
		}
		cancels = append(cancels, c)
	}
	go s.sweepUploads(s.bg)
	s.cancel = func() error {
		for _, c := range cancels {
			_ = c()
		}
		return nil
	}
	return nil
}

// Close stops the fan-out.
func (s *Surface) Close() error {
	s.stopBG()
	_ = s.files.Close()
	if s.cancel != nil {
		return s.cancel()
	}
	return nil
}

// route is one Together route.
type route struct {
	method, path string
	h            func(w http.ResponseWriter, r *http.Request, p *identity.Principal)
	public       bool
	message      bool // creates, edits or reacts to a message (each an event to every member): a person's request is paced (MessageRate)
	voice        bool // joins a call or changes a voice state (each an event to the channel's viewers): paced (VoiceStatesPerSec)
	join         bool // joins a server (an event to every member, and its webhooks): paced (JoinsPerSec)
}

// admit charges p's request to its bucket, answering 429 when it is empty:
// a bot's every request (BotRate); a person's requests that create a
// message (MessageRate). Together applies its production limit of 10
// requests a second per address to every route; Hearth does not (load
// tools run many accounts from one address), so a person's messages are
// bounded here instead.
func (s *Surface) admit(w http.ResponseWriter, rt route, p *identity.Principal) bool {
	if rt.voice && !s.voiceAllowed(w, p.Account.ID) {
		return false
	}
	if rt.join && s.joinRL != nil {
		if d := s.joinRL.Allow(p.Account.ID, 1); !d.Allowed {
			ratelimit.SetRetryAfter(w.Header(), d)
			writeError(w, http.StatusTooManyRequests, fmt.Sprintf("You are joining servers too quickly. Max %g joins/second.", s.d.JoinRate))
			return false
		}
	}
	l, rate, refusal := s.botRL, s.d.BotRate, "Bot rate limit exceeded. Max %g requests/second."
	if p.Account.Kind != identity.Bot {
		if !rt.message {
			return true
		}
		l, rate, refusal = s.msgRL, s.d.MessageRate, "You are sending messages too quickly. Max %g messages/second."
	}
	if l == nil {
		return true
	}
	d := l.Allow(p.Account.ID, 1)
	if !d.Allowed {
		ratelimit.SetRetryAfter(w.Header(), d)
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf(refusal, rate))
	}
	return d.Allowed
}

// voiceAllowed charges one voice-state change (a join, an update, a Go
// Live start; over REST or the SFU's socket frames) to the account's
// bucket, answering 429 when it is empty. Leaving and stopping are never
// refused: they end what a join started.
func (s *Surface) voiceAllowed(w http.ResponseWriter, accountID string) bool {
	d := s.voiceRL.Allow(accountID, 1)
	if !d.Allowed {
		ratelimit.SetRetryAfter(w.Header(), d)
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf("You are changing voice state too quickly. Max %d changes/second.", VoiceStatesPerSec))
	}
	return d.Allowed
}

// Register adds every route, bare and under /api/.
func (s *Surface) Register(h *httpserver.Server) {
	for _, rt := range s.routes() {
		handler := s.wrap(rt)
		if s.authRL != nil && strings.HasPrefix(rt.path, "/auth/") {
			handler = ratelimit.Middleware(s.authRL, ratelimit.IPKey(s.d.TrustProxy), 1,
				func(w http.ResponseWriter, _ *http.Request, _ ratelimit.Decision) {
					setSecurityHeaders(w.Header())
					writeError(w, http.StatusTooManyRequests, "Too many requests, please slow down")
				})(handler)
		}
		handler = s.withCORS(handler)
		for _, prefix := range []string{"", "/api"} {
			pattern := rt.method + " " + prefix + rt.path
			if prefix == "/api" && strings.HasPrefix(rt.path, "/admin/") {
				// Owncast owns Basic-auth /api/admin/*; ours are Bearer,
				// and where Owncast has no such route ours answer all.
				h.HandleOwned(pattern, hasBearer, handler)
				continue
			}
			if prefix == "" && strings.HasPrefix(rt.path, "/admin/") {
				// Bare /admin/* is the web UI's pages, but Together's
				// own deployments (its nginx.conf, its Vite dev server)
				// strip /api/ before a request reaches the server, so
				// its admin dashboard's Bearer calls arrive here. GETs
				// share the web UI's pattern and are ours only with a
				// Bearer token; the web UI has no other methods there.
				if rt.method == "GET" {
					h.HandleWhen("GET /admin/{path...}", bareAdmin(rt.path), handler)
				} else {
					h.Handle(pattern, handler)
				}
				continue
			}
			h.Handle(pattern, handler)
		}
	}
	s.registerPreflight(h)
	// The gateway also answers an upgrade that carries no token of either
	// surface (Together's 401 before the upgrade, as its server refuses a
	// missing token); Owncast's chat takes /ws only with ?accessToken=.
	ws := http.HandlerFunc(s.serveGateway)
	h.HandleOwned("GET /ws", hasGatewayToken, ws)
	h.HandleOwned("GET /api/ws", hasGatewayToken, ws)
}

// bareAdmin recognises a Together instance-admin GET on its bare path:
// the exact path and a Bearer token, which no page load of the web UI's
// admin carries.
func bareAdmin(path string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.URL.Path == path && hasBearer(r) }
}

func hasBearer(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ")
}

func hasGatewayToken(r *http.Request) bool {
	q := r.URL.Query()
	return q.Has("token") || q.Has("bot_token")
}

func (s *Surface) wrap(rt route) http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		if rt.public {
			rt.h(w, r, nil)
			return
		}
		p, err := s.authenticate(r)
		if err != nil {
			s.fail(w, err)
			return
		}
		if !s.admit(w, rt, p) {
			return
		}
		rt.h(w, r, p)
	})
	return httpserver.Recover(s.log, func(w http.ResponseWriter, _ *http.Request, status int, msg string) {
		writeError(w, status, msg)
	}, h)
}

func setSecurityHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
}

// errMissingAuth is the gateway's answer to a token it cannot use.
var errMissingAuth = rest.ErrMissingAuth

// authenticate accepts "Bearer <access JWT>" and "Bot <64 hex>".
func (s *Surface) authenticate(r *http.Request) (*identity.Principal, error) {
	return s.base.Authenticate(r)
}

// fail writes err in Together's error shape (rest.Base.Fail).
func (s *Surface) fail(w http.ResponseWriter, err error) { s.base.Fail(w, err) }

// bad writes a decode error or a domain error (rest.Base.Bad).
func (s *Surface) bad(w http.ResponseWriter, err error) { s.base.Bad(w, err) }

// audit records an administrative action (rest.Base.Audit).
func (s *Surface) audit(r *http.Request, communityID string, p *identity.Principal, action, targetType, targetID string, details map[string]any) {
	s.base.Audit(r, communityID, p, action, targetType, targetID, details)
}

// The helpers' short names, used across the package; they are rest's.
func writeJSON(w http.ResponseWriter, status int, v any) { rest.WriteJSON(w, status, v) }
func writeError(w http.ResponseWriter, status int, msg string) {
	rest.WriteError(w, status, msg)
}
func noContent(w http.ResponseWriter)                  { rest.NoContent(w) }
func decode(r *http.Request, v any, strict bool) error { return rest.Decode(r, v, strict) }
func invalid(msg string) error                         { return rest.Invalid(msg) }
func statusOf(k fault.Kind) int                        { return rest.StatusOf(k) }
func pathID(r *http.Request, name, notFound string) (string, error) {
	return rest.PathID(r, name, notFound)
}
func serverID(r *http.Request) (string, error) { return rest.ServerID(r) }

// inServer serves a /servers/{id}/… route with h, given the server's id;
// a malformed id is refused before h runs.
func (s *Surface) inServer(h func(http.ResponseWriter, *http.Request, *identity.Principal, string)) func(http.ResponseWriter, *http.Request, *identity.Principal) {
	return func(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
		id, err := serverID(r)
		if err != nil {
			s.fail(w, err)
			return
		}
		h(w, r, p, id)
	}
}
func optString(s string) *string               { return rest.OptString(s) }
func mapAll[T, U any](in []T, f func(T) U) []U { return rest.MapAll(in, f) }

// sweepUploads reclaims the upload directory a minute after start and
// every UploadSweep after that (files.API.Sweep).
func (s *Surface) sweepUploads(ctx context.Context) {
	next := min(time.Minute, s.d.UploadSweep)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
		}
		next = s.d.UploadSweep
		n, err := s.files.Sweep(ctx, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("upload sweep failed", "removed", n, "err", err)
		case n > 0:
			s.log.Info("upload sweep", "removed", n)
		}
	}
}
