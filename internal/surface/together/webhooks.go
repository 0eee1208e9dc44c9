package together

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// Webhook is a server's outgoing webhook.
type Webhook struct {
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

// WebhookStore persists webhooks (internal/store/together_webhooks.go).
type WebhookStore interface {
	CreateWebhook(ctx context.Context, w *Webhook) error
	UpdateWebhook(ctx context.Context, w *Webhook) error
	DeleteWebhook(ctx context.Context, communityID, id string) error
	Webhook(ctx context.Context, communityID, id string) (*Webhook, error)
	Webhooks(ctx context.Context, communityID string) ([]*Webhook, error)
	WebhookDelivered(ctx context.Context, id string, ok bool, at time.Time) error
}

// Webhook delivery, as Together's: up to 3 attempts, 5 s then 15 s apart,
// 10 s each, on Hearth's one delivery engine (internal/webhooks); at most
// 64 deliveries wait, more are dropped and counted as failures.
var (
	webhookDelivery = webhooks.EngineConfig{Workers: 16, QueueSize: 64, Delays: []time.Duration{5 * time.Second, 15 * time.Second},
		Timeout: 10 * time.Second}
	webhookEvents = []string{"message.created", "message.updated", "message.deleted", "member.joined", "member.left"}
)

const maxWebhooksPerServer = 10

type webhookDTO struct {
	ID               string     `json:"id"`
	ServerID         string     `json:"server_id"`
	CreatedBy        string     `json:"created_by"`
	Name             string     `json:"name"`
	URL              string     `json:"url"`
	EventTypes       []string   `json:"event_types"`
	Enabled          bool       `json:"enabled"`
	DeliveryFailures int        `json:"delivery_failures"`
	LastUsedAt       *time.Time `json:"last_used_at"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
}

func toWebhook(w *Webhook) webhookDTO {
	return webhookDTO{ID: w.ID, ServerID: w.CommunityID, CreatedBy: w.CreatedBy, Name: w.Name, URL: w.URL, EventTypes: w.EventTypes,
		Enabled: w.Enabled, DeliveryFailures: w.DeliveryFailures, LastUsedAt: w.LastUsedAt, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

// webhookAdmin: the owner or ADMINISTRATOR, as Together's
// require_manage_webhooks.
func (s *Surface) webhookAdmin(r *http.Request, p *identity.Principal) (*community.Access, error) {
	if s.d.Webhooks == nil || s.d.Egress == nil {
		return nil, fault.New(fault.Unavailable, "Webhooks are not available")
	}
	id, err := serverID(r)
	if err != nil {
		return nil, err
	}
	a, err := s.d.Community.Access(r.Context(), p.Account.ID, id)
	if err != nil {
		return nil, err
	}
	if !a.IsOwner && !a.Has(community.PermAdministrator) {
		return nil, fault.New(fault.Forbidden, "You need the Administrator permission to manage webhooks")
	}
	return a, nil
}

func checkWebhookURL(raw string) error {
	if len(raw) > 2000 {
		return invalid("Webhook URL must be ≤2000 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid("Webhook URL must use http:// or https://")
	}
	return nil
}

func checkEventTypes(ts []string) error {
	if len(ts) == 0 {
		return invalid("event_types must contain at least one event")
	}
	for _, t := range ts {
		if !slices.Contains(webhookEvents, t) {
			return invalid("Unknown event type '" + t + "'. Valid types: " + strings.Join(webhookEvents, ", "))
		}
	}
	return nil
}

func (s *Surface) listWebhooks(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	a, err := s.webhookAdmin(r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	ws, err := s.d.Webhooks.Webhooks(r.Context(), a.Community.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := mapAll(ws, toWebhook)
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": out})
}

func (s *Surface) createWebhook(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	a, err := s.webhookAdmin(r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	var in struct {
		Name       *string  `json:"name"`
		URL        *string  `json:"url"`
		EventTypes []string `json:"event_types"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	if in.Name == nil || in.URL == nil || in.EventTypes == nil {
		writeError(w, http.StatusUnprocessableEntity, "name, url and event_types are required")
		return
	}
	name := strings.TrimSpace(*in.Name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		s.fail(w, invalid("Webhook name must be 1–100 characters"))
		return
	}
	if err := checkWebhookURL(*in.URL); err != nil {
		s.fail(w, err)
		return
	}
	if err := checkEventTypes(in.EventTypes); err != nil {
		s.fail(w, err)
		return
	}
	ctx := r.Context()
	existing, err := s.d.Webhooks.Webhooks(ctx, a.Community.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	if len(existing) >= maxWebhooksPerServer {
		s.fail(w, invalid("Servers are limited to 10 webhooks"))
		return
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		s.fail(w, err)
		return
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	wh := &Webhook{ID: uuid.Must(uuid.NewV7()).String(), CommunityID: a.Community.ID, CreatedBy: p.Account.ID, Name: name, URL: *in.URL,
		Secret: hex.EncodeToString(raw), EventTypes: in.EventTypes, Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := s.d.Webhooks.CreateWebhook(ctx, wh); err != nil {
		s.fail(w, err)
		return
	}
	s.audit(r, a.Community.ID, p, "webhook.create", "webhook", wh.ID, map[string]any{"name": name})
	writeJSON(w, http.StatusCreated, map[string]any{"webhook": toWebhook(wh), "secret": wh.Secret})
}

func (s *Surface) webhookOf(r *http.Request, p *identity.Principal) (*Webhook, error) {
	a, err := s.webhookAdmin(r, p)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("webhook_id")
	notFound := fault.New(fault.NotFound, "Webhook not found")
	if _, err := uuid.Parse(id); err != nil {
		return nil, notFound
	}
	wh, err := s.d.Webhooks.Webhook(r.Context(), a.Community.ID, id)
	if errors.Is(err, fault.NotFound) {
		return nil, notFound
	}
	return wh, err
}

func (s *Surface) getWebhook(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	wh, err := s.webhookOf(r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toWebhook(wh))
}

func (s *Surface) updateWebhook(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	wh, err := s.webhookOf(r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	var in struct {
		Name       *string  `json:"name"`
		URL        *string  `json:"url"`
		EventTypes []string `json:"event_types"`
		Enabled    *bool    `json:"enabled"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if name == "" || utf8.RuneCountInString(name) > 100 {
			s.fail(w, invalid("Webhook name must be 1–100 characters"))
			return
		}
		wh.Name = name
	}
	if in.URL != nil {
		if err := checkWebhookURL(*in.URL); err != nil {
			s.fail(w, err)
			return
		}
		wh.URL = *in.URL
	}
	if in.EventTypes != nil {
		if err := checkEventTypes(in.EventTypes); err != nil {
			s.fail(w, err)
			return
		}
		wh.EventTypes = in.EventTypes
	}
	if in.Enabled != nil {
		wh.Enabled = *in.Enabled
	}
	wh.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
	if err := s.d.Webhooks.UpdateWebhook(r.Context(), wh); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toWebhook(wh))
}

func (s *Surface) deleteWebhook(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	wh, err := s.webhookOf(r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.d.Webhooks.DeleteWebhook(r.Context(), wh.CommunityID, wh.ID); err != nil {
		s.fail(w, err)
		return
	}
	s.audit(r, wh.CommunityID, p, "webhook.delete", "webhook", wh.ID, nil)
	noContent(w)
}

func (s *Surface) testWebhook(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	wh, err := s.webhookOf(r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	c, err := s.d.Community.Store().Community(r.Context(), wh.CommunityID)
	if err != nil {
		s.fail(w, err)
		return
	}
	body, _ := json.Marshal(map[string]any{"event": "ping", "server_id": wh.CommunityID, "data": map[string]any{
		"webhook_id": wh.ID, "server_name": c.Name, "message": "This is a test event from Together."}})
	s.deliver(wh, body)
	w.WriteHeader(http.StatusAccepted)
}

// fireWebhooks sends an event to the server's enabled webhooks that
// subscribe to it. It is called by the node that handled the request, so
// each event is delivered once however many nodes run.
func (s *Surface) fireWebhooks(ctx context.Context, communityID, event string, data any) {
	if s.d.Webhooks == nil || s.d.Egress == nil {
		return
	}
	ws, err := s.d.Webhooks.Webhooks(ctx, communityID)
	if err != nil {
		s.log.Warn("webhooks: list", "err", err)
		return
	}
	var body []byte
	for _, wh := range ws {
		if !wh.Enabled || !slices.Contains(wh.EventTypes, event) {
			continue
		}
		if body == nil {
			if body, err = json.Marshal(map[string]any{"event": event, "server_id": communityID, "data": data}); err != nil {
				return
			}
		}
		s.deliver(wh, body)
	}
}

// signWebhook is Together's X-Together-Signature-256 value.
func signWebhook(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// deliver queues body for the webhook on the delivery engine, signed
// Together's way; the outcome of the last attempt is recorded on the
// webhook (a dropped delivery counts as a failure).
func (s *Surface) deliver(wh *Webhook, body []byte) {
	s.hooks.Enqueue(s.bg, &webhooks.Delivery{URL: wh.URL, Body: body,
		Sign: func(h http.Header, attempt int, _ time.Time) {
			h.Set("X-Together-Signature-256", signWebhook(wh.Secret, body))
			h.Set("X-Together-Hook-ID", wh.ID)
			h.Set("X-Together-Delivery-Attempt", strconv.Itoa(attempt))
		},
		Report: func(ctx context.Context, attempt int, err error, final bool) {
			if err != nil {
				s.log.Info("webhooks: delivery failed", "webhook", wh.ID, "attempt", attempt, "err", err)
			}
			if !final {
				return
			}
			if err := s.d.Webhooks.WebhookDelivered(ctx, wh.ID, err == nil, time.Now().UTC()); err != nil && s.bg.Err() == nil {
				s.log.Warn("webhooks: record delivery", "err", err)
			}
		}})
}
