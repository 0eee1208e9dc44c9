package owncast

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
)

// Integration scopes.
const (
	scopeSendMessages       = "CAN_SEND_MESSAGES"
	scopeSendSystemMessages = "CAN_SEND_SYSTEM_MESSAGES"
	scopeAdmin              = "HAS_ADMIN_ACCESS"
)

func newEventID() string { return identity.NewID() }

type principalKey struct{}

func integration(r *http.Request) *identity.Principal {
	p, _ := r.Context().Value(principalKey{}).(*identity.Principal)
	return p
}

// requireIntegration is Owncast's Bearer-token middleware: any
// capitalisation of "Bearer", the token's scope, CORS "*".
func (s *Surface) requireIntegration(scope string, next http.HandlerFunc) http.Handler {
	return s.wrap(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		auth := r.Header.Get("Authorization")
		var tok string
		if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
			tok = strings.TrimSpace(auth[7:])
		}
		// The scope is checked before the token is marked used: a refused
		// call leaves lastUsedAt as it was, as in Owncast.
		p, err := s.d.Identity.AuthenticateScopedToken(r.Context(), identity.IntegrationToken, tok, scope)
		if err != nil || p.Token == nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

type bodyRequest struct {
	Body   string `json:"body"`
	Author string `json:"author"`
}

func (s *Surface) registerIntegrations(h *httpserver.Server) {
	h.Handle("OPTIONS /api/integrations/{path...}", s.wrap(corsPreflight))
	// The chat routes refuse in Owncast's {"error"} shape (its
	// BadRequestHandler), which integrations read the reason from; Owncast
	// answers bad JSON there with a 200 (its InternalErrorHandler sets no
	// status), Hearth with a 400.
	h.Handle("POST /api/integrations/chat/system", s.requireIntegration(scopeSendSystemMessages, func(w http.ResponseWriter, r *http.Request) {
		var req bodyRequest
		if !readJSONError(w, r, &req) {
			return
		}
		if _, err := s.d.Chat.SendSystem(r.Context(), req.Body); err != nil {
			writeErrorAs(w, err, asError)
			return
		}
		writeResult(w, http.StatusOK, true, "sent")
	}))
	h.Handle("POST /api/integrations/chat/system/client/{clientId}", s.requireIntegration(scopeSendSystemMessages, func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Body *string `json:"body"`
		}
		if !readJSONError(w, r, &req) {
			return
		}
		if req.Body == nil || strings.TrimSpace(*req.Body) == "" {
			writeResult(w, http.StatusBadRequest, false, "no message body provided")
			return
		}
		id, err := strconv.ParseUint(r.PathValue("clientId"), 10, 64)
		c := s.chat.get(id)
		if err != nil || c == nil {
			writeResult(w, http.StatusBadRequest, false, "client not found")
			return
		}
		c.conn.Send(frame(evSystem, map[string]any{"body": s.chat.render.Chat(*req.Body),
			"user": map[string]any{"displayName": s.d.Chat.Settings().Name}}))
		writeResult(w, http.StatusOK, true, "sent")
	}))
	h.Handle("POST /api/integrations/chat/send", s.requireIntegration(scopeSendMessages, func(w http.ResponseWriter, r *http.Request) {
		var req bodyRequest
		if !readJSONError(w, r, &req) {
			return
		}
		u, err := s.d.Chat.UserForAccount(r.Context(), integration(r).Account)
		if err != nil {
			writeErrorAs(w, err, asError)
			return
		}
		m, err := s.d.Chat.Send(r.Context(), u, req.Body)
		if err != nil {
			writeErrorAs(w, err, asError)
			return
		}
		if m == nil {
			asError(w, http.StatusBadRequest, "invalid message")
			return
		}
		if s.d.Webhooks != nil {
			s.d.Webhooks.Dispatch(r.Context(), evChat, s.chatWebhookData(r.Context(), m, u, 0))
		}
		writeResult(w, http.StatusOK, true, "sent")
	}))
	h.Handle("POST /api/integrations/chat/user", s.requireIntegration(scopeSendMessages, func(w http.ResponseWriter, r *http.Request) {
		asError(w, http.StatusBadRequest, "no longer supported. see /api/integrations/chat/send")
	}))
	h.Handle("POST /api/integrations/chat/action", s.requireIntegration(scopeSendSystemMessages, func(w http.ResponseWriter, r *http.Request) {
		var req bodyRequest
		if !readJSONError(w, r, &req) {
			return
		}
		body := req.Body
		if a := strings.TrimSpace(req.Author); a != "" {
			body = "**" + a + "** " + body
		}
		if _, err := s.d.Chat.SendAction(r.Context(), body); err != nil {
			writeErrorAs(w, err, asError)
			return
		}
		writeResult(w, http.StatusOK, true, "sent")
	}))
	h.Handle("POST /api/integrations/chat/messagevisibility", s.requireIntegration(scopeAdmin, s.handleVisibility))
	h.Handle("POST /api/integrations/streamtitle", s.requireIntegration(scopeAdmin, s.setStreamTitle))
	h.Handle("GET /api/integrations/chat", s.requireIntegration(scopeAdmin, func(w http.ResponseWriter, r *http.Request) {
		s.writeHistory(w, r, true)
	}))
	h.Handle("GET /api/integrations/clients", s.requireIntegration(scopeAdmin, func(w http.ResponseWriter, r *http.Request) {
		s.writeClients(w)
	}))
	h.Handle("GET /api/integrations/moderation/chat/user/{userId}", s.requireIntegration(scopeAdmin, s.handleUserDetails))
}

// setStreamTitle is POST …/config/streamtitle and …/integrations/streamtitle.
func (s *Surface) setStreamTitle(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Value *string `json:"value"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if req.Value == nil {
		// A body without a value must not clear the title.
		writeResult(w, http.StatusBadRequest, false, "unable to parse new value")
		return
	}
	title := strings.TrimSpace(*req.Value)
	if len([]rune(title)) > 500 {
		writeResult(w, http.StatusBadRequest, false, "stream title is too long")
		return
	}
	if err := s.d.Chat.SetStreamTitle(r.Context(), title); err != nil {
		writeError(w, err)
		return
	}
	if s.d.Webhooks != nil {
		set := s.d.Chat.Settings()
		s.d.Webhooks.Dispatch(r.Context(), evTitleUpdated, map[string]any{"id": newEventID(), "timestamp": time.Now().UTC(),
			"name": set.Name, "summary": set.Summary, "streamTitle": title, "status": s.statusForWebhook()})
	}
	writeResult(w, http.StatusOK, true, "changed")
}
