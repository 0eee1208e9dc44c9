// Package federation puts Hearth's stages on the fediverse the way Owncast
// does: one ActivityPub Service actor per server (and, Hearth's extra, one
// per stage channel), WebFinger and NodeInfo discovery, signed Follow /
// Accept / Undo, go-live Create/Note posts delivered to followers' shared
// inboxes, and inbound Like / Announce recorded as engagement.
//
// Library choices (research/deps.md):
//
//   - HTTP signatures (draft-cavage, what Mastodon signs and verifies) use
//     github.com/go-fed/httpsig. It neither checks the Digest header nor
//     exposes the list of signed headers, so verify.go checks both itself.
//   - The ActivityStreams vocabulary is hand-written as plain JSON maps and
//     structs (vocab.go). go-fed/activity is refused by the module proxy;
//     github.com/go-ap/activitypub is available but is an untagged
//     pseudo-version whose JSON-LD encoding would have to be bent to match
//     Owncast's exact documents (Service actor with PropertyValue
//     attachments, toot:Hashtag tags), for the dozen fields Owncast uses.
//     Plain JSON keeps the wire byte-for-byte under our control.
//
// Every outbound fetch (actor documents, WebFinger for remote follow) and
// delivery goes through the SSRF-safe egress client. Deliveries ride the
// one durable delivery queue (internal/webhooks.Engine) as their own kind,
// signed with HTTP signatures when sent, retried with backoff, claimed by
// one node at a time, and bounded per inbox (the newest kept).
package federation

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// Settings is what federation reads from the instance settings on every
// request: the admin's /api/admin/config/federation/* values and the page's
// identity.
type Settings struct {
	Enabled        bool
	Private        bool
	ShowEngagement bool
	Username       string
	GoLiveMessage  string
	BlockedDomains []string
	ServerURL      string // the public base URL, no trailing slash
	Name           string
	Summary        string
	Tags           []string
	NSFW           bool
	StreamTitle    string
	Social         []Link
	// LogoVersion changes with the logo (its checksum; "" for the
	// default): the actors' avatar URL carries it, so a server that
	// cached the old image fetches the new one, as Owncast's ?uc=.
	LogoVersion string
}

// avatar is the actors' profile image URL.
func avatar(st Settings) string {
	u := st.ServerURL + "/logo/external"
	if st.LogoVersion != "" {
		u += "?uc=" + url.QueryEscape(st.LogoVersion)
	}
	return u
}

// Link is a profile link (the actor's PropertyValue attachments).
type Link struct{ Name, URL string }

// Follower is a remote account following a local actor.
type Follower struct {
	Actor       string // local actor username
	IRI         string // remote actor id
	Inbox       string
	SharedInbox string
	Name        string
	Username    string // user@host
	Image       string
	RequestIRI  string // the Follow activity's id
	// Domain is the remote domain it counts against (domainOf its IRI;
	// "" for rows from before domains were kept).
	Domain     string
	CreatedAt  time.Time
	ApprovedAt *time.Time
	DisabledAt *time.Time
}

// FollowerState selects followers.
type FollowerState int

// Follower states.
const (
	Approved FollowerState = iota // approved and not blocked
	Pending                       // not yet approved, not blocked
	Blocked                       // rejected or removed by the admin
)

// OutboxItem is a stored outbound activity, served at /federation/{id}.
type OutboxItem struct {
	ID        string
	Actor     string
	Type      string
	Value     []byte // the activity JSON
	CreatedAt time.Time
}

// Action is an inbound engagement activity.
type Action struct {
	IRI      string
	Actor    string // local actor
	ActorIRI string
	Type     string // FEDIVERSE_ENGAGEMENT_FOLLOW, _LIKE, _REPOST
	// Object is what was engaged with (the post liked or boosted, the
	// local actor followed): an actor's engagement of one type with one
	// object is recorded once ("" for rows from before).
	Object    string
	CreatedAt time.Time
}

// Store persists federation state. Lookups that match nothing return
// fault.NotFound.
type Store interface {
	// FederationKey returns the stored private key PEM.
	FederationKey(ctx context.Context) (string, time.Time, error)
	// InsertFederationKey stores pem unless a key exists (then it is a
	// no-op: the first node wins).
	InsertFederationKey(ctx context.Context, pem string, at time.Time) error

	PutFollower(ctx context.Context, f *Follower) error
	Follower(ctx context.Context, actor, iri string) (*Follower, error)
	Followers(ctx context.Context, actor string, state FollowerState, offset, limit int) ([]*Follower, int, error)
	SetFollowerState(ctx context.Context, actor, iri string, approvedAt, disabledAt *time.Time) error
	DeleteFollower(ctx context.Context, actor, iri string) error
	// DomainFollowers counts a local actor's followers and pending
	// requests from a remote domain, blocked ones and the follower other
	// left out; the distinct inboxes they are delivered to (the shared
	// inbox where one is given, else their own); and reports whether
	// inbox is one of those.
	DomainFollowers(ctx context.Context, actor, domain, inbox, other string) (followers, inboxes int, known bool, err error)

	AddOutbox(ctx context.Context, it *OutboxItem) error
	OutboxItem(ctx context.Context, id string) (*OutboxItem, error)
	Outbox(ctx context.Context, actor string, offset, limit int) ([]*OutboxItem, int, error)

	// AddAction records an action; a repeated IRI, or a repeated actor,
	// type and object, is a fault.Conflict. It deletes the local actor's
	// actions older than its keep newest (the one added counted).
	AddAction(ctx context.Context, a *Action, keep int) error
	Actions(ctx context.Context, offset, limit int) ([]*Action, int, error)

	// StageActorEnabled reports whether a stage channel's actor is on (on
	// unless switched off).
	StageActorEnabled(ctx context.Context, channelID string) (bool, error)
	SetStageActorEnabled(ctx context.Context, channelID string, on bool, at time.Time) error

	// PutLeaving records that a hidden stage channel actor sent an Undo
	// to host, until until (replacing an earlier record), and drops the
	// records expired at now.
	PutLeaving(ctx context.Context, actor, host string, until, now time.Time) error
	// Leaving reports whether actor has a record for host unexpired at now.
	Leaving(ctx context.Context, actor, host string, now time.Time) (bool, error)

	FollowingStore
}

// Doer sends outbound requests: the egress client.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
	CheckURL(raw string) (*url.URL, error)
}

// Deliveries is the one durable delivery queue (webhooks.Engine): the
// service registers its kind on it and queues its signed POSTs there.
type Deliveries interface {
	Register(k webhooks.Kind) error
	Enqueue(ctx context.Context, kind, ref, url string, body []byte) bool
}

// DeliveryKind is the name federation's deliveries have on the queue.
const DeliveryKind = "federation"

// Config tunes the service. Zero values take the defaults.
type Config struct {
	// Settings returns the current settings. Required.
	Settings func() Settings
	// Version is reported in NodeInfo.
	Version string
	// DateWindow is how far a signed request's Date may be from now.
	// Default 1 hour.
	DateWindow time.Duration
	// MaxBody caps an inbound activity body. Default 256 KiB.
	MaxBody int64
	// KeyCacheTTL is how long a fetched actor key is trusted before it is
	// fetched again. Default 1 hour.
	KeyCacheTTL time.Duration
	// Attempts, Backoff and PerInbox tune delivery: tries per delivery
	// (default 8), the first retry delay doubled each time, at most 6 h
	// (default 30 s), deliveries kept per inbox, the newest (default 500).
	Attempts int
	Backoff  time.Duration
	PerInbox int
	// StageChannel, when set, makes each public stage channel its own
	// actor (Hearth's several stages), named StagePrefix + the channel id:
	// it returns the channel's name and whether it is public, ok false
	// when channelID is not a stage channel.
	StageChannel func(ctx context.Context, channelID string) (StageChannelInfo, bool)
	// InsecureHTTP makes WebFinger look-ups of remote accounts use plain
	// http (tests, with httptest peers). Never set it in production.
	InsecureHTTP bool
	// OnEngagement, when set, is told about each recorded inbound
	// engagement, once per cluster (the node that took the activity): for
	// the stage chat's FEDIVERSE_ENGAGEMENT_* events and webhooks.
	OnEngagement func(ctx context.Context, e Engagement)
	// LiveWindow is how long a followed server counts as live after its
	// go-live post (featured streams). Default 4 hours.
	LiveWindow time.Duration
	// MaxFetches bounds the remote documents fetched at once (signers'
	// keys of inbound activities, actors, WebFinger): a fetch waits up to
	// FetchWait for a turn, then is refused as rate limited. Defaults 16
	// and 5 s.
	MaxFetches int
	FetchWait  time.Duration
	// DomainFollowers and DomainInboxes bound a local actor's followers
	// (and pending requests) from one remote domain and the distinct
	// inboxes they are delivered to; DomainPace (a minute) and
	// DomainBurst pace one remote domain's inbound activities on this
	// node; MaxActions bounds the engagement kept per local actor;
	// NoticePace (a minute) and NoticeBurst pace one local actor's
	// engagement notices in chat on this node. Defaults: the constants of
	// the same names (bounds.go).
	DomainFollowers int
	DomainInboxes   int
	DomainPace      float64
	DomainBurst     int
	MaxActions      int
	NoticePace      float64
	NoticeBurst     int
}

// FetchesPerSender is how many remote fetches one sender (the address the
// surface names with ratelimit.WithTurnKey: an inbox POST's, a signed
// fetch's) makes or awaits at once; past it the request is refused as rate
// limited at once. The node's MaxFetches turns are shared, and anyone may
// send an activity whose key id names a slow server of their own: one
// address's activities side by side held every turn and the queue, so real
// servers' deliveries were refused until it stopped.
const FetchesPerSender = 2

// StageChannelInfo is what federation knows of a stage channel.
type StageChannelInfo struct {
	Name string
	// Public: anyone may join its community and see it. Only a public
	// stage channel is an actor: a private one (an invite-only community's)
	// has no actor document, WebFinger entry, inbox, collections or
	// go-live posts, so neither its name nor its stream titles are
	// published and no one outside can follow it.
	Public bool
	// Page is the path of the channel's web page on this server
	// ("/c/<community>/<channel>"), which its go-live posts and actor
	// link to; "" links to the server's.
	Page string
	// HLS is the path of the channel's stream's master playlist where
	// anyone may play it ("/hls/stream.m3u8" for a channel bound to the
	// default stage, "/stages/<channel id>/stream.m3u8" for its own
	// stage), named by its WebFinger entry's alternate link; "" when it
	// has none open to all, and then the entry names none rather than
	// another stage's stream.
	HLS string
}

// Engagement is an inbound follow, like or boost, for chat and webhooks.
type Engagement struct {
	Actor string // local actor username
	// StageChannel is the community stage channel whose actor was engaged
	// ("" for the server actor): the notice belongs in that channel's chat.
	StageChannel string
	Type         string // FEDIVERSE_ENGAGEMENT_FOLLOW, _LIKE, _REPOST
	ActorIRI     string
	Name         string
	Username     string
	Image        string
	Body         string // Owncast's chat text, e.g. "liked that this stream went live."
	// Show says whether it belongs in chat: the "show engagement" setting
	// is on and the local actor's notices keep their pace (NoticePace).
	// Webhooks fire either way.
	Show bool
}

// Engagement types (Owncast's event names).
const (
	EngagementFollow = "FEDIVERSE_ENGAGEMENT_FOLLOW"
	EngagementLike   = "FEDIVERSE_ENGAGEMENT_LIKE"
	EngagementRepost = "FEDIVERSE_ENGAGEMENT_REPOST"
)

// Service is the federation domain.
type Service struct {
	cfg    Config
	st     Store
	q      Deliveries
	client Doer
	log    *slog.Logger
	now    func() time.Time

	keyMu sync.Mutex
	key   *rsa.PrivateKey
	keyAt time.Time // when the key was made: the actors' published

	keys    *keyCache
	fetches *ratelimit.Turns

	followMu   sync.Mutex         // a follow's count of its domain's followers and its write (putFollower)
	domainPace *ratelimit.Limiter // inbound activities per remote domain (DomainPace)
	notices    *ratelimit.Limiter // engagement notices per local actor (NoticePace)
}

// clock is the service's clock, read through s.now so a test's
// replacement reaches the paces too.
func (s *Service) clock() time.Time { return s.now() }

// New builds the service and registers its deliveries' kind on q, to be
// sent through client (the engine running q sends them).
func New(cfg Config, st Store, q Deliveries, client Doer, logger *slog.Logger) (*Service, error) {
	if st == nil || q == nil || client == nil || cfg.Settings == nil {
		return nil, errors.New("federation: store, delivery queue, client and settings are required")
	}
	if cfg.DateWindow <= 0 {
		cfg.DateWindow = time.Hour
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 256 << 10
	}
	if cfg.KeyCacheTTL <= 0 {
		cfg.KeyCacheTTL = time.Hour
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 8
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 30 * time.Second
	}
	if cfg.PerInbox <= 0 {
		cfg.PerInbox = 500
	}
	if cfg.LiveWindow <= 0 {
		cfg.LiveWindow = 4 * time.Hour
	}
	if cfg.MaxFetches <= 0 {
		cfg.MaxFetches = 16
	}
	if cfg.FetchWait <= 0 {
		cfg.FetchWait = 5 * time.Second
	}
	cfg.DomainFollowers = cmp.Or(max(cfg.DomainFollowers, 0), MaxDomainFollowers)
	cfg.DomainInboxes = cmp.Or(max(cfg.DomainInboxes, 0), MaxDomainInboxes)
	cfg.DomainPace = cmp.Or(max(cfg.DomainPace, 0), DomainPace)
	cfg.DomainBurst = cmp.Or(max(cfg.DomainBurst, 0), DomainBurst)
	cfg.MaxActions = cmp.Or(max(cfg.MaxActions, 0), MaxActions)
	cfg.NoticePace = cmp.Or(max(cfg.NoticePace, 0), NoticePace)
	cfg.NoticeBurst = cmp.Or(max(cfg.NoticeBurst, 0), NoticeBurst)
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, st: st, q: q, client: client, log: logger.With("component", "federation"), now: time.Now}
	s.keys = newKeyCache(s)
	s.domainPace = newPace(cfg.DomainPace, cfg.DomainBurst, s.clock)
	s.notices = newPace(cfg.NoticePace, cfg.NoticeBurst, s.clock)
	s.fetches = ratelimit.NewTurns(cfg.MaxFetches, cfg.FetchWait).PerKey(FetchesPerSender)
	if err := q.Register(s.deliveryKind()); err != nil {
		return nil, err
	}
	return s, nil
}

// Settings returns the current settings, normalised.
func (s *Service) Settings() Settings {
	st := s.cfg.Settings()
	st.ServerURL = strings.TrimRight(st.ServerURL, "/")
	if st.Username == "" {
		st.Username = "streamer"
	}
	return st
}

// Enabled reports whether federation is on.
func (s *Service) Enabled() bool { return s.cfg.Settings().Enabled }

// privateKey returns the shared signing key, creating and storing it on
// first use. Every node ends up with the key the first node stored.
func (s *Service) privateKey(ctx context.Context) (*rsa.PrivateKey, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	raw, at, err := s.st.FederationKey(ctx)
	if errors.Is(err, fault.NotFound) {
		k, gerr := rsa.GenerateKey(rand.Reader, 2048)
		if gerr != nil {
			return nil, fmt.Errorf("federation: generate key: %w", gerr)
		}
		der := x509.MarshalPKCS1PrivateKey(k)
		p := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}))
		if err := s.st.InsertFederationKey(ctx, p, s.now()); err != nil {
			return nil, fmt.Errorf("federation: store key: %w", err)
		}
		raw, at, err = s.st.FederationKey(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("federation: load key: %w", err)
	}
	b, _ := pem.Decode([]byte(raw))
	if b == nil {
		return nil, errors.New("federation: stored key is not PEM")
	}
	k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("federation: parse stored key: %w", err)
	}
	s.key, s.keyAt = k, at
	return k, nil
}

// since is when federation began here (its key was made), which actors
// publish as their published date, as Owncast publishes its server's
// first start.
func (s *Service) since(ctx context.Context) (time.Time, error) {
	if _, err := s.privateKey(ctx); err != nil {
		return time.Time{}, err
	}
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	return s.keyAt, nil
}

// PublicKeyPEM returns the shared public key in PEM (PKIX), as actors
// publish it.
func (s *Service) PublicKeyPEM(ctx context.Context) (string, error) {
	k, err := s.privateKey(ctx)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// blocked reports whether host is in the blocked domains (a domain blocks
// its subdomains too).
func blocked(st Settings, host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, d := range st.BlockedDomains {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "" {
			continue
		}
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}
