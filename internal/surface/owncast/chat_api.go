package owncast

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// Owncast event type names.
const (
	evChat           = "CHAT"
	evNameChange     = "NAME_CHANGE"
	evColorChange    = "COLOR_CHANGE"
	evUserInfo       = "CONNECTED_USER_INFO"
	evJoined         = "USER_JOINED"
	evParted         = "USER_PARTED"
	evSystem         = "SYSTEM"
	evAction         = "CHAT_ACTION"
	evVisibility     = "VISIBILITY-UPDATE"
	evUserDisabled   = "ERROR_USER_DISABLED"
	evNeedsRegister  = "ERROR_NEEDS_REGISTRATION"
	evStreamStarted  = "STREAM_STARTED"
	evStreamStopped  = "STREAM_STOPPED"
	evTitleUpdated   = "STREAM_TITLE_UPDATED"
	maxChatBodyBytes = 1 << 16
)

// userJSON is Owncast's chat user.
type userJSON struct {
	CreatedAt     time.Time  `json:"createdAt"`
	DisabledAt    *time.Time `json:"disabledAt,omitempty"`
	NameChangedAt *time.Time `json:"nameChangedAt,omitempty"`
	ID            string     `json:"id"`
	DisplayName   string     `json:"displayName"`
	PreviousNames []string   `json:"previousNames"`
	Scopes        []string   `json:"scopes,omitempty"`
	DisplayColor  int        `json:"displayColor"`
	IsBot         bool       `json:"isBot"`
	Authenticated bool       `json:"authenticated"`
}

func encodeUser(u *stagechat.User) *userJSON {
	if u == nil {
		return nil
	}
	prev := u.PreviousNames
	if prev == nil {
		prev = []string{}
	}
	return &userJSON{CreatedAt: u.CreatedAt, DisabledAt: u.DisabledAt, NameChangedAt: u.NameChangedAt, ID: u.ID,
		DisplayName: u.DisplayName, PreviousNames: prev, Scopes: u.Scopes, DisplayColor: u.DisplayColor, IsBot: u.IsBot,
		Authenticated: u.AuthenticatedAt != nil}
}

func encodeUsers(us []*stagechat.User) []*userJSON {
	out := make([]*userJSON, 0, len(us))
	for _, u := range us {
		out = append(out, encodeUser(u))
	}
	return out
}

// messageJSON renders one stored message the way Owncast's history does.
func (s *Surface) messageJSON(ctx context.Context, m *messages.Message, withVisible bool) map[string]any {
	out := map[string]any{"id": m.ID, "timestamp": m.CreatedAt, "body": s.chat.render.Chat(m.Body)}
	switch stagechat.KindOf(m) {
	case stagechat.KindSystem:
		out["type"] = evSystem
		out["user"] = map[string]any{"displayName": s.d.Chat.Settings().Name}
	case stagechat.KindAction:
		out["type"] = evAction
	case stagechat.KindFediverse:
		// The notice names a remote actor, whose name is a stranger's
		// text: it is shown as text, never read as Markdown (a name
		// could otherwise put a link or an image in the chat).
		out["body"] = "<p>" + html.EscapeString(m.Body) + "</p>"
		fediverseJSON(out, m)
	default:
		out["type"] = evChat
		if m.AuthorID != nil {
			if u, err := s.d.Chat.CachedUser(ctx, *m.AuthorID); err == nil {
				out["user"] = encodeUser(u)
			}
		}
		if m.Hidden {
			// When it was hidden; for a message hidden before that was
			// kept, its last change.
			at := m.CreatedAt
			switch {
			case m.HiddenAt != nil:
				at = *m.HiddenAt
			case m.EditedAt != nil:
				at = *m.EditedAt
			}
			out["hiddenAt"] = at
		}
		if withVisible {
			out["visible"] = !m.Hidden
		}
	}
	return out
}

// readJSON decodes a request body into v; an unparsable body gets
// Owncast's 400.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	return readJSONUpTo(w, r, v, maxChatBodyBytes, "unable to parse new value")
}

// readJSONUpTo is readJSON for a route whose body may be larger than
// maxChatBodyBytes (an image as a base64 data URL): it raises the request's
// body cap to max and refuses a larger body with tooLarge, where a cut one
// would only fail to parse.
func readJSONUpTo(w http.ResponseWriter, r *http.Request, v any, max int64, tooLarge string) bool {
	return readJSONAs(w, r, v, max, tooLarge, asResult, false)
}

// readJSONError is readJSON for the routes that answer Owncast's {"error"}
// shape (asError); the reason is the decoder's, as there.
func readJSONError(w http.ResponseWriter, r *http.Request, v any) bool {
	return readJSONAs(w, r, v, maxChatBodyBytes, "unable to parse new value", asError, true)
}

// readJSONAs reads a JSON body of at most max bytes into v, refusing it in
// the route's shape: with the decoder's reason when decoderReason is set,
// else Owncast's "unable to parse new value".
func readJSONAs(w http.ResponseWriter, r *http.Request, v any, max int64, tooLarge string, refuse refusal, decoderReason bool) bool {
	if max > maxChatBodyBytes {
		httpserver.SetBodyLimit(w, r, max)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err == nil && int64(len(body)) > max {
		err = &http.MaxBytesError{Limit: max}
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		refuse(w, http.StatusBadRequest, tooLarge)
		return false
	}
	if err == nil && len(strings.TrimSpace(string(body))) == 0 {
		err = errors.New("empty body")
	}
	if err == nil {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		msg := "unable to parse new value"
		if decoderReason {
			msg = err.Error()
		}
		refuse(w, http.StatusBadRequest, msg)
		return false
	}
	return true
}

func (s *Surface) clientIP(r *http.Request) string {
	return ratelimit.ClientIP(r, s.d.Chats.TrustProxy)
}

// handleRegister is POST /api/chat/register.
func (s *Surface) handleRegister(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if banned, _ := s.d.Chat.IPBanned(r.Context(), s.clientIP(r)); banned {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var req struct {
		DisplayName string `json:"displayName"`
	}
	// As Owncast, a body that is not a request (malformed, a wrong type)
	// registers a user all the same, under a generated name.
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxChatBodyBytes))
	if json.Unmarshal(body, &req) != nil {
		req.DisplayName = ""
	}
	// A Hearth account signed in with a Together access token chats as
	// itself; anyone else gets a guest account. A token that does not
	// authenticate (expired, signed out) is refused, not made a guest: the
	// caller meant the account, and renews its token and asks again.
	var signedIn *identity.Principal
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		p, err := s.d.Identity.Authenticate(r.Context(), tok)
		if err != nil {
			if k := fault.KindOf(err); k == fault.Internal || k == fault.Unavailable {
				s.fail(w, r, err)
				return
			}
			if fault.KindOf(err) == fault.Forbidden {
				writeResult(w, http.StatusForbidden, false, fault.Message(err))
				return
			}
			writeResult(w, http.StatusUnauthorized, false, "invalid or expired access token")
			return
		}
		signedIn = p
	}
	u, tok, err := s.d.Chat.Register(r.Context(), req.DisplayName, r.Header.Get("X-Forwarded-User"), signedIn)
	if errors.Is(err, stagechat.ErrNoSession) {
		// A bot's access token: refused as a token that does not sign in.
		writeResult(w, http.StatusUnauthorized, false, fault.Message(err))
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"id": u.ID, "accessToken": tok, "displayName": u.DisplayName})
}

type chatUserKey struct{}

func chatUser(r *http.Request) *stagechat.User {
	u, _ := r.Context().Value(chatUserKey{}).(*stagechat.User)
	return u
}

// authChatUser resolves ?accessToken= and applies IP bans and disables.
func (s *Surface) authChatUser(r *http.Request) (*stagechat.User, error) {
	if banned, err := s.d.Chat.IPBanned(r.Context(), s.clientIP(r)); err != nil {
		return nil, err
	} else if banned {
		return nil, stagechat.ErrBadToken
	}
	u, err := s.d.Chat.Authenticate(r.Context(), r.URL.Query().Get("accessToken"))
	if err != nil {
		return nil, err
	}
	if u.Disabled() {
		return nil, stagechat.ErrBadToken
	}
	return u, nil
}

// requireChatUser is Owncast's user-token middleware (401 "unauthorized").
func (s *Surface) requireChatUser(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := s.authChatUser(r)
		if err != nil {
			if fault.KindOf(err) == fault.Unauthorized || errors.Is(err, fault.NotFound) {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			writeError(w, err)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), chatUserKey{}, u)))
	}
}

// requireModerator additionally needs the MODERATOR scope.
func (s *Surface) requireModerator(next http.HandlerFunc) http.HandlerFunc {
	return s.requireChatUser(func(w http.ResponseWriter, r *http.Request) {
		if !chatUser(r).IsModerator() {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next(w, r)
	})
}

// handleHistory is GET /api/chat: the last 50 visible messages.
func (s *Surface) handleHistory(w http.ResponseWriter, r *http.Request) {
	s.writeHistory(w, r, false)
}

func (s *Surface) writeHistory(w http.ResponseWriter, r *http.Request, moderation bool) {
	ms, err := s.d.Chat.History(r.Context(), moderation)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]map[string]any, 0, len(ms))
	for _, m := range ms {
		j := s.messageJSON(r.Context(), m, false)
		if u, _ := j["user"].(*userJSON); moderation && (stagechat.KindOf(m) != stagechat.KindChat || u == nil) {
			// Owncast's moderation history joins each message to its
			// user: system messages, actions and fediverse events (no
			// user), and messages of deleted users, are not in it.
			continue
		}
		out = append(out, j)
	}
	if moderation {
		// Owncast's moderation history is newest first.
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	httpserver.WriteJSON(w, http.StatusOK, out)
}
