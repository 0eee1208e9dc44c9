// Package owncast is Owncast's public API on Hearth: stream status and video
// settings (live_*.go, the live-streaming issue), chat, moderation,
// integrations, webhooks and instance config (the rest). It translates
// Owncast's wire format to domain calls and back and holds no business rules.
package owncast

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/directory"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/gateway"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/peersign"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/schedule"
	"github.com/hearth-community/hearth/internal/stagechat"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// Deps is what the surface needs from the node. Fields are added by the
// issues that need them.
type Deps struct {
	Log *slog.Logger
	// Limits shares the browser-push registrations' bound per address
	// with the other nodes of a cluster (nil: this node's only).
	Limits *ratelimit.Cluster
	// Life is the node's lifetime: work the surface does outside a
	// request (bus and live-event handlers, webhooks, metrics) takes its
	// context from it, so shutdown cancels it. nil: never cancelled (tests).
	Life     context.Context
	Identity *identity.Service

	// Chat, moderation, integrations, webhooks and config (chat*.go and
	// the other non-live files). Chat nil: those routes are not served.
	Chat     *stagechat.Service
	Emoji    *stagechat.EmojiDir
	Hub      *gateway.Hub
	Webhooks *webhooks.Service
	Chats    ChatOptions
	Live     *LiveService // stream status, video settings, HLS (live*.go); nil: not served
	// GoLive, when set, sends the go-live notifications (Discord, browser
	// push) when the default stage starts on this node.
	GoLive *stagechat.GoLive
	// IndieAuth, when set, serves /api/auth/indieauth (chat sign-in).
	IndieAuth *stagechat.IndieAuth
	// Stages and StageURLKey, both set (with Live), serve each community
	// stage channel's stage under /api/stages/ and /stages/ (stages.go).
	Stages      StageGate
	StageURLKey []byte
	// Federation, when set, serves the fediverse routes (federation.go).
	Federation *federation.Service
	// FediverseAuth, when set, serves /api/auth/fediverse* (chat sign-in
	// by a one-time code sent as a direct message).
	FediverseAuth *stagechat.FediverseAuth
	// Directory, when set, serves /api/admin/yp/reset (directory.go).
	Directory *directory.Service
	// Schedule, when set, serves scheduled streams (schedule.go).
	Schedule *schedule.Service
	// WebServerPort is the port the HTTP listener is bound to (--addr):
	// serverconfig's webServerPort, and the only value
	// config/webserverport accepts. 0: unknown (not listed, every value
	// refused).
	WebServerPort int
}

// Surface serves Owncast's API.
type Surface struct {
	d      Deps
	log    *slog.Logger
	chat   *chatState
	brands brandSums // the sums of the logo and favicon read from disk (brand.go)
	// notifyRL bounds browser push registrations per address (see
	// handleNotificationRegister).
	notifyRL *ratelimit.Limiter
	// peer fetches (and bounds) the HLS of broadcasts running on another
	// node (live_peer.go).
	peer *peersign.Proxy
	// peerStatus asks the node running a broadcast for its details (the
	// admin's status on another node: live_admin.go).
	peerStatus *http.Client
}

// Browser push registrations an address may make: a browser registers
// once; each one stored is a push in every go-live round, to a host of
// the registrant's choosing.
const (
	notifyRegistrations = 10
	notifyPer           = time.Hour
)

// New builds the surface.
func New(d Deps) (*Surface, error) {
	if d.Identity == nil {
		return nil, errors.New("owncast: identity service required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Life == nil {
		d.Life = context.Background()
	}
	s := &Surface{d: d, log: d.Log.With("component", "owncast"), peer: newPeerHLS(maxPeerHLS, nil),
		peerStatus: &http.Client{Timeout: peerStatusTimeout}}
	rl, err := ratelimit.New(ratelimit.Config{Limit: notifyRegistrations, Interval: notifyPer, Burst: notifyRegistrations})
	if err != nil {
		return nil, err
	}
	s.notifyRL = rl
	d.Limits.Share("owncast.notify", rl) // one bound per address on a cluster
	s.chat = newChatState(s)
	return s, nil
}

// Register adds every Owncast route to the server.
func (s *Surface) Register(h *httpserver.Server) {
	s.registerLive(h)
	if s.d.Live != nil {
		s.registerStages(h)
	}
	s.registerChat(h)
	s.registerAuth(h)
	s.registerFederation(h)
	s.registerDirectory(h)
	s.registerSchedule(h)
	s.register02(h)
}

// wrap applies panic recovery in Owncast's error shape.
func (s *Surface) wrap(f http.HandlerFunc) http.Handler {
	return httpserver.Recover(s.log, func(w http.ResponseWriter, _ *http.Request, status int, msg string) {
		writeResult(w, status, false, msg)
	}, f)
}

// writeResult writes Owncast's BaseAPIResponse {success, message}.
func writeResult(w http.ResponseWriter, status int, ok bool, msg string) {
	httpserver.WriteJSON(w, status, map[string]any{"success": ok, "message": msg})
}

// refusal writes a refused request's answer in one of Owncast's two error
// shapes.
type refusal func(w http.ResponseWriter, status int, msg string)

// asResult is Owncast's WriteSimpleResponse refusal: {success: false,
// message}, which most of its routes answer.
func asResult(w http.ResponseWriter, status int, msg string) { writeResult(w, status, false, msg) }

// asError is Owncast's BadRequestHandler and InternalErrorHandler body,
// {"error": msg}: what its webhook and access-token admin routes and the
// integrations' chat routes answer, so a client reads the reason there.
func asError(w http.ResponseWriter, status int, msg string) {
	httpserver.WriteJSON(w, status, map[string]any{"error": msg})
}

// fail answers err as writeError does, and logs the errors that become a
// 500, which the answer does not explain.
func (s *Surface) fail(w http.ResponseWriter, r *http.Request, err error) {
	if k := fault.KindOf(err); k == fault.Internal || k == fault.Unavailable {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, err)
}

// writeError is the one place domain error kinds become Owncast responses.
func writeError(w http.ResponseWriter, err error) { writeErrorAs(w, err, asResult) }

// writeErrorAs is writeError with the route's error shape.
func writeErrorAs(w http.ResponseWriter, err error, refuse refusal) {
	err = worded(err)
	switch fault.KindOf(err) {
	case fault.NotFound:
		refuse(w, http.StatusNotFound, fault.Message(err))
	case fault.Invalid, fault.Conflict:
		refuse(w, http.StatusBadRequest, fault.Message(err))
	case fault.Unauthorized:
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	case fault.Forbidden:
		http.Error(w, "forbidden", http.StatusForbidden)
	case fault.RateLimited:
		var fe *fault.Error
		if errors.As(err, &fe) {
			ratelimit.SetRetryAfter(w.Header(), ratelimit.Decision{RetryAfter: fe.RetryAfter})
		}
		refuse(w, http.StatusTooManyRequests, fault.Message(err))
	default:
		refuse(w, http.StatusInternalServerError, "internal error")
	}
}

// worded is err in Owncast's words where the domain's differ: a chat
// message past the stage chat's limit (messages.BodyError).
func worded(err error) error {
	var be *messages.BodyError
	if errors.As(err, &be) && !be.Empty {
		return fault.New(fault.Invalid, "message is too long")
	}
	return err
}

type ctxKey int

const (
	adminKey ctxKey = iota
	// adminPassKey holds the password a Basic-auth admin request was
	// verified with (serverconfig echoes its bcrypt hash).
	adminPassKey
)

// isBasic reports whether a request carries Basic auth: Owncast's admin
// scheme. /api/admin/* requests with it are Owncast's; with a Bearer token
// they are Together's (DESIGN.md "Paths").
func isBasic(r *http.Request) bool {
	return len(r.Header.Get("Authorization")) > 6 && strings.EqualFold(r.Header.Get("Authorization")[:6], "basic ")
}

// IsOwncastAdminRequest is the predicate for shared /api/admin/* patterns:
// Basic auth, a preflight, or no credentials at all (which then get
// Owncast's 401 and Basic challenge, as Owncast's clients expect; Together's
// admin requests always carry a Bearer token).
func IsOwncastAdminRequest(r *http.Request) bool {
	return isBasic(r) || r.Method == http.MethodOptions || r.Header.Get("Authorization") == ""
}

// adminCSRF tells a browser's cross-origin request from a same-origin one
// (Sec-Fetch-Site, else Origin against Host); requests that carry neither
// (scripts, Owncast's tools) pass, as do GET, HEAD and OPTIONS.
var adminCSRF = http.NewCrossOriginProtection()

// requireAdmin is Owncast's admin Basic auth: user "admin" (or the Hearth
// admin's own username) and the admin account's password; the account must
// be an instance admin. Hearth's own web app may instead send its session's
// Bearer access token, when that session is an instance admin's (one
// sign-in for the admin: the app's).
func (s *Surface) requireAdmin(next http.HandlerFunc) http.Handler {
	return s.wrap(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			// No Basic challenge here: the client did not use Basic, and
			// a browser must not answer a session's 401 with a prompt.
			p, err := s.d.Identity.Authenticate(r.Context(), tok)
			if err != nil || !p.Account.IsAdmin || p.Token != nil {
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
			next(w, r.WithContext(context.WithValue(r.Context(), adminKey, p.Account)))
			return
		}
		// Basic credentials are ambient: a browser that signed in at the
		// admin's prompt sends them again to any page of the realm, also
		// on a form another site submits. A cross-origin request that
		// changes something (a "simple" text/plain POST needs no
		// preflight) is refused before the credentials are looked at.
		if err := adminCSRF.Check(r); err != nil {
			writeResult(w, http.StatusForbidden, false, "cross-origin admin requests are refused")
			return
		}
		user, pass, ok := r.BasicAuth()
		var acct *identity.Account
		if ok {
			// Every request's password is checked, as Owncast checks its
			// bcrypt hash on each: one attempt under identity's sign-in
			// limits. While those limits refuse the name (a stranger
			// failing at "admin"), credentials that verified on this node
			// in the last five minutes still pass, so an admin at work is
			// not locked out. Remembering them for every request instead
			// answered admin reads before a chat message sent a moment
			// earlier had landed, which Owncast's own API suite relies on
			// (docs/compatibility.md, 003_chat).
			a, err := s.d.Identity.CheckAdminBasic(r.Context(), user, pass, ratelimit.ClientIP(r, s.d.Chats.TrustProxy))
			switch {
			case err == nil:
				acct = a
				s.chat.admins.remember(user, pass, acct)
			case fault.KindOf(err) == fault.RateLimited:
				if acct = s.chat.admins.lookup(r.Context(), s.d.Identity, user, pass); acct == nil {
					writeError(w, err)
					return
				}
			}
		}
		if acct == nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="`+identity.AdminRealm+`"`)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		ctx := context.WithValue(r.Context(), adminKey, acct)
		next(w, r.WithContext(context.WithValue(ctx, adminPassKey, pass)))
	})
}
