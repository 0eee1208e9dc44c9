// Package webhooks delivers instance events to operator-registered URLs the
// way Owncast does: a JSON POST of {"type": <EVENT>, "eventData": {...}}.
// Unlike Owncast 0.1.3, every delivery is signed the Owncast 0.3 way
// (owncast-signature: t=<unix>.s=<hex HMAC-SHA256(secret, "<t>." + body)>),
// kept in a durable queue until sent (Engine), retried with exponential
// backoff when it fails, and recorded (last used, last error). Every
// request goes through the SSRF-safe egress client.
package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

// Event types (Owncast's names).
const (
	Chat               = "CHAT"
	NameChange         = "NAME_CHANGE"
	UserJoined         = "USER_JOINED"
	UserParted         = "USER_PARTED"
	VisibilityUpdate   = "VISIBILITY-UPDATE"
	StreamStarted      = "STREAM_STARTED"
	StreamStopped      = "STREAM_STOPPED"
	StreamTitleUpdated = "STREAM_TITLE_UPDATED"
	FediverseFollow    = "FEDIVERSE_ENGAGEMENT_FOLLOW"
	FediverseLike      = "FEDIVERSE_ENGAGEMENT_LIKE"
	FediverseRepost    = "FEDIVERSE_ENGAGEMENT_REPOST"
	// RecordingReady is Hearth's: a broadcast's recording is finished and
	// playable (not an Owncast event; same payload envelope).
	RecordingReady = "RECORDING_READY"
	// ScheduledEvents is a scheduled stream's lifecycle (Owncast's
	// SCHEDULED_EVENTS: action 10-minute-warning, started or ended).
	ScheduledEvents = "SCHEDULED_EVENTS"
)

// EventTypes lists every event a webhook may subscribe to.
var EventTypes = []string{Chat, NameChange, UserJoined, UserParted, VisibilityUpdate, StreamStarted, StreamStopped,
	StreamTitleUpdated, FediverseFollow, FediverseLike, FediverseRepost, RecordingReady, ScheduledEvents}

// SignatureHeader carries the delivery signature.
const SignatureHeader = "owncast-signature"

// Webhook is one subscription.
type Webhook struct {
	ID          string
	URL         string
	Events      []string
	Secret      string
	CreatedAt   time.Time
	LastUsedAt  *time.Time
	LastError   string
	LastErrorAt *time.Time
}

// Store persists webhooks. Lookups that match nothing return fault.NotFound.
type Store interface {
	CreateWebhook(ctx context.Context, w *Webhook) error
	Webhooks(ctx context.Context) ([]*Webhook, error)
	DeleteWebhook(ctx context.Context, id string) error
	// RecordDelivery sets last used (errMsg == "") or last error.
	RecordDelivery(ctx context.Context, id string, at time.Time, errMsg string) error
}

// Doer sends requests: the egress client.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
	CheckURL(raw string) (*url.URL, error)
}

// Publisher is the part of the bus the service needs.
type Publisher interface {
	Publish(ctx context.Context, topic string, data []byte) error
}

// ChangedTopic carries "a webhook was created or deleted" notices between
// nodes. Each node keeps the list of webhooks in memory; a node hearing the
// notice calls Invalidate, so an event on any node reaches a webhook
// created on another, and a webhook deleted on another gets no more.
const ChangedTopic = "webhooks.changed"

// Config tunes delivery.
type Config struct {
	Attempts  int           // tries per delivery; default 5
	Backoff   time.Duration // first retry delay, doubled each time; default 2 s
	QueueSize int           // deliveries waiting per webhook before new ones are dropped; default 10000
	// Bus, when set, hears ChangedTopic notices of this node's creates and
	// deletes (the caller subscribes the other nodes' Invalidate to it).
	Bus Publisher
}

// OwncastKind is the engine kind of Owncast's webhooks.
const OwncastKind = "owncast"

// Service manages Owncast's webhooks and delivers events through the
// Engine (which the caller runs).
type Service struct {
	st     Store
	client Doer
	engine *Engine
	log    *slog.Logger
	now    func() time.Time

	bus   Publisher
	mu    sync.RWMutex
	hooks []*Webhook // cache of subscriptions; nil = stale
	gen   uint64     // bumped by Invalidate: a load begun before it is not cached
}

// New builds the service and registers its Kind on engine; client checks
// webhook URLs (the egress client the engine sends with).
func New(cfg Config, st Store, engine *Engine, client Doer, logger *slog.Logger) (*Service, error) {
	if st == nil || engine == nil || client == nil {
		return nil, errors.New("webhooks: store, engine and client are required")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 2 * time.Second
	}
	delays := make([]time.Duration, cfg.Attempts-1)
	for i := range delays {
		delays[i] = cfg.Backoff << i
	}
	s := &Service{st: st, client: client, engine: engine, log: logger, now: time.Now, bus: cfg.Bus}
	if err := engine.Register(Kind{Name: OwncastKind, Delays: delays, MaxWaiting: cfg.QueueSize, Sign: s.sign, Report: s.report}); err != nil {
		return nil, err
	}
	return s, nil
}

// Create registers a webhook. The URL must be an absolute http(s) URL the
// egress client will fetch; events must be known types.
func (s *Service) Create(ctx context.Context, rawURL string, events []string) (*Webhook, error) {
	if len(rawURL) > 2048 {
		return nil, fault.New(fault.Invalid, "webhook url must be at most 2048 bytes")
	}
	if _, err := s.client.CheckURL(strings.TrimSpace(rawURL)); err != nil {
		return nil, fault.Wrap(fault.Invalid, "invalid webhook url: must be a public http(s) URL", err)
	}
	if len(events) == 0 || len(events) > len(EventTypes) {
		return nil, fault.Newf(fault.Invalid, "between 1 and %d events are required", len(EventTypes))
	}
	for _, e := range events {
		if !slices.Contains(EventTypes, e) {
			return nil, fault.Newf(fault.Invalid, "unknown event type %q", e)
		}
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("webhooks: secret: %w", err)
	}
	w := &Webhook{ID: identity.NewID(), URL: strings.TrimSpace(rawURL), Events: slices.Clone(events),
		Secret: hex.EncodeToString(secret), CreatedAt: s.now().UTC()}
	if err := s.st.CreateWebhook(ctx, w); err != nil {
		return nil, err
	}
	s.changed(ctx)
	return w, nil
}

// List returns every webhook.
func (s *Service) List(ctx context.Context) ([]*Webhook, error) { return s.st.Webhooks(ctx) }

// Delete removes a webhook.
func (s *Service) Delete(ctx context.Context, id string) error {
	if err := s.st.DeleteWebhook(ctx, id); err != nil {
		return err
	}
	s.changed(ctx)
	return nil
}

// changed drops this node's list of webhooks and tells the other nodes to
// drop theirs.
func (s *Service) changed(ctx context.Context) {
	s.Invalidate()
	if s.bus == nil {
		return
	}
	if err := s.bus.Publish(context.WithoutCancel(ctx), ChangedTopic, []byte(`{}`)); err != nil {
		s.log.Warn("publish webhooks change", "err", err)
	}
}

// Invalidate drops the in-memory list of webhooks; the next event reads
// the store. Call it when another node created or deleted a webhook
// (ChangedTopic).
func (s *Service) Invalidate() {
	s.mu.Lock()
	s.hooks = nil
	s.gen++
	s.mu.Unlock()
}

func (s *Service) subscriptions(ctx context.Context) ([]*Webhook, error) {
	s.mu.RLock()
	hs, gen := s.hooks, s.gen
	s.mu.RUnlock()
	if hs != nil {
		return hs, nil
	}
	hs, err := s.st.Webhooks(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.gen == gen { // else a change came in during the read: it may be stale
		s.hooks = hs
	}
	s.mu.Unlock()
	return hs, nil
}

// hook is the webhook with id (fault.NotFound when it is gone), reading
// the store again when the cache does not have it (another node made it).
func (s *Service) hook(ctx context.Context, id string) (*Webhook, error) {
	for range 2 {
		hs, err := s.subscriptions(ctx)
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			if h.ID == id {
				return h, nil
			}
		}
		s.Invalidate()
	}
	return nil, fault.NotFound
}

// Subscribed reports whether any webhook wants eventType, so callers can
// skip building (or claiming) an event nobody receives.
func (s *Service) Subscribed(ctx context.Context, eventType string) bool {
	hs, err := s.subscriptions(ctx)
	if err != nil {
		s.log.Error("load webhooks", "err", err)
		return false
	}
	for _, h := range hs {
		if slices.Contains(h.Events, eventType) {
			return true
		}
	}
	return false
}

// Dispatch queues eventData for every webhook subscribed to eventType, in
// the durable queue; it does not wait for the deliveries. When a webhook's
// queue is full the delivery is dropped and logged.
func (s *Service) Dispatch(ctx context.Context, eventType string, eventData any) {
	ts, err := s.targets(ctx, eventType, eventData)
	if err != nil {
		s.log.Error("webhook event", "type", eventType, "err", err)
		return
	}
	for _, t := range ts {
		s.engine.Enqueue(ctx, OwncastKind, t.Ref, t.URL, t.Body)
	}
}

// DispatchOnce is Dispatch for an event every node sees (a bus event, a
// moment each node's timer finds due): the node that claims key first
// queues it, the claim and the deliveries in one transaction
// (Engine.EnqueueOnce), so the event is delivered once and a node dying
// between the claim and the queue cannot lose it. It reports whether this
// call claimed the event; on an error nothing is claimed.
func (s *Service) DispatchOnce(ctx context.Context, key, eventType string, eventData any) (bool, error) {
	ts, err := s.targets(ctx, eventType, eventData)
	if err != nil {
		return false, err
	}
	return s.engine.EnqueueOnce(ctx, key, OwncastKind, ts)
}

// targets are the deliveries of an event: one per webhook subscribed to
// eventType.
func (s *Service) targets(ctx context.Context, eventType string, eventData any) ([]Target, error) {
	hs, err := s.subscriptions(ctx)
	if err != nil {
		return nil, fmt.Errorf("load webhooks: %w", err)
	}
	var body []byte
	var ts []Target
	for _, h := range hs {
		if !slices.Contains(h.Events, eventType) {
			continue
		}
		if body == nil {
			if body, err = json.Marshal(map[string]any{"type": eventType, "eventData": eventData}); err != nil {
				return nil, fmt.Errorf("encode webhook event: %w", err)
			}
		}
		ts = append(ts, Target{Ref: h.ID, URL: h.URL, Body: body})
	}
	return ts, nil
}

// sign signs a delivery with its webhook's secret, the Owncast way.
func (s *Service) sign(ctx context.Context, d *Queued, hd http.Header, _ int, t time.Time) error {
	h, err := s.hook(ctx, d.Ref)
	if err != nil {
		return err
	}
	hd.Set(SignatureHeader, Sign(h.Secret, t, d.Body))
	return nil
}

// report records every attempt on the webhook (last used, last error).
func (s *Service) report(ctx context.Context, d *Queued, n int, err error, final bool) {
	if errors.Is(err, ErrQueueFull) {
		s.log.Warn("webhook queue full; delivery dropped", "webhook", d.Ref)
		return
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if rerr := s.st.RecordDelivery(ctx, d.Ref, s.now().UTC(), msg); rerr != nil && !errors.Is(rerr, fault.NotFound) {
		s.log.Warn("record webhook delivery", "webhook", d.Ref, "err", rerr)
	}
	if err != nil && final {
		s.log.Warn("webhook delivery failed; giving up", "webhook", d.Ref, "attempts", n, "err", err)
	}
}

// Sign returns the owncast-signature header value for body at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ".s=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header against body, allowing skew.
func Verify(secret, header string, body []byte, now time.Time, skew time.Duration) bool {
	ts, sig, ok := strings.Cut(strings.TrimPrefix(header, "t="), ".s=")
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	t := time.Unix(n, 0)
	if now.Sub(t) > skew || t.Sub(now) > skew {
		return false
	}
	want := Sign(secret, t, body)
	return hmac.Equal([]byte(want), []byte("t="+ts+".s="+sig))
}
