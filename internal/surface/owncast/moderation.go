package owncast

import (
	"context"
	"net/http"
	"net/netip"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/stagechat"
)

type visibilityRequest struct {
	IDArray []string `json:"idArray"`
	Visible bool     `json:"visible"`
}

// handleVisibility is POST …/chat/messagevisibility (moderator, admin or
// integration).
func (s *Surface) handleVisibility(w http.ResponseWriter, r *http.Request) {
	var req visibilityRequest
	if !readJSON(w, r, &req) {
		return
	}
	if err := s.d.Chat.SetVisibility(r.Context(), req.IDArray, req.Visible); err != nil {
		writeError(w, err)
		return
	}
	if s.d.Webhooks != nil {
		s.d.Webhooks.Dispatch(r.Context(), evVisibility, map[string]any{"id": newEventID(), "timestamp": time.Now().UTC(),
			"ids": req.IDArray, "visible": req.Visible, "user": nil})
	}
	writeResult(w, http.StatusOK, true, "changed")
}

// handleSetEnabled is POST …/chat/users/setenabled.
func (s *Surface) handleSetEnabled(w http.ResponseWriter, r *http.Request) {
	var req struct {
		UserID  string `json:"userId"`
		Enabled bool   `json:"enabled"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if req.UserID == "" {
		writeResult(w, http.StatusBadRequest, false, "must provide userId")
		return
	}
	u, err := s.d.Chat.User(r.Context(), req.UserID)
	if err != nil {
		writeError(w, err)
		return
	}
	if adminAccount(r) == nil {
		// A moderator's limits are the chat's (the admin has none).
		if err := s.d.Chat.MayModeratorSetEnabled(r.Context(), req.UserID, req.Enabled); fault.KindOf(err) == fault.Forbidden {
			writeResult(w, http.StatusForbidden, false, fault.Message(err))
			return
		} else if err != nil {
			writeError(w, err)
			return
		}
	}
	if !req.Enabled {
		// Owncast bans the addresses the user is connected from. This
		// node's connections are banned before the answer; other nodes
		// ban theirs when the disable event reaches them (chatTransform).
		s.banClientIPs(r.Context(), s.chat.ofUser(u.ID), u.DisplayName)
	}
	if err := s.d.Chat.SetEnabled(r.Context(), req.UserID, req.Enabled); err != nil {
		writeError(w, err)
		return
	}
	writeResult(w, http.StatusOK, true, "changed")
}

// banClientIPs bans the IP address of each connection, once per
// connection, except loopback addresses (Owncast skips 127.0.0.1 and ::1 so
// a streamer chatting from the server is not locked out). Re-enabling the
// user lifts no ban, as in Owncast.
func (s *Surface) banClientIPs(ctx context.Context, clients []*client, displayName string) {
	for _, c := range clients {
		if c.ipBanned.Swap(true) {
			continue
		}
		a, err := netip.ParseAddr(c.ip)
		if err != nil || a.Unmap().IsLoopback() {
			continue
		}
		if err := s.d.Chat.BanIP(ctx, c.ip, "Banning of "+displayName); err != nil {
			s.log.Warn("ban disabled user's address", "err", err)
		}
	}
}

// handleUserDetails is GET /api/moderation/chat/user/{userId}.
func (s *Surface) handleUserDetails(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("userId")
	u, err := s.d.Chat.User(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	clients := []map[string]any{}
	for _, c := range s.chat.ofUser(id) {
		// Moderators and integrations see a connection without its
		// address, as on Owncast: a viewer's IP is the admin's alone.
		// Owncast's geo here is a country-code string, left out when
		// unknown; Hearth has no GeoIP database, so it is always left out
		// (null is not a string to Owncast's spec or its clients).
		cj := s.clientJSON(c, false)
		delete(cj, "ipAddress")
		delete(cj, "geo")
		clients = append(clients, cj)
	}
	ms, err := s.d.Chat.MessagesFrom(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]map[string]any, 0, len(ms))
	for _, m := range ms {
		out = append(out, s.messageJSON(r.Context(), m, false))
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"user": encodeUser(u), "connectedClients": clients, "messages": out})
}

func (s *Surface) clientJSON(c *client, withUser bool) map[string]any {
	out := map[string]any{"id": c.id, "connectedAt": c.connectedAt, "messageCount": c.messages.Load(),
		"userAgent": c.userAgent, "ipAddress": c.ip, "geo": nil}
	if withUser {
		out["user"] = encodeUser(c.user.Load())
	}
	return out
}

func (s *Surface) writeClients(w http.ResponseWriter) {
	out := []map[string]any{}
	for _, c := range s.chat.list() {
		out = append(out, s.clientJSON(c, true))
	}
	httpserver.WriteJSON(w, http.StatusOK, out)
}

func (s *Surface) registerAdminChat(h *httpserver.Server) {
	s.registerUsers(h)
	s.admin(h, "GET /api/admin/chat/clients", func(w http.ResponseWriter, r *http.Request) { s.writeClients(w) })
	s.admin(h, "GET /api/admin/chat/messages", func(w http.ResponseWriter, r *http.Request) { s.writeHistory(w, r, true) })
	s.admin(h, "POST /api/admin/chat/messagevisibility", s.handleVisibility)
	s.admin(h, "POST /api/admin/chat/updatemessagevisibility", s.handleVisibility)
	s.admin(h, "POST /api/admin/chat/users/setenabled", s.handleSetEnabled)
	s.admin(h, "GET /api/admin/chat/users/disabled", s.usersHandler(stagechat.DisabledUsers))
	s.admin(h, "GET /api/admin/chat/users/moderators", s.usersHandler(stagechat.Moderators))
	s.admin(h, "POST /api/admin/chat/users/setmoderator", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			UserID      string `json:"userId"`
			IsModerator bool   `json:"isModerator"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		if _, err := s.d.Chat.SetModerator(r.Context(), req.UserID, req.IsModerator); err != nil {
			writeError(w, err)
			return
		}
		writeResult(w, http.StatusOK, true, "changed")
	})
	s.admin(h, "GET /api/admin/chat/users/ipbans", func(w http.ResponseWriter, r *http.Request) {
		bans, err := s.d.Chat.IPBans(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		out := make([]map[string]any, 0, len(bans))
		for _, b := range bans {
			out = append(out, map[string]any{"ipAddress": b.IP, "notes": b.Notes, "createdAt": b.CreatedAt})
		}
		httpserver.WriteJSON(w, http.StatusOK, out)
	})
	s.admin(h, "POST /api/admin/chat/users/ipbans/create", s.valueHandler(func(r *http.Request, v string) error {
		// Unlike Owncast, the sockets already open from the address close
		// (on every node: chatTransform), not only new ones are refused.
		return s.d.Chat.BanIPAndDisconnect(r.Context(), v, "manually added")
	}))
	s.admin(h, "POST /api/admin/chat/users/ipbans/remove", s.valueHandler(func(r *http.Request, v string) error {
		return s.d.Chat.UnbanIP(r.Context(), v)
	}))
	// Followers belong to federation (federation.go); without it the
	// instance has none.
	if s.d.Federation == nil {
		s.admin(h, "GET /api/admin/followers", func(w http.ResponseWriter, r *http.Request) {
			httpserver.WriteJSON(w, http.StatusOK, map[string]any{"total": 0, "results": []any{}})
		})
		s.admin(h, "GET /api/admin/followers/pending", emptyList)
		s.admin(h, "GET /api/admin/followers/blocked", emptyList)
	}
	if s.d.Live == nil {
		// With live streaming wired, registerLiveAdmin serves this path
		// with the instance gauges and the node's own metrics together.
		s.admin(h, "GET /api/admin/prometheus", s.prometheusHandler(h.Registry()).ServeHTTP)
	}
}

func emptyList(w http.ResponseWriter, _ *http.Request) {
	httpserver.WriteJSON(w, http.StatusOK, []any{})
}

func (s *Surface) usersHandler(f stagechat.UserFilter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		us, err := s.d.Chat.Users(r.Context(), f)
		if err != nil {
			writeError(w, err)
			return
		}
		httpserver.WriteJSON(w, http.StatusOK, encodeUsers(us))
	}
}

// valueHandler reads Owncast's {"value": "<string>"} body.
func (s *Surface) valueHandler(f func(r *http.Request, v string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Value string `json:"value"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		if err := f(r, req.Value); err != nil {
			writeError(w, err)
			return
		}
		writeResult(w, http.StatusOK, true, "changed")
	}
}
