package owncast

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearth-community/hearth/internal/gateway"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// ChatOptions tunes the Owncast chat surface.
type ChatOptions struct {
	// DataDir holds public/ (served at /public/) and the uploaded logo.
	DataDir string
	// TrustProxy takes the client IP from X-Forwarded-For (bans).
	TrustProxy bool
	// FloodRate is messages per second per connection (Owncast: 1.5);
	// FloodBlock how long a flooding connection is muted (10 s).
	FloodRate  float64
	FloodBlock time.Duration
	// WelcomeDelay is how long after joining the welcome message is sent
	// (Owncast: 7 s).
	WelcomeDelay time.Duration
	// DisableGrace is how long a disabled user's socket stays open after
	// ERROR_USER_DISABLED (Owncast: 2 s).
	DisableGrace time.Duration
	// Version is reported in /api/config.
	Version string
	// LiveConfig, when set, supplies the stream-related keys of
	// /api/admin/serverconfig (streamKeys, videoSettings, s3, …), which the
	// live-streaming part owns.
	LiveConfig func(ctx context.Context) map[string]any
	// Status, when set, supplies the stream status object carried by
	// webhooks and /api/yp (the live part owns it).
	Status func() map[string]any
	// Logs, when set, backs /api/admin/logs (fed by the stage's loggers).
	Logs *LogBuffer
	// MaxConnections caps chat sockets on this node (Owncast: 70 % of the
	// open-file limit); 0 means no cap.
	MaxConnections int
}

// MaxSocketPayload is Owncast's inbound chat frame limit.
const MaxSocketPayload = 2048

// chatState is the chat part of the surface: the connected clients on this
// node and the renderer.
type chatState struct {
	s      *Surface
	render *stagechat.Renderer
	nextID atomic.Uint64

	admins   *adminVerified
	msgMemo  memo[encoded]
	chatMemo memo[decodedChat]

	mu      sync.RWMutex
	clients map[uint64]*client
	byUser  map[string][]*client // a slice, not a set: a user has a few sockets, and a map each costs an idle socket ~300 bytes
}

// client is one chat socket.
type client struct {
	id          uint64
	conn        *gateway.Conn
	ip          string
	userAgent   string
	connectedAt time.Time
	messages    atomic.Int64
	user        atomic.Pointer[stagechat.User]
	disabled    atomic.Bool
	ipBanned    atomic.Bool // its address was banned when its user was disabled
	// token is the access token the socket was opened with, looked up
	// again when its account's sessions are revoked (a password change
	// deletes the account's chat tokens: the socket then closes).
	token string
}

func newChatState(s *Surface) *chatState {
	cs := &chatState{s: s, clients: map[uint64]*client{}, byUser: map[string][]*client{}, admins: newAdminVerified()}
	var lookup stagechat.EmojiLookup
	if s.d.Emoji != nil {
		lookup = s.d.Emoji.Lookup
	}
	cs.render = stagechat.NewRenderer(lookup)
	if s.d.Chats.FloodRate == 0 {
		s.d.Chats.FloodRate = 1.5
	}
	if s.d.Chats.FloodBlock == 0 {
		s.d.Chats.FloodBlock = 10 * time.Second
	}
	if s.d.Chats.WelcomeDelay == 0 {
		s.d.Chats.WelcomeDelay = 7 * time.Second
	}
	if s.d.Chats.DisableGrace == 0 {
		s.d.Chats.DisableGrace = 2 * time.Second
	}
	return cs
}

func (cs *chatState) add(c *client) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.clients[c.id] = c
	uid := c.user.Load().ID
	cs.byUser[uid] = append(cs.byUser[uid], c)
}

func (cs *chatState) remove(c *client) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.clients, c.id)
	uid := c.user.Load().ID
	set := cs.byUser[uid]
	if i := slices.Index(set, c); i >= 0 {
		set[i] = set[len(set)-1]
		set[len(set)-1] = nil
		set = set[:len(set)-1]
	}
	if len(set) == 0 {
		delete(cs.byUser, uid)
	} else {
		cs.byUser[uid] = set
	}
}

func (cs *chatState) count() int {
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	return len(cs.clients)
}

func (cs *chatState) list() []*client {
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	out := make([]*client, 0, len(cs.clients))
	for _, c := range cs.clients {
		out = append(out, c)
	}
	return out
}

func (cs *chatState) ofUser(id string) []*client {
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	return slices.Clone(cs.byUser[id])
}

func (cs *chatState) get(id uint64) *client {
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	return cs.clients[id]
}

// registerChat adds chat, moderation, integrations, webhooks and config
// routes (the stage-chat issue owns the non-live files in this package).
func (s *Surface) registerChat(h *httpserver.Server) {
	if s.d.Chat == nil {
		return
	}
	// Chat users and the socket.
	h.Handle("POST /api/chat/register", s.wrap(s.handleRegister))
	h.Handle("OPTIONS /api/chat/register", s.wrap(corsPreflight))
	h.Handle("GET /api/chat", s.wrap(s.requireChatUser(s.handleHistory)))
	h.Handle("POST /api/notifications/register", s.wrap(s.requireChatUser(s.handleNotificationRegister)))
	h.HandleWhen("GET /ws", hasAccessTokenQuery, s.wrap(s.handleSocket))

	// Moderation with a moderator's chat token.
	h.Handle("POST /api/chat/messagevisibility", s.wrap(s.requireModerator(s.handleVisibility)))
	h.Handle("POST /api/chat/users/setenabled", s.wrap(s.requireModerator(s.handleSetEnabled)))
	h.Handle("GET /api/moderation/chat/user/{userId}", s.wrap(s.requireModerator(s.handleUserDetails)))

	s.registerPublic(h)
	s.registerIntegrations(h)
	s.registerAdminChat(h)
	s.registerAdminConfig(h)
	s.registerAdminWebhooks(h)
	s.admin(h, "POST /api/admin/session", s.handleAdminSession)
	// Owncast answers every admin preflight with 204 and no CORS grant.
	h.HandleWhen("OPTIONS /api/admin/{path...}", IsOwncastAdminRequest, s.requireAdmin(func(http.ResponseWriter, *http.Request) {}))
}

// admin registers an Owncast admin route on a path Together shares. It is
// the path's fallback: Together's handler takes the Bearer requests of the
// paths it has; every other request (Basic, none, or a Bearer on a path
// Together lacks) is Owncast's.
func (s *Surface) admin(h *httpserver.Server, pattern string, f http.HandlerFunc) {
	h.HandleWhen(pattern, nil, s.requireAdmin(f))
}

func hasAccessTokenQuery(r *http.Request) bool { return r.URL.Query().Has("accessToken") }

func corsPreflight(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
	w.WriteHeader(http.StatusNoContent)
}

// handleAdminSession is Hearth's POST /api/admin/session: the admin who
// got in with Basic credentials (the browser's prompt) gets a session of
// the web app for the same account, so the admin pages that run on the
// app's session (users, recordings) work with that one sign-in. The
// answer carries Together's token names; the web app stores them as its
// own session.
func (s *Surface) handleAdminSession(w http.ResponseWriter, r *http.Request) {
	a := adminAccount(r)
	if a == nil {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	t, err := s.d.Identity.OpenSession(r.Context(), a, r.UserAgent())
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpserver.WriteJSON(w, http.StatusOK, map[string]string{"access_token": t.AccessToken, "refresh_token": t.RefreshToken})
}
