package hearthapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/ratelimit"
)

// WebRTCLive is the live domain's WebRTC side (live.Service).
type WebRTCLive interface {
	WHIP(ctx context.Context, stageID, key, offer, remoteAddr string) (*live.Session, error)
	WHEP(ctx context.Context, stageID, offer, ip, userAgent, viewer, channel string) (*live.Session, error)
	// RefuseKey refuses a stream key offered for a stage that does not
	// exist as it refuses a wrong key.
	RefuseKey(remoteAddr string) error
	EndSession(stageID, id string) error
}

// LiveDeps are the WHIP/WHEP routes' dependencies.
type LiveDeps struct {
	Live       WebRTCLive
	Gate       Gate // stage references and who may watch
	Auth       Authenticator
	TrustProxy bool
	Log        *slog.Logger
}

// Live serves WHIP ingest (RFC 9725) at /api/whip/{stage} and WHEP
// playback at /api/whep/{stage}; {stage} is "default" or a stage channel's
// id (one bound to the default stage names the default stage).
type Live struct {
	d LiveDeps
}

// NewLive builds the WHIP/WHEP routes.
func NewLive(d LiveDeps) (*Live, error) {
	if d.Live == nil || d.Gate == nil || d.Auth == nil {
		return nil, errors.New("hearthapi: live, gate and auth are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Live{d: d}, nil
}

// maxOffer caps an SDP offer body.
const maxOffer = 64 << 10

// Register adds the routes.
func (l *Live) Register(r Router) {
	h := func(f http.HandlerFunc) http.Handler { return httpserver.Recover(l.d.Log, writeStatus, cors(f)) }
	r.Handle("OPTIONS /api/whip/{stage}", h(preflight))
	r.Handle("OPTIONS /api/whep/{stage}", h(preflight))
	r.Handle("OPTIONS /api/whip/{stage}/{session}", h(preflight))
	r.Handle("OPTIONS /api/whep/{stage}/{session}", h(preflight))
	r.Handle("POST /api/whip/{stage}", h(l.whip))
	r.Handle("POST /api/whep/{stage}", h(l.whep))
	r.Handle("DELETE /api/whip/{stage}/{session}", h(l.end))
	r.Handle("DELETE /api/whep/{stage}/{session}", h(l.end))
	r.Handle("PATCH /api/whip/{stage}/{session}", h(noTrickle))
	r.Handle("PATCH /api/whep/{stage}/{session}", h(noTrickle))
}

// cors lets a publisher or player on another origin use the endpoints:
// they authenticate with a Bearer header, never a cookie, so any origin
// may call them.
func cors(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Expose-Headers", "Location, Accept-Patch, Link")
		next(w, r)
	}
}

func preflight(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "POST, DELETE, PATCH, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
	h.Set("Access-Control-Max-Age", "86400")
	h.Set("Accept-Post", "application/sdp")
	w.WriteHeader(http.StatusNoContent)
}

// noTrickle answers PATCH: Hearth answers with every candidate gathered and
// supports neither trickle ICE nor ICE restarts (RFC 9725 §4.3.1: 405).
func noTrickle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "DELETE, OPTIONS")
	writeStatus(w, r, http.StatusMethodNotAllowed, "trickle ICE and ICE restarts are not supported: send an offer with all candidates")
}

// offer reads an application/sdp body.
func offer(r *http.Request) (string, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/sdp" {
		return "", errUnsupportedType
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxOffer+1))
	if err != nil {
		return "", fault.New(fault.Invalid, "cannot read the offer")
	}
	if len(b) > maxOffer {
		return "", fault.New(fault.Invalid, "the SDP offer is too large")
	}
	return string(b), nil
}

var errUnsupportedType = errors.New("the body must be an SDP offer (Content-Type: application/sdp)")

// stage is the stage {stage} names ("default" or a stage channel's id): the
// stage the channel broadcasts on, which for a stage channel an instance
// admin bound to the default stage is the default stage (as the recordings
// routes resolve it, stageFor). channel is then the channel's id, whose
// access WHEP checks before the bound stage's; "" otherwise.
func (l *Live) stage(r *http.Request) (id, channel string, err error) {
	ref := r.PathValue("stage")
	if ref == "" || len(ref) > 100 {
		return "", "", errStageNotFound
	}
	return resolveStage(r.Context(), l.d.Gate, ref)
}

// watchable answers whether who may watch stageID: a stage they may not
// see is one that does not exist (errStageNotFound).
func (l *Live) watchable(r *http.Request, who string, admin bool, stageID string) error {
	a, err := l.d.Gate.Access(r.Context(), who, admin, stageID)
	if fault.KindOf(err) == fault.NotFound || (err == nil && !a.View) {
		err = errStageNotFound
	}
	return err
}

// whip checks what the request carries (a key, an SDP offer) before the
// stage it names, and refuses a key for a stage that does not exist as a
// wrong key: no answer tells which stage ids exist.
func (l *Live) whip(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || key == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="whip"`)
		writeStatus(w, r, http.StatusUnauthorized, "the stage's stream key is the Bearer token")
		return
	}
	sdp, err := offer(r)
	if err != nil {
		l.offerError(w, r, err)
		return
	}
	addr := ratelimit.ClientIP(r, l.d.TrustProxy)
	var sess *live.Session
	// A channel bound to the default stage publishes there, with its key.
	id, _, err := l.stage(r)
	if fault.KindOf(err) == fault.NotFound {
		err = l.d.Live.RefuseKey(addr)
	}
	if err == nil {
		// The session is the answer's only product: a client that hung
		// up before it never connects, so the stage is not held for it.
		ctx, cancel := httpserver.WhileClientWaits(r)
		sess, err = l.d.Live.WHIP(ctx, id, key, sdp, addr)
		cancel()
	}
	if err != nil {
		if fault.KindOf(err) == fault.Unauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="whip", error="invalid_token"`)
		}
		writeError(w, err)
		return
	}
	answer(w, "/api/whip/"+r.PathValue("stage")+"/"+sess.ID, sess.Answer)
}

// whep authenticates the caller before it looks the stage up, and answers a
// stage the caller may not watch as one that does not exist (signed in or
// not), as the recordings routes do. A stage channel bound to the default
// stage plays the default stage, to those who may see the channel (checked
// first, so a hidden channel answers as an unknown id) and the stage.
func (l *Live) whep(w http.ResponseWriter, r *http.Request) {
	who, admin, err := l.caller(r)
	if err != nil {
		writeError(w, err)
		return
	}
	id, channel, err := l.stage(r)
	if err == nil && channel != "" {
		err = l.watchable(r, who, admin, channel)
	}
	if err == nil {
		err = l.watchable(r, who, admin, id)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	sdp, err := offer(r)
	if err != nil {
		l.offerError(w, r, err)
		return
	}
	ctx, cancel := httpserver.WhileClientWaits(r) // as WHIP's
	sess, err := l.d.Live.WHEP(ctx, id, sdp, ratelimit.ClientIP(r, l.d.TrustProxy), r.UserAgent(), who, channel)
	cancel()
	if err != nil {
		writeError(w, err)
		return
	}
	answer(w, "/api/whep/"+r.PathValue("stage")+"/"+sess.ID, sess.Answer)
}

func (l *Live) caller(r *http.Request) (string, bool, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return "", false, nil
	}
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || tok == "" {
		return "", false, fault.New(fault.Unauthorized, "use a Bearer access token")
	}
	id, admin, err := l.d.Auth(r.Context(), tok)
	if err != nil {
		return "", false, fault.Wrap(fault.Unauthorized, "invalid token", err)
	}
	return id, admin, nil
}

func (l *Live) offerError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errUnsupportedType) {
		w.Header().Set("Accept-Post", "application/sdp")
		writeStatus(w, r, http.StatusUnsupportedMediaType, err.Error())
		return
	}
	writeError(w, err)
}

func answer(w http.ResponseWriter, location, sdp string) {
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", location)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, sdp)
}

// end is the DELETE on a session's resource URL: the URL (an unguessable
// id) is the capability, as the WHIP client got it from the 201.
func (l *Live) end(w http.ResponseWriter, r *http.Request) {
	id, _, err := l.stage(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := l.d.Live.EndSession(id, r.PathValue("session")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
