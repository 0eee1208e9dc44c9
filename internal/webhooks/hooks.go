package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

// Hook is a community's outgoing webhook (Together's).
type Hook struct {
	ID               string
	CommunityID      string
	CreatedBy        string
	Name             string
	URL              string
	Secret           string
	EventTypes       []string
	Enabled          bool
	DeliveryFailures int
	LastUsedAt       *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// HookFields names the fields of a webhook an update writes.
type HookFields uint8

// The fields of a webhook an update can write.
const (
	HookName HookFields = 1 << iota
	HookURL
	HookEvents
	HookEnabled
)

// HookStore persists communities' webhooks
// (internal/store/together_webhooks.go). Lookups that match nothing return
// fault.NotFound.
type HookStore interface {
	// CreateWebhook inserts w, or answers ErrTooManyHooks when its
	// community has max already; the count and insert are one transaction.
	CreateWebhook(ctx context.Context, w *Hook, max int) error
	// UpdateWebhook writes only w's fields named by f (and its
	// updated_at).
	UpdateWebhook(ctx context.Context, w *Hook, f HookFields) error
	DeleteWebhook(ctx context.Context, communityID, id string) error
	Webhook(ctx context.Context, communityID, id string) (*Hook, error)
	Webhooks(ctx context.Context, communityID string) ([]*Hook, error)
	WebhookDelivered(ctx context.Context, id string, ok bool, at time.Time) error
}

// Managers says who may manage a community's webhooks (community.Service):
// an error with a fault kind when actor may not.
type Managers interface {
	CanManageWebhooks(ctx context.Context, actor, communityID string) error
}

// Format is a surface's wire format for its communities' webhooks, and
// its delivery policy on the engine.
type Format struct {
	// Kind names the format's deliveries on the engine (unique per engine).
	Kind string
	// Delays are the waits before each retry; Timeout caps each request;
	// MaxWaiting caps the deliveries waiting per webhook (Kind's fields).
	Delays     []time.Duration
	Timeout    time.Duration
	MaxWaiting int
	// Events are the event names a hook may subscribe to.
	Events []string
	// Encode builds the body of one event.
	Encode func(communityID, event string, data any) ([]byte, error)
	// Sign sets a request's headers for attempt n, 1-based.
	Sign func(h http.Header, hook *Hook, body []byte, n int)
}

// Reach says which addresses a community's webhooks may connect to. The
// engine's client reaches, besides public addresses, the loopback and
// private ones the operator allowed (--webhook-allow-addrs: a bot on the
// same host) for the operator's own webhooks; a community is anyone's to
// make, so its webhooks go through that client only when Operator says
// the community is the operator's (its owner is an instance admin), and
// through Public, which reaches public addresses only, otherwise. The
// zero Reach sends every delivery through the engine's client.
type Reach struct {
	Public   Doer
	Operator func(ctx context.Context, communityID string) (bool, error)
}

// MaxHooks is how many webhooks a community may have.
const MaxHooks = 10

// ErrTooManyHooks answers a create past MaxHooks (Together's wording).
var ErrTooManyHooks = fault.Newf(fault.Invalid, "Servers are limited to %d webhooks", MaxHooks)

// Hooks are communities' outgoing webhooks: who manages them, what a valid
// one is, and delivery of events on an Engine in the surface's Format.
type Hooks struct {
	st     HookStore
	mgr    Managers
	engine *Engine
	f      Format
	reach  Reach
	log    *slog.Logger
	now    func() time.Time
}

// NewHooks builds the service and registers f's kind on engine (which the
// caller runs); reach says where its deliveries may connect.
func NewHooks(st HookStore, mgr Managers, engine *Engine, f Format, reach Reach, logger *slog.Logger) (*Hooks, error) {
	if st == nil || mgr == nil || engine == nil || f.Kind == "" || f.Encode == nil || f.Sign == nil {
		return nil, errors.New("webhooks: hooks need a store, managers, an engine and a format")
	}
	if reach.Public != nil && reach.Operator == nil {
		return nil, errors.New("webhooks: a public-only client needs the operator's communities named")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Hooks{st: st, mgr: mgr, engine: engine, f: f, reach: reach, log: logger, now: time.Now}
	k := Kind{Name: f.Kind, Delays: f.Delays, Timeout: f.Timeout, MaxWaiting: f.MaxWaiting, Sign: h.sign, Report: h.report}
	if reach.Public != nil {
		k.ClientFor = h.clientFor
	}
	if err := engine.Register(k); err != nil {
		return nil, err
	}
	return h, nil
}

// clientFor is the client a delivery goes through (Reach): the engine's
// for a community of the operator's, Public for any other.
func (h *Hooks) clientFor(ctx context.Context, d *Queued) (Doer, error) {
	communityID, _, _ := strings.Cut(d.Ref, "/")
	operator, err := h.reach.Operator(ctx, communityID)
	if err != nil {
		return nil, err
	}
	if operator {
		return nil, nil
	}
	return h.reach.Public, nil
}

var errHookNotFound = fault.New(fault.NotFound, "Webhook not found")

// CanManage is Managers' verdict for actor in a community.
func (h *Hooks) CanManage(ctx context.Context, actor, communityID string) error {
	return h.mgr.CanManageWebhooks(ctx, actor, communityID)
}

func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return "", fault.New(fault.Invalid, "Webhook name must be 1–100 characters")
	}
	return name, nil
}

func checkHookURL(raw string) error {
	if len(raw) > 2000 {
		return fault.New(fault.Invalid, "Webhook URL must be ≤2000 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fault.New(fault.Invalid, "Webhook URL must use http:// or https://")
	}
	return nil
}

// checkEvents validates a hook's event types and returns them once each,
// in their first order. A name given again is dropped rather than stored:
// every event of the community reads each of its hooks' lists, so a list
// repeating one name to the body cap (55,000 times in 1 MiB) made every
// message posted there cost the node tens of MiB of decoding per hook.
func (h *Hooks) checkEvents(ts []string) ([]string, error) {
	if len(ts) == 0 {
		return nil, fault.New(fault.Invalid, "event_types must contain at least one event")
	}
	out := make([]string, 0, min(len(ts), len(h.f.Events)))
	for _, t := range ts {
		if !slices.Contains(h.f.Events, t) {
			return nil, fault.New(fault.Invalid, "Unknown event type '"+t+"'. Valid types: "+strings.Join(h.f.Events, ", "))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// List returns a community's webhooks.
func (h *Hooks) List(ctx context.Context, actor, communityID string) ([]*Hook, error) {
	if err := h.CanManage(ctx, actor, communityID); err != nil {
		return nil, err
	}
	return h.st.Webhooks(ctx, communityID)
}

// Create validates and adds a webhook with a fresh secret.
func (h *Hooks) Create(ctx context.Context, actor, communityID, name, rawURL string, events []string) (*Hook, error) {
	if err := h.CanManage(ctx, actor, communityID); err != nil {
		return nil, err
	}
	name, err := checkName(name)
	if err != nil {
		return nil, err
	}
	if err := checkHookURL(rawURL); err != nil {
		return nil, err
	}
	events, err = h.checkEvents(events)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("webhooks: secret: %w", err)
	}
	now := h.now().UTC().Truncate(time.Microsecond)
	w := &Hook{ID: identity.NewID(), CommunityID: communityID, CreatedBy: actor, Name: name, URL: rawURL,
		Secret: hex.EncodeToString(raw), EventTypes: events, Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := h.st.CreateWebhook(ctx, w, MaxHooks); err != nil {
		return nil, err
	}
	return w, nil
}

// Get returns one of a community's webhooks.
func (h *Hooks) Get(ctx context.Context, actor, communityID, id string) (*Hook, error) {
	if err := h.CanManage(ctx, actor, communityID); err != nil {
		return nil, err
	}
	if _, err := uuid.Parse(id); err != nil {
		return nil, errHookNotFound
	}
	w, err := h.st.Webhook(ctx, communityID, id)
	if errors.Is(err, fault.NotFound) {
		return nil, errHookNotFound
	}
	return w, err
}

// HookPatch changes a webhook; nil fields are kept.
type HookPatch struct {
	Name, URL  *string
	EventTypes []string
	Enabled    *bool
}

// Update validates and saves a change to w (from Get). Only the fields p
// carries are written: an edit from an older read keeps another manager's
// change of the others (a disable, a new URL).
func (h *Hooks) Update(ctx context.Context, w *Hook, p HookPatch) error {
	var f HookFields
	if p.Name != nil {
		name, err := checkName(*p.Name)
		if err != nil {
			return err
		}
		w.Name, f = name, f|HookName
	}
	if p.URL != nil {
		if err := checkHookURL(*p.URL); err != nil {
			return err
		}
		w.URL, f = *p.URL, f|HookURL
	}
	if p.EventTypes != nil {
		events, err := h.checkEvents(p.EventTypes)
		if err != nil {
			return err
		}
		w.EventTypes, f = events, f|HookEvents
	}
	if p.Enabled != nil {
		w.Enabled, f = *p.Enabled, f|HookEnabled
	}
	w.UpdatedAt = h.now().UTC().Truncate(time.Microsecond)
	return h.st.UpdateWebhook(ctx, w, f)
}

// Delete removes w (from Get).
func (h *Hooks) Delete(ctx context.Context, w *Hook) error {
	return h.st.DeleteWebhook(ctx, w.CommunityID, w.ID)
}

// Send delivers one body to w whatever it subscribes to (a test event).
func (h *Hooks) Send(ctx context.Context, w *Hook, body []byte) { h.deliver(ctx, w, body) }

// Fire sends an event to the community's enabled webhooks that subscribe
// to it. Call it once per event in the cluster (the node that handled the
// request).
func (h *Hooks) Fire(ctx context.Context, communityID, event string, data any) {
	ws, err := h.st.Webhooks(ctx, communityID)
	if err != nil {
		h.log.Warn("webhooks: list", "err", err)
		return
	}
	var body []byte
	for _, w := range ws {
		if !w.Enabled || !slices.Contains(w.EventTypes, event) {
			continue
		}
		if body == nil {
			if body, err = h.f.Encode(communityID, event, data); err != nil {
				h.log.Error("webhooks: encode", "event", event, "err", err)
				return
			}
		}
		h.deliver(ctx, w, body)
	}
}

// deliver queues body for w in the durable queue; the delivery refers to
// w by "<community id>/<webhook id>".
func (h *Hooks) deliver(ctx context.Context, w *Hook, body []byte) {
	h.engine.Enqueue(ctx, h.f.Kind, w.CommunityID+"/"+w.ID, w.URL, body)
}

// sign signs a delivery with its webhook as it is now (fault.NotFound when
// the webhook was deleted: the delivery is dropped).
func (h *Hooks) sign(ctx context.Context, d *Queued, hd http.Header, n int, _ time.Time) error {
	communityID, id, _ := strings.Cut(d.Ref, "/")
	w, err := h.st.Webhook(ctx, communityID, id)
	if err != nil {
		return err
	}
	h.f.Sign(hd, w, d.Body, n)
	return nil
}

// report logs failed attempts and records the outcome of the last one on
// the webhook (a dropped delivery counts as a failure).
func (h *Hooks) report(ctx context.Context, d *Queued, n int, err error, final bool) {
	_, id, _ := strings.Cut(d.Ref, "/")
	if err != nil {
		h.log.Info("webhooks: delivery failed", "webhook", id, "attempt", n, "err", err)
	}
	if !final {
		return
	}
	if err := h.st.WebhookDelivered(ctx, id, err == nil, h.now().UTC()); err != nil {
		h.log.Warn("webhooks: record delivery", "err", err)
	}
}
