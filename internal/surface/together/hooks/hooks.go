// Package hooks serves Together's outgoing webhooks: the
// /servers/{id}/webhooks routes and Together's payload and signature
// (format), delivered by the node's one engine (internal/webhooks).
package hooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/surface/together/rest"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// Webhook is a server's outgoing webhook.
type Webhook = webhooks.Hook

// format is Together's: {"event", "server_id", "data"} bodies,
// signed X-Together-Signature-256 with the hook's id and attempt; up to 3
// attempts, 5 s then 15 s apart, 10 s each, on Hearth's one durable
// delivery engine (internal/webhooks); at most 64 deliveries wait per
// webhook, more are dropped and counted as failures.
var (
	format = webhooks.Format{
		Kind:       "together",
		Delays:     []time.Duration{5 * time.Second, 15 * time.Second},
		Timeout:    10 * time.Second,
		MaxWaiting: 64,
		Events:     []string{"message.created", "message.updated", "message.deleted", "member.joined", "member.left"},
		Encode: func(communityID, event string, data any) ([]byte, error) {
			return json.Marshal(map[string]any{"event": event, "server_id": communityID, "data": data})
		},
		Sign: func(h http.Header, wh *Webhook, body []byte, attempt int) {
			h.Set("X-Together-Signature-256", signWebhook(wh.Secret, body))
			h.Set("X-Together-Hook-ID", wh.ID)
			h.Set("X-Together-Delivery-Attempt", strconv.Itoa(attempt))
		},
	}
)

// API serves the routes and fires the events.
type API struct {
	*rest.Base
	hooks *webhooks.Hooks // nil without a store or an engine: routes 503, Fire does nothing
}

// New builds the routes on b; without store or engine the routes answer
// 503 and Fire sends nothing. reach says where the deliveries may connect.
func New(b *rest.Base, store webhooks.HookStore, engine *webhooks.Engine, reach webhooks.Reach) (*API, error) {
	s := &API{Base: b}
	if store == nil || engine == nil {
		return s, nil
	}
	h, err := webhooks.NewHooks(store, b.Community, engine, format, reach, b.Log.With("component", "together-webhooks"))
	if err != nil {
		return nil, err
	}
	s.hooks = h
	return s, nil
}

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

// webhookServer returns the server id of a webhook route the caller may
// manage.
func (s *API) webhookServer(r *http.Request, p *identity.Principal) (string, error) {
	if s.hooks == nil {
		return "", fault.New(fault.Unavailable, "Webhooks are not available")
	}
	id, err := rest.ServerID(r)
	if err != nil {
		return "", err
	}
	return id, s.hooks.CanManage(r.Context(), p.Account.ID, id)
}

func (s *API) List(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := s.webhookServer(r, p)
	if err != nil {
		s.Fail(w, err)
		return
	}
	ws, err := s.hooks.List(r.Context(), p.Account.ID, id)
	if err != nil {
		s.Fail(w, err)
		return
	}
	out := rest.MapAll(ws, toWebhook)
	rest.WriteJSON(w, http.StatusOK, map[string]any{"webhooks": out})
}

func (s *API) Create(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := s.webhookServer(r, p)
	if err != nil {
		s.Fail(w, err)
		return
	}
	var in struct {
		Name       *string  `json:"name"`
		URL        *string  `json:"url"`
		EventTypes []string `json:"event_types"`
	}
	if err := rest.Decode(r, &in, false); err != nil {
		s.Bad(w, err)
		return
	}
	if in.Name == nil || in.URL == nil || in.EventTypes == nil {
		rest.WriteError(w, http.StatusUnprocessableEntity, "name, url and event_types are required")
		return
	}
	wh, err := s.hooks.Create(r.Context(), p.Account.ID, id, *in.Name, *in.URL, in.EventTypes)
	if err != nil {
		s.Fail(w, err)
		return
	}
	s.Audit(r, id, p, "webhook_create", "webhook", wh.ID, map[string]any{"name": wh.Name})
	rest.WriteJSON(w, http.StatusCreated, map[string]any{"webhook": toWebhook(wh), "secret": wh.Secret})
}

func (s *API) webhookOf(r *http.Request, p *identity.Principal) (*Webhook, error) {
	id, err := s.webhookServer(r, p)
	if err != nil {
		return nil, err
	}
	return s.hooks.Get(r.Context(), p.Account.ID, id, r.PathValue("webhook_id"))
}

func (s *API) Get(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	wh, err := s.webhookOf(r, p)
	if err != nil {
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusOK, toWebhook(wh))
}

func (s *API) Update(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	wh, err := s.webhookOf(r, p)
	if err != nil {
		s.Fail(w, err)
		return
	}
	var in struct {
		Name       *string  `json:"name"`
		URL        *string  `json:"url"`
		EventTypes []string `json:"event_types"`
		Enabled    *bool    `json:"enabled"`
	}
	if err := rest.Decode(r, &in, false); err != nil {
		s.Bad(w, err)
		return
	}
	if err := s.hooks.Update(r.Context(), wh, webhooks.HookPatch{Name: in.Name, URL: in.URL, EventTypes: in.EventTypes, Enabled: in.Enabled}); err != nil {
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusOK, toWebhook(wh))
}

func (s *API) Delete(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	wh, err := s.webhookOf(r, p)
	if err != nil {
		s.Fail(w, err)
		return
	}
	if err := s.hooks.Delete(r.Context(), wh); err != nil {
		s.Fail(w, err)
		return
	}
	s.Audit(r, wh.CommunityID, p, "webhook_delete", "webhook", wh.ID, nil)
	rest.NoContent(w)
}

func (s *API) Test(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	wh, err := s.webhookOf(r, p)
	if err != nil {
		s.Fail(w, err)
		return
	}
	c, err := s.Community.Store().Community(r.Context(), wh.CommunityID)
	if err != nil {
		s.Fail(w, err)
		return
	}
	body, _ := json.Marshal(map[string]any{"event": "ping", "server_id": wh.CommunityID, "data": map[string]any{
		"webhook_id": wh.ID, "server_name": c.Name, "message": "This is a test event from Together."}})
	s.hooks.Send(r.Context(), wh, body)
	// Together's 202 has no body, which its web client's request() feeds
	// to res.json() (it spares only 204): the Test button reported
	// "Unexpected end of JSON input". Same status, a body it can read.
	rest.WriteJSON(w, http.StatusAccepted, map[string]string{"message": "Test event queued"})
}

// Fire sends an event to the server's webhooks that subscribe to
// it. It is called by the node that handled the request, so each event is
// delivered once however many nodes run.
func (s *API) Fire(ctx context.Context, communityID, event string, data any) {
	if s.hooks != nil {
		s.hooks.Fire(ctx, communityID, event, data)
	}
}

// signWebhook is Together's X-Together-Signature-256 value.
func signWebhook(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
