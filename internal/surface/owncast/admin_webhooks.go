package owncast

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/webhooks"
)

func webhookJSON(h *webhooks.Webhook) map[string]any {
	return map[string]any{"id": ocWebhookID(h.ID), "url": h.URL, "events": h.Events, "timestamp": h.CreatedAt,
		"lastUsed": h.LastUsedAt, "lastError": h.LastError, "lastErrorAt": h.LastErrorAt, "secret": h.Secret}
}

// ocWebhookID is the integer id Owncast's API gives a webhook (Owncast numbers
// them; Hearth's are UUIDs): the first 53 bits of the SHA-256 of the UUID, so
// it is stable, exact as a JavaScript number, and needs no column of its own.
func ocWebhookID(id string) int64 {
	sum := sha256.Sum256([]byte(id))
	if v := int64(binary.BigEndian.Uint64(sum[:8]) >> 11); v != 0 {
		return v
	}
	return 1
}

// tokenJSON is an access token as Owncast lists it. Only a token's hash is
// stored; accessToken is the token itself, re-derived from its id by
// identity (see docs/compatibility.md), and is left out when that cannot
// be done (a token from before, or a rotated signing secret). Delete
// accepts either the token or its id.
func tokenJSON(t *identity.Token, raw string) map[string]any {
	scopes := t.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	out := map[string]any{"id": t.ID, "displayName": t.Name, "scopes": scopes,
		"createdAt": t.CreatedAt, "displayColor": 0, "isBot": true, "type": "API"}
	// Owncast leaves lastUsedAt out until the token is used (omitempty); its
	// spec types it as a string, so null is not an answer.
	if t.LastUsedAt != nil {
		out["lastUsedAt"] = t.LastUsedAt
	}
	if raw != "" {
		out["accessToken"] = raw
	}
	return out
}

func (s *Surface) registerAdminWebhooks(h *httpserver.Server) {
	s.admin(h, "GET /api/admin/webhooks", func(w http.ResponseWriter, r *http.Request) {
		out := []map[string]any{}
		if s.d.Webhooks != nil {
			hs, err := s.d.Webhooks.List(r.Context())
			if err != nil {
				writeErrorAs(w, err, asError)
				return
			}
			for _, h := range hs {
				out = append(out, webhookJSON(h))
			}
		}
		httpserver.WriteJSON(w, http.StatusOK, out)
	})
	s.admin(h, "POST /api/admin/webhooks/create", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			URL    string   `json:"url"`
			Events []string `json:"events"`
		}
		if !readJSONError(w, r, &req) {
			return
		}
		if s.d.Webhooks == nil {
			asError(w, http.StatusServiceUnavailable, "webhooks are not available")
			return
		}
		wh, err := s.d.Webhooks.Create(r.Context(), req.URL, req.Events)
		if err != nil {
			writeErrorAs(w, err, asError)
			return
		}
		httpserver.WriteJSON(w, http.StatusOK, webhookJSON(wh))
	})
	s.admin(h, "POST /api/admin/webhooks/delete", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID json.RawMessage `json:"id"`
		}
		if !readJSONError(w, r, &req) {
			return
		}
		id := strings.Trim(string(req.ID), `"`)
		if id == "" || id == "null" || s.d.Webhooks == nil {
			asError(w, http.StatusBadRequest, "id field is required")
			return
		}
		given := id
		if n, err := strconv.ParseInt(id, 10, 64); err == nil {
			// The integer id webhookJSON gives; the UUID is still taken.
			hs, err := s.d.Webhooks.List(r.Context())
			if err != nil {
				writeErrorAs(w, err, asError)
				return
			}
			for _, h := range hs {
				if ocWebhookID(h.ID) == n {
					id = h.ID
					break
				}
			}
		}
		if err := s.d.Webhooks.Delete(r.Context(), id); err != nil {
			if errors.Is(err, fault.NotFound) {
				// Owncast's words; Owncast sends them with a 200 (its
				// InternalErrorHandler sets no status).
				asError(w, http.StatusNotFound, given+" not found")
				return
			}
			writeErrorAs(w, err, asError)
			return
		}
		writeResult(w, http.StatusOK, true, "deleted webhook")
	})

	s.admin(h, "GET /api/admin/accesstokens", func(w http.ResponseWriter, r *http.Request) {
		ts, err := s.d.Identity.ListTokens(r.Context(), identity.IntegrationToken)
		if err != nil {
			writeError(w, err)
			return
		}
		out := []map[string]any{}
		for _, t := range ts {
			if t.RevokedAt == nil {
				raw, _ := s.d.Identity.IntegrationTokenValue(t)
				out = append(out, tokenJSON(t, raw))
			}
		}
		httpserver.WriteJSON(w, http.StatusOK, out)
	})
	s.admin(h, "POST /api/admin/accesstokens/create", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Name   *string   `json:"name"`
			Scopes *[]string `json:"scopes"`
		}
		if !readJSONError(w, r, &req) {
			return
		}
		switch {
		case req.Scopes == nil:
			asError(w, http.StatusBadRequest, "scopes field is required")
			return
		case req.Name == nil:
			asError(w, http.StatusBadRequest, "name field is required")
			return
		}
		_, t, raw, err := s.d.Identity.CreateIntegrationToken(r.Context(), *req.Name, *req.Scopes)
		if err != nil {
			writeErrorAs(w, err, asError)
			return
		}
		httpserver.WriteJSON(w, http.StatusOK, tokenJSON(t, raw))
	})
	s.admin(h, "POST /api/admin/accesstokens/delete", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Token *string `json:"token"`
		}
		if !readJSONError(w, r, &req) {
			return
		}
		switch {
		case req.Token == nil:
			asError(w, http.StatusBadRequest, "token field is required")
			return
		case *req.Token == "":
			asError(w, http.StatusBadRequest, "must provide a token")
			return
		}
		t, err := s.d.Identity.Store().TokenByHash(r.Context(), identity.HashToken(*req.Token))
		if errors.Is(err, fault.NotFound) {
			t, err = s.d.Identity.Store().TokenByID(r.Context(), *req.Token)
		}
		if err == nil && t.Kind != identity.IntegrationToken {
			err = fault.NotFound
		}
		if err != nil {
			if errors.Is(err, fault.NotFound) {
				asError(w, http.StatusBadRequest, "unable to find token")
				return
			}
			writeErrorAs(w, err, asError)
			return
		}
		if err := s.d.Identity.RevokeToken(r.Context(), t.ID); err != nil {
			writeErrorAs(w, err, asError)
			return
		}
		writeResult(w, http.StatusOK, true, "deleted token")
	})
}
