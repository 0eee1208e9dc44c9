// Package rest is what every part of the Together surface shares on the
// wire: Together's {"error": "…"} body and the one mapping from fault kinds
// to its status codes, JSON body decoding as Axum answers it (400/422),
// path ids, and the Base every route group is built on (the domain
// services, the logger, authentication and the audit log). The route
// groups live in sibling packages (files, embeds, export, admin,
// moderation, hooks, polls, bots); the parent package owns the route table,
// the gateway and the rest of Together's API.
package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/ratelimit"
)

// Handler is one Together route's handler; p is nil on public routes.
type Handler = func(w http.ResponseWriter, r *http.Request, p *identity.Principal)

// Base is what every route group of the surface is built on.
type Base struct {
	Log        *slog.Logger
	Identity   *identity.Service
	Community  *community.Service
	Messages   *messages.Service
	TrustProxy bool
}

// ErrNoUploads answers the routes that need the upload directory and the
// extras store when either is missing.
var ErrNoUploads = fault.New(fault.Unavailable, "Uploads are not available")

// ErrMissingAuth answers a request without usable credentials.
var ErrMissingAuth = fault.New(fault.Unauthorized, "Missing or invalid Authorization header")

// Authenticate accepts "Bearer <access JWT>" and "Bot <64 hex>".
func (b *Base) Authenticate(r *http.Request) (*identity.Principal, error) {
	h := r.Header.Get("Authorization")
	scheme, raw, ok := strings.Cut(h, " ")
	if !ok || raw == "" {
		return nil, ErrMissingAuth
	}
	switch scheme {
	case "Bearer":
		return b.Identity.Authenticate(r.Context(), raw)
	case "Bot":
		return b.Identity.AuthenticateToken(r.Context(), identity.BotToken, raw)
	}
	return nil, ErrMissingAuth
}

// StatusOf is the one mapping from fault kinds to Together's status codes.
func StatusOf(k fault.Kind) int {
	switch k {
	case fault.NotFound:
		return http.StatusNotFound
	case fault.Invalid:
		return http.StatusBadRequest
	case fault.Unauthorized:
		return http.StatusUnauthorized
	case fault.Forbidden:
		return http.StatusForbidden
	case fault.Conflict:
		return http.StatusConflict
	case fault.RateLimited:
		return http.StatusTooManyRequests
	case fault.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Fail writes err as Together's {"error": "…"} with the mapped status. A
// rate-limited error also gets Retry-After, in whole seconds, and so does
// an unavailable one that says when to come back.
func (b *Base) Fail(w http.ResponseWriter, err error) {
	err = worded(err)
	k := fault.KindOf(err)
	msg := fault.Message(err)
	if k == fault.RateLimited || k == fault.Unavailable {
		var fe *fault.Error
		if errors.As(err, &fe) && (k == fault.RateLimited || fe.RetryAfter > 0) {
			ratelimit.SetRetryAfter(w.Header(), ratelimit.Decision{RetryAfter: fe.RetryAfter})
		}
	}
	if k == fault.Internal {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			// The client went away or the request ran out of time.
			WriteError(w, http.StatusServiceUnavailable, "Request cancelled")
			return
		}
		b.Log.Error("internal error", "err", err)
		msg = "Internal server error"
	}
	WriteError(w, StatusOf(k), msg)
}

// Bad writes a decode error (its own status) or a domain error.
func (b *Base) Bad(w http.ResponseWriter, err error) {
	var se *StatusError
	if errors.As(err, &se) {
		WriteError(w, se.Status, se.Msg)
		return
	}
	b.Fail(w, err)
}

// ruleTexts word the community's rule errors, and live's refusals of a
// stage channel's binding, as Together does (same kind, Together's text).
var ruleTexts = []struct {
	err  error
	text string
}{
	{community.ErrPollQuestion, "Question must be 1-500 characters"},
	{community.ErrPollOptionCount, "A poll needs 2-10 options"},
	{community.ErrPollOptionText, "Each option must be 1-200 characters"},
	{community.ErrPollNoSuchOption, "Invalid option_id"},
	{community.ErrEventName, "Event name must be 1-200 characters"},
	{community.ErrEventDescription, "description must be at most 2000 characters"},
	{community.ErrBotsHumansOnly, "Bots cannot manage bots"},
	{community.ErrBotName, "Bot name must be 1-64 characters"},
	{community.ErrBotNameAlnum, "Bot name must contain at least one alphanumeric character"},
	{community.ErrBotGone, "Bot not found or already revoked"},
	{community.ErrBotRevokedEdit, "Cannot update a revoked bot"},
	{community.ErrBotDescription, "description must be at most 512 characters"},
	{community.ErrBotNotFound, "Bot not found"},
	{community.ErrBotRevoked, "Cannot regenerate token for a revoked bot. Create a new bot instead."},
	{community.ErrEditOthers, "Only the message author can edit it"},
	{community.ErrDeleteMessage, "Only the message author or server owner can delete it"},
	{community.ErrReact, "You do not have permission to add reactions"},
	{community.ErrPin, "You need MANAGE_MESSAGES to pin messages"},
	{community.ErrAttachOthers, "Only the message author can add attachments"},
	{community.ErrAttach, "You don't have permission to attach files in this channel"},
	{community.ErrManageEmojis, "You need the Administrator permission to manage custom emojis"},
	{live.ErrBindAdmin, "Only an instance admin can set stage_id"},
	{live.ErrBindKind, "stage_id is only for stage channels"},
	{live.ErrStageRef, `stage_id must be "default" or null`},
}

// worded is err in Together's words when it is one of ruleTexts, or a
// message body outside its conversation's bounds.
func worded(err error) error {
	var be *messages.BodyError
	if errors.As(err, &be) {
		return fault.Newf(fault.Invalid, "Message content must be 1-%d characters", be.Max)
	}
	for _, t := range ruleTexts {
		if errors.Is(err, t.err) {
			return fault.New(fault.KindOf(t.err), t.text)
		}
	}
	return err
}

// WriteError writes Together's error body.
func WriteError(w http.ResponseWriter, status int, msg string) {
	httpserver.WriteJSON(w, status, map[string]string{"error": msg})
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) { httpserver.WriteJSON(w, status, v) }

// NoContent answers 204.
func NoContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

// Decode reads a JSON body into v. Malformed JSON is 400, a value a field
// cannot take (a wrong type, a bad timestamp, an unknown field when
// strict) 422, as Axum's Json extractor answers, both in Together's error
// shape.
func Decode(r *http.Request, v any, strict bool) error {
	raw, err := httpserver.ReadJSONValue(r.Body)
	var mbe *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, httpserver.ErrJSONTrailing):
	case errors.As(err, &mbe):
		return &fault.Error{Kind: fault.Invalid, Msg: "Request body too large"}
	case errors.Is(err, io.EOF):
		return &StatusError{Status: http.StatusBadRequest, Msg: "Request body is empty"}
	default: // malformed, cut short or unreadable
		return &StatusError{Status: http.StatusBadRequest, Msg: "Malformed JSON body"}
	}
	trailing := err != nil
	// null alone is no value of the request's type (serde's "invalid
	// type: null, expected struct"): 422, where decoding would leave v as
	// it was and the request would go on as an empty one.
	if !trailing && string(raw) == "null" {
		return Unprocessable("Invalid value in the request body: null")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return Unprocessable("Invalid value for field " + te.Field)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return Unprocessable("Unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		// Well-formed JSON a field's type could not take (a timestamp
		// that is not RFC 3339): Axum's data error, 422.
		return Unprocessable("Invalid value in the request body: " + err.Error())
	}
	// Anything after the value is malformed, as serde_json's trailing
	// characters; serde reads the value first, so a type error above
	// is answered before it.
	if trailing {
		return &StatusError{Status: http.StatusBadRequest, Msg: "Malformed JSON body"}
	}
	return nil
}

// UUIDField is Axum's 422 for a body field typed Uuid that holds
// something else; nil when v is absent or a UUID.
func UUIDField(name string, v *string) error {
	if v == nil {
		return nil
	}
	if _, err := uuid.Parse(*v); err != nil {
		return Unprocessable("Invalid value for field " + name + ": not a UUID")
	}
	return nil
}

// StatusError is a decoding error with its own status (400/422), written
// by Bad.
type StatusError struct {
	Status int
	Msg    string
}

func (e *StatusError) Error() string { return e.Msg }

// Unprocessable is a 422 in Together's shape (a required field missing or
// of the wrong type).
func Unprocessable(msg string) error {
	return &StatusError{Status: http.StatusUnprocessableEntity, Msg: msg}
}

// Invalid is a 400 with msg.
func Invalid(msg string) error { return fault.New(fault.Invalid, msg) }

// PathID returns a path parameter that must be a UUID; notFound otherwise.
func PathID(r *http.Request, name, notFound string) (string, error) {
	v := r.PathValue(name)
	if _, err := uuid.Parse(v); err != nil {
		return "", fault.New(fault.NotFound, notFound)
	}
	return v, nil
}

// ServerID is the {id} of a /servers/{id}/… route.
func ServerID(r *http.Request) (string, error) { return PathID(r, "id", "Server not found") }

// MapAll converts every element with f. The result is never nil, so an
// empty list encodes as [] as Together sends it, not null.
func MapAll[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// OptString is s, or nil when empty (Together's Option<String>).
func OptString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Audit records an administrative action; failures are logged, not fatal.
func (b *Base) Audit(r *http.Request, communityID string, p *identity.Principal, action, targetType, targetID string, details map[string]any) {
	raw := []byte("{}")
	if details != nil {
		raw, _ = json.Marshal(details)
	}
	actor := p.Account.ID
	ip := ratelimit.ClientIP(r, b.TrustProxy)
	l := &community.AuditLog{CommunityID: communityID, ActorID: &actor, Action: action, Details: raw}
	if targetType != "" {
		l.TargetType = &targetType
	}
	if targetID != "" {
		l.TargetID = &targetID
	}
	if ip != "" {
		l.IPAddress = &ip
	}
	if err := b.Community.Audit(context.WithoutCancel(r.Context()), l); err != nil {
		b.Log.Warn("audit log", "err", err)
	}
}
