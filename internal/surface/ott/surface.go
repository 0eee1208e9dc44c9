// Package ott is OpenTogetherTube's public API on Hearth: the REST routes
// under /api (auth grant, users, rooms, queue, votes, previews,
// announcements) and the room WebSocket at /api/room/<name>. It translates
// OTT's wire format to the watch, media and identity services and back, and
// holds no business rules.
package ott

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/gateway"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/media"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/watch"
)

// Previewer resolves previewAdd input (package media).
type Previewer interface {
	Preview(ctx context.Context, input, service string) (*media.Preview, error)
}

// Deps is what the surface needs from the node.
type Deps struct {
	// Life is the node's life (internal/app/lifetime.go): work a request
	// starts that outlives it (renaming a session's sockets everywhere,
	// account re-checks) takes its context from it. Nil: a context that
	// never ends (tests; app always sets it).
	Life     context.Context
	Log      *slog.Logger
	Identity *identity.Service
	Watch    *watch.Service
	Media    Previewer
	Sessions SessionStore
	Hub      *gateway.Hub
	// Limiter is OTT's per-IP bucket (1000 points per hour).
	Limiter    *ratelimit.Limiter
	TrustProxy bool
	// APIKey is the admin API key (header "apikey"); empty disables it.
	APIKey string
	// InsecureCookies drops the Secure flag from the token cookie.
	InsecureCookies bool
	// Metrics serves /api/status/metrics.
	Metrics http.Handler
	// DevRoutes serves OpenTogetherTube's development routes (/api/dev/*)
	// that its end-to-end tests drive. Never on in production: they log
	// anyone in as anyone.
	DevRoutes bool
	// Links keeps accounts linked to Discord.
	Links LinkStore
	// Discord turns on "Log in with Discord" when its client is set.
	Discord Discord
	Now     func() time.Time
}

// Surface serves OpenTogetherTube's API.
type Surface struct {
	d        Deps
	log      *slog.Logger
	now      func() time.Time
	encoders sync.Map // room key → *encoder
	revoked  revokedMemo
	apiKey   atomic.Pointer[string]
}

// New builds the surface.
func New(d Deps) (*Surface, error) {
	if d.Identity == nil || d.Watch == nil || d.Sessions == nil || d.Hub == nil || d.Limiter == nil {
		return nil, errors.New("ott: identity, watch, sessions, hub and limiter are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Life == nil {
		d.Life = context.Background()
	}
	s := &Surface{d: d, log: d.Log.With("component", "ott"), now: d.Now}
	s.apiKey.Store(&d.APIKey)
	return s, nil
}

// Register adds every OTT route.
func (s *Surface) Register(h *httpserver.Server) {
	h.Handle("GET /api/auth/grant", s.wrap(s.handleGrant))
	h.Handle("GET /api/auth/discord", s.wrap(s.handleDiscordStart))
	h.Handle("GET /api/auth/discord/callback", s.wrap(s.handleDiscordCallback))
	if s.d.Metrics != nil {
		h.Handle("GET /api/status/metrics", s.d.Metrics)
	}
	h.Handle("GET /api/data/previewAdd", s.wrap(s.handlePreviewAdd))

	h.Handle("GET /api/user", s.auth(s.handleGetUser))
	h.Handle("POST /api/user", s.auth(s.handleSetUsername))
	h.Handle("POST /api/user/login", s.auth(s.handleLogin))
	h.Handle("POST /api/user/logout", s.auth(s.handleLogout))
	h.Handle("POST /api/user/register", s.auth(s.cost(100, s.handleRegister)))
	h.Handle("POST /api/user/recover/start", s.auth(s.cost(100, s.handleRecoverDisabled)))
	h.Handle("POST /api/user/recover/verify", s.auth(s.cost(10, s.handleRecoverDisabled)))
	// The account routes charge after the sign-in check, the queue routes
	// after the body's schema check, as OTT's handlers do: a refused request
	// costs nothing.
	h.Handle("GET /api/user/account", s.auth(s.handleGetAccount))
	h.Handle("PATCH /api/user/account", s.auth(s.handlePatchAccount))
	h.Handle("DELETE /api/user/account/discord", s.auth(s.handleUnlinkDiscord))
	h.Handle("GET /api/user/owned-rooms", s.auth(s.handleOwnedRooms))

	h.Handle("GET /api/room/list", s.auth(s.handleRoomList))
	h.Handle("POST /api/room/generate", s.auth(s.handleGenerate))
	h.Handle("POST /api/room/create", s.auth(s.handleCreate))
	// The room socket and GET /api/room/{name} share a path: an upgrade
	// request is the socket (OTT authenticates it with its first frame).
	h.Handle("GET /api/room/{name}", s.wrap(func(w http.ResponseWriter, r *http.Request) {
		if isUpgrade(r) {
			s.serveSocket(w, r)
			return
		}
		s.auth(s.handleGetRoom).ServeHTTP(w, r)
	}))
	h.Handle("PATCH /api/room/{name}", s.auth(s.handlePatchRoom))
	h.Handle("DELETE /api/room/{name}", s.auth(s.handleDeleteRoom))
	h.Handle("POST /api/room/{name}/undo", s.auth(s.handleUndo))
	h.Handle("POST /api/room/{name}/vote", s.auth(s.handleVote(true)))
	h.Handle("DELETE /api/room/{name}/vote", s.auth(s.handleVote(false)))
	h.Handle("POST /api/room/{name}/queue", s.auth(s.handleAddToQueue))
	h.Handle("PATCH /api/room/{name}/queue", s.auth(s.handleUpdateQueueItem))
	h.Handle("DELETE /api/room/{name}/queue", s.auth(s.handleRemoveFromQueue))
	h.Handle("POST /api/announce", s.auth(s.handleAnnounce))
	if s.d.DevRoutes {
		s.registerDev(h)
	}
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// --- envelopes and the one error mapping -------------------------------

type errBody struct {
	Name    string `json:"name,omitempty"`
	Message string `json:"message"`
	Arg     string `json:"arg,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Fields  any    `json:"fields,omitempty"`
	// Details are a ZodValidationError's issues.
	Details []zodIssue `json:"details,omitempty"`
}

// zodIssue is one issue of a ZodValidationError (zod's shape: code,
// message and the path of the offending field).
type zodIssue struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Path    []string `json:"path"`
}

// schemaErr answers a refused argument of a request OTT checks with its
// zod schemas (room create, generate and settings, queue and vote bodies)
// as OTT does: 400 ZodValidationError, whose message names the field.
// Other errors pass through unchanged.
func schemaErr(err error) error {
	var we *watch.Error
	if !errors.As(err, &we) || we.Code != watch.CodeBadArgument {
		return err
	}
	reason := we.Reason
	if reason == "" {
		reason = we.Msg
	}
	return zodErr(zodCode(reason), we.Arg, reason)
}

// zodCode is the code of the zod issue whose message is msg, by the words
// zod (or OTT's schema) uses for it.
func zodCode(msg string) string {
	switch {
	case msg == "Required", strings.HasPrefix(msg, "Expected "):
		return "invalid_type"
	case strings.HasPrefix(msg, "Invalid enum value."):
		return "invalid_enum_value"
	case strings.HasPrefix(msg, "Unrecognized key(s) in object"):
		return "unrecognized_keys"
	case msg == "Invalid", msg == "Invalid url", msg == "Invalid email":
		return "invalid_string"
	case strings.HasPrefix(msg, "too short,"), strings.HasPrefix(msg, "String must contain at least"):
		return "too_small"
	case strings.HasPrefix(msg, "too long,"), strings.HasPrefix(msg, "String must contain at most"):
		return "too_big"
	}
	return "custom"
}

// zodIssuesErr is a 400 ZodValidationError of several issues about one
// field, worded as zod-validation-error joins them ("; ").
func zodIssuesErr(field string, issues []zodIssue) error {
	msgs := make([]string, len(issues))
	for i, is := range issues {
		msgs[i] = is.Message + ` at "` + field + `"`
	}
	return &apiError{status: http.StatusBadRequest, body: errBody{Name: "ZodValidationError",
		Message: "Validation error: " + strings.Join(msgs, "; "), Details: issues}}
}

// zodErr is a 400 ZodValidationError of one issue, worded as
// zod-validation-error words it: the issue's message, then the field's
// path (none for an issue about the whole object).
func zodErr(code, field, msg string) error {
	path := []string{}
	full := "Validation error: " + msg
	if field != "" {
		path = strings.Split(field, ".")
		full += ` at "` + field + `"`
	}
	return &apiError{status: http.StatusBadRequest, body: errBody{Name: "ZodValidationError", Message: full,
		Details: []zodIssue{{Code: code, Message: msg, Path: path}}}}
}

func writeOK(w http.ResponseWriter, status int, fields map[string]any) {
	body := map[string]any{"success": true}
	for k, v := range fields {
		body[k] = v
	}
	httpserver.WriteJSON(w, status, body)
}

func writeFail(w http.ResponseWriter, status int, e errBody) {
	httpserver.WriteJSON(w, status, map[string]any{"success": false, "error": e})
}

// apiError is an error with an exact OTT exception name and status.
type apiError struct {
	status int
	body   errBody
}

func (e *apiError) Error() string { return e.body.Message }

func ottErr(status int, name, msg string) error {
	return &apiError{status: status, body: errBody{Name: name, Message: msg}}
}

var watchNames = map[watch.Code]struct {
	status int
	name   string
}{
	watch.CodeRoomNotFound:        {404, "RoomNotFoundException"},
	watch.CodeRoomNameTaken:       {400, "RoomNameTakenException"},
	watch.CodeVideoAlreadyQueued:  {400, "VideoAlreadyQueuedException"},
	watch.CodeVideoNotFound:       {400, "VideoNotFoundException"},
	watch.CodePermissionDenied:    {400, "PermissionDeniedException"},
	watch.CodeClientNotFound:      {400, "ClientNotFoundInRoomException"},
	watch.CodeBadArgument:         {400, "BadApiArgumentException"},
	watch.CodeFeatureDisabled:     {403, "FeatureDisabledException"},
	watch.CodeImpossiblePromotion: {400, "ImpossiblePromotionException"},
	watch.CodeUnsupportedSubtitle: {400, "UnsupportedSubtitleType"},
	watch.CodeBanned:              {403, "BannedException"},
	watch.CodeInvalid:             {400, "OttException"},
}

// writeError is the one place errors become OTT responses.
func (s *Surface) writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		writeFail(w, ae.status, ae.body)
		return
	}
	var we *watch.Error
	if errors.As(err, &we) {
		n, ok := watchNames[we.Code]
		if !ok {
			n = watchNames[watch.CodeInvalid]
		}
		status := n.status
		if we.Kind == fault.Unauthorized {
			status = http.StatusUnauthorized
		}
		msg := we.Msg
		if we.Code == watch.CodeRoomNotFound {
			msg = "Room not found"
		}
		writeFail(w, status, errBody{Name: n.name, Message: msg, Arg: we.Arg, Reason: we.Reason})
		return
	}
	var me *media.Error
	if errors.As(err, &me) {
		writeFail(w, http.StatusBadRequest, errBody{Name: mediaName(me.Code), Message: me.Msg})
		return
	}
	switch fault.KindOf(err) {
	case fault.NotFound:
		writeFail(w, http.StatusNotFound, errBody{Name: "NotFound", Message: fault.Message(err)})
	case fault.Invalid, fault.Conflict:
		writeFail(w, http.StatusBadRequest, errBody{Name: "OttException", Message: fault.Message(err)})
	case fault.Unauthorized:
		writeFail(w, http.StatusUnauthorized, errBody{Name: "Unauthorized", Message: fault.Message(err)})
	case fault.Forbidden:
		writeFail(w, http.StatusForbidden, errBody{Name: "Forbidden", Message: fault.Message(err)})
	case fault.RateLimited:
		setRetryAfter(w, err)
		writeFail(w, http.StatusTooManyRequests, errBody{Name: "TooManyRequests", Message: "Too many requests."})
	case fault.Unavailable:
		// Retryable: the room moved to another node and could not be
		// reached there yet, its node did not answer, the server is busy.
		// OTT, one process, has no such answer; a 500 said "unknown error".
		w.Header().Set("Retry-After", "1")
		writeFail(w, http.StatusServiceUnavailable, errBody{Name: "ServiceUnavailable", Message: fault.Message(err)})
	default:
		if !errors.Is(err, context.Canceled) {
			s.log.Error("request failed", "err", err)
		}
		writeFail(w, http.StatusInternalServerError, errBody{Name: "Unknown", Message: "An unknown error occurred. Try again later."})
	}
}

func mediaName(c media.Code) string {
	switch c {
	case media.CodeUnsupportedService:
		return "UnsupportedServiceException"
	case media.CodeInvalidInput:
		return "InvalidAddPreviewInputException"
	case media.CodeFeatureDisabled:
		return "FeatureDisabledException"
	case media.CodeUnsupportedMime:
		return "UnsupportedMimeTypeException"
	case media.CodeLocalFile:
		return "LocalFileException"
	case media.CodeMissingMetadata:
		return "MissingMetadataException"
	case media.CodeVideoNotFound:
		return "VideoNotFoundException"
	case media.CodeInvalidVideoID:
		return "InvalidVideoIdException"
	case media.CodeOutOfQuota:
		return "OutOfQuotaException"
	case media.CodeProbeTimeout:
		return "FfprobeTimeoutError"
	}
	return "OttException"
}

// wrap recovers panics in OTT's error shape. (A write outlasts its client's
// hang-up, as on OTT, in every surface: httpserver's outlastClient.)
func (s *Surface) wrap(f http.HandlerFunc) http.Handler {
	return httpserver.Recover(s.log, func(w http.ResponseWriter, _ *http.Request, status int, _ string) {
		writeFail(w, status, errBody{Name: "Unknown", Message: "An unknown error occurred. Try again later."})
	}, f)
}

// --- token middleware ---------------------------------------------------

type ctxKey int

const (
	principalKey ctxKey = iota
	adminKey
)

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if i := strings.IndexByte(h, ' '); i > 0 && strings.EqualFold(h[:i], "bearer") {
		return strings.TrimSpace(h[i+1:])
	}
	return ""
}

// requestToken is the Bearer token, else the token cookie.
func requestToken(r *http.Request) string {
	if t := bearer(r); t != "" {
		return t
	}
	if c, err := r.Cookie("token"); err == nil {
		return c.Value
	}
	return ""
}

func (s *Surface) apiKeyOK(key string) bool {
	want := *s.apiKey.Load()
	return want != "" && subtle.ConstantTimeCompare([]byte(key), []byte(want)) == 1
}

// auth is OTT's token middleware: a valid admin apikey header skips token
// checks; otherwise no token is 400 MissingToken and an unknown one 401.
func (s *Surface) auth(next http.HandlerFunc) http.Handler {
	return s.wrap(func(w http.ResponseWriter, r *http.Request) {
		if key := r.Header.Get("apikey"); key != "" {
			if !s.apiKeyOK(key) {
				// OTT's middleware answers with the name of the plain
				// exception it throws ("Error"), before any route (the room
				// list's own string-shaped answer is never reached there).
				msg := "apikey is invalid"
				if *s.apiKey.Load() == "" {
					msg = "apikey is not set"
				}
				writeFail(w, http.StatusBadRequest, errBody{Name: "Error", Message: msg})
				return
			}
			ctx := context.WithValue(r.Context(), adminKey, true)
			if tok := requestToken(r); tok != "" {
				if p, err := s.lookup(r.Context(), tok); err == nil {
					ctx = context.WithValue(ctx, principalKey, p)
				}
			}
			next(w, r.WithContext(ctx))
			return
		}
		tok := requestToken(r)
		if tok == "" {
			writeFail(w, http.StatusBadRequest, errBody{Name: "MissingToken", Message: "Missing auth token. Get a token from /api/auth/grant first."})
			return
		}
		p, err := s.lookup(r.Context(), tok)
		if err != nil {
			if fault.KindOf(err) == fault.Unauthorized {
				writeFail(w, http.StatusUnauthorized, errBody{Name: "MissingToken", Message: "Missing valid auth token. Get a token from /api/auth/grant first."})
				return
			}
			s.writeError(w, err)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
	})
}

func principalOf(r *http.Request) *principal {
	p, _ := r.Context().Value(principalKey).(*principal)
	return p
}

func isAdmin(r *http.Request) bool {
	ok, _ := r.Context().Value(adminKey).(bool)
	return ok
}

// actor is the watch actor for a principal.
func actor(p *principal) watch.Actor {
	if p == nil {
		return watch.Actor{}
	}
	return watch.Actor{AccountID: p.account.ID, SessionID: p.sessionID(), Name: displayName(p.account), LoggedIn: p.loggedIn()}
}

func displayName(a *identity.Account) string { return a.Name() }

// --- rate limits --------------------------------------------------------

func (s *Surface) ip(r *http.Request) string { return ratelimit.ClientIP(r, s.d.TrustProxy) }

// limitKey is the caller's rate-limit bucket: its address, an IPv6 client
// by its /64 (which one host normally holds whole, and could otherwise
// rotate through fresh buckets), as the node's other per-address bounds.
func (s *Surface) limitKey(r *http.Request) string { return ratelimit.AddrKey(s.ip(r)) }

// callerCtx is r's context naming its client's address (its rate-limit
// key) as the caller whose share of the media probe and fetch turns a
// preview or an add counts against (media.TurnsPerCaller).
func (s *Surface) callerCtx(r *http.Request) context.Context {
	return ratelimit.WithTurnKey(r.Context(), ratelimit.AddrTurnKey(s.limitKey(r)))
}

// charge takes points from the caller's bucket, setting the X-RateLimit-*
// headers; when refused it writes the 429 and returns false.
func (s *Surface) charge(w http.ResponseWriter, r *http.Request, points int) bool {
	d := s.d.Limiter.Allow(s.limitKey(r), points)
	ratelimit.SetHeaders(w.Header(), d)
	if d.Allowed {
		return true
	}
	ratelimit.SetRetryAfter(w.Header(), d)
	writeFail(w, http.StatusTooManyRequests, errBody{Name: "TooManyRequests", Message: "Too many requests."})
	return false
}

func (s *Surface) cost(points int, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.charge(w, r, points) {
			next(w, r)
		}
	}
}

// decode reads a JSON (or urlencoded) body into v.
func decode(r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		if err := r.ParseForm(); err != nil {
			return watch.BadArgument("body", "invalid form body")
		}
		m := map[string]any{}
		for k, vs := range r.PostForm {
			if len(vs) > 0 {
				m[k] = vs[0]
			}
		}
		b, _ := json.Marshal(m)
		if err := json.Unmarshal(b, v); err != nil {
			return watch.BadArgument("body", "invalid form body")
		}
		return nil
	}
	if r.Body == nil || r.ContentLength == 0 {
		return nil
	}
	// One object or array and nothing after it, as OTT's strict JSON body
	// parser takes: null (read as no body) and trailing data (the value
	// before it read alone) were accepted.
	raw, err := httpserver.ReadJSONValue(r.Body)
	if err == nil && string(raw) == "null" {
		err = errors.New("not one JSON object")
	}
	if err == nil {
		err = json.Unmarshal(raw, v)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return ottErr(http.StatusRequestEntityTooLarge, "PayloadTooLarge", "Request body too large.")
		}
		if field, msg, ok := typeMismatch(err); ok {
			return zodErr("invalid_type", field, msg)
		}
		return &apiError{status: 400, body: errBody{Name: "ZodValidationError", Message: "Validation error: invalid JSON body"}}
	}
	return nil
}

// setRetryAfter sets Retry-After from a rate-limited fault's RetryAfter
// (whole seconds, at least 1).
func setRetryAfter(w http.ResponseWriter, err error) {
	var fe *fault.Error
	if errors.As(err, &fe) {
		ratelimit.SetRetryAfter(w.Header(), ratelimit.Decision{RetryAfter: fe.RetryAfter})
	}
}
