package owncast

import (
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/peersign"
)

// StageGate decides who may watch or manage a community stage channel's
// stage (Hearth's /api/stages/* and /stages/*/hls/* routes); the live
// domain's StageChannels holds the rules.
type StageGate interface {
	// StageOf returns the stage of stage channel channelID when the
	// account may view the channel, or with manage when it may manage it.
	StageOf(ctx context.Context, a *identity.Account, channelID string, manage bool) (stageID string, err error)
	// StageForViewer returns the stage of a stage channel when accountID
	// may still view the channel (the HLS routes, whose signed token names
	// the account, ask it on every request: a member banned, kicked or
	// hidden from the channel stops playing it).
	StageForViewer(ctx context.Context, channelID, accountID string) (string, error)
	// PublicStage returns the stage of a stage channel anyone may watch,
	// signed in or not (its community open to all); NotFound otherwise.
	PublicStage(ctx context.Context, channelID string) (string, error)
}

// bearer authenticates a Hearth access token (Authorization: Bearer).
func (s *Surface) bearer(r *http.Request) (*identity.Principal, error) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || raw == "" {
		return nil, fault.New(fault.Unauthorized, "a Bearer access token is required")
	}
	p, err := s.d.Identity.Authenticate(r.Context(), raw)
	if err != nil {
		return nil, fault.Wrap(fault.Unauthorized, "invalid token", err)
	}
	return p, nil
}

// StageHLSTTL is how long a stage's signed playlist URL stays valid.
const StageHLSTTL = 12 * time.Hour

// registerStages serves each community stage channel's own stage (Hearth
// extension): status and stream key with a Bearer token, and HLS under a
// signed path (players cannot send headers; relative URLs in the
// playlists keep the token).
func (s *Surface) registerStages(h *httpserver.Server) {
	if s.d.Stages == nil || len(s.d.StageURLKey) == 0 {
		return
	}
	h.Handle("GET /api/stages/{id}/status", s.wrap(s.handleStageStatus))
	h.Handle("GET /api/stages/{id}/key", s.wrap(s.handleStageKey(false)))
	h.Handle("POST /api/stages/{id}/key", s.wrap(s.handleStageKey(true)))
	h.Handle("GET /stages/{id}/stream.m3u8", s.wrap(s.handlePublicStageHLS))
	h.Handle("GET /stages/{id}/hls/{token}/stream.m3u8", s.wrap(s.stageHLS(s.serveMaster)))
	h.Handle("GET /stages/{id}/hls/{token}/{n}/stream.m3u8", s.wrap(s.stageHLS(s.serveMedia)))
	h.Handle("GET /stages/{id}/hls/{token}/{n}/{file}", s.wrap(s.stageHLS(s.serveSegment)))
}

// stageHLSURL is the signing label (package peersign) of a stage
// channel's HLS path token, so that no other signed URL opens a stage nor
// a stage's token anything else.
const stageHLSURL = "stage-hls-url"

// stageToken is the path token of channel channelID's HLS for accountID,
// made at now, and when it expires (StageHLSTTL later): exp "."
// base64url(account) "." sig, where exp and sig are peersign's, with the
// key StageURLKey and the label stageHLSURL, over the channel and account.
func (s *Surface) stageToken(channelID, accountID string, now time.Time) (string, time.Time) {
	q := peersign.QueryFor(s.d.StageURLKey, stageHLSURL, now, StageHLSTTL, channelID, accountID)
	exp, _ := strconv.ParseInt(q.Get("exp"), 10, 64)
	return q.Get("exp") + "." + stageAccount.EncodeToString([]byte(accountID)) + "." + q.Get("sig"), time.Unix(exp, 0)
}

// stageAccount encodes the account in a stage token: strict, so that a
// token reads one way only.
var stageAccount = base64.RawURLEncoding.Strict()

// validStageToken returns the account a token names when it is valid for
// channelID and has not expired at now.
func (s *Surface) validStageToken(channelID, token string, now time.Time) (string, bool) {
	exp, rest, ok := strings.Cut(token, ".")
	if !ok {
		return "", false
	}
	enc, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return "", false
	}
	account, err := stageAccount.DecodeString(enc)
	if err != nil || !peersign.ValidFor(s.d.StageURLKey, stageHLSURL, now, StageHLSTTL, exp, sig, channelID, string(account)) {
		return "", false
	}
	return string(account), true
}

func (s *Surface) stageHLS(serve func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		account, ok := s.validStageToken(id, r.PathValue("token"), time.Now())
		if !ok {
			writeResult(w, http.StatusForbidden, false, "this stream link has expired; reload the page")
			return
		}
		// A token naming no account is anyone's (handlePublicStageHLS):
		// it plays while the channel is open to all.
		var stageID string
		var err error
		if account == "" {
			stageID, err = s.d.Stages.PublicStage(r.Context(), id)
		} else {
			stageID, err = s.d.Stages.StageForViewer(r.Context(), id, account)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		serve(w, r, stageID)
	}
}

// handlePublicStageHLS is GET /stages/{id}/stream.m3u8, the stable
// address of a stage channel's stream for anyone, signed in or not (its
// fediverse actor's WebFinger entry names it): for a channel whose
// community is open to all, a 302 to the master playlist under a signed
// path naming no account (relative URLs in the playlists keep it), which
// plays while the channel stays open to all; anything else answers as an
// unknown channel.
func (s *Surface) handlePublicStageHLS(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.d.Stages.PublicStage(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	token, _ := s.stageToken(id, "", time.Now())
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	http.Redirect(w, r, "/stages/"+url.PathEscape(id)+"/hls/"+token+"/stream.m3u8", http.StatusFound)
}

// stageStatus is GET /api/stages/{id}/status: Owncast's status fields for
// the channel's stage, plus where to play it.
type stageStatus struct {
	StageID            string     `json:"stageId"`
	Default            bool       `json:"default"`
	Online             bool       `json:"online"`
	ViewerCount        int        `json:"viewerCount"`
	StreamTitle        string     `json:"streamTitle"`
	LastConnectTime    *time.Time `json:"lastConnectTime"`
	LastDisconnectTime *time.Time `json:"lastDisconnectTime"`
	HLSURL             string     `json:"hlsUrl"`
	HLSURLExpires      time.Time  `json:"hlsUrlExpires"`
}

func (s *Surface) handleStageStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p, err := s.bearer(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	account := p.Account.ID
	stageID, err := s.d.Stages.StageOf(r.Context(), p.Account, id, false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.d.Live.Status(r.Context(), stageID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	token, exp := s.stageToken(id, account, time.Now())
	out := stageStatus{StageID: stageID, Default: stageID == s.d.Live.DefaultStageID(), Online: st.Online, ViewerCount: st.ViewerCount,
		StreamTitle: st.Title, LastConnectTime: st.LastConnect, LastDisconnectTime: st.LastDisconnect,
		HLSURL: "/stages/" + id + "/hls/" + token + "/stream.m3u8", HLSURLExpires: exp.UTC()}
	w.Header().Set("Cache-Control", "no-store")
	httpserver.WriteJSON(w, http.StatusOK, out)
}

// stageKey is the answer of /api/stages/{id}/key: where and with what to
// publish.
type stageKey struct {
	StageID   string `json:"stageId"`
	RTMPURL   string `json:"rtmpUrl"`
	StreamKey string `json:"streamKey"`
}

// handleStageKey is GET (read) and POST (rotate) /api/stages/{id}/key, for
// whoever may manage the channel (the default stage's key: instance
// admins only, checked by the gate).
func (s *Surface) handleStageKey(rotate bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.bearer(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		stageID, err := s.d.Stages.StageOf(r.Context(), p.Account, r.PathValue("id"), true)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ctx := r.Context()
		var key string
		if stageID != s.d.Live.DefaultStageID() {
			// A stage channel's own stage: the caller's own key, so that
			// one who stops managing the channel stops streaming with it.
			if key, err = s.d.Live.HolderStreamKey(ctx, stageID, p.Account.ID, rotate); err != nil {
				s.fail(w, r, err)
				return
			}
		} else {
			// A channel bound to the default stage (instance admins
			// only): Owncast's keys, as its admin sees them.
			if rotate {
				if err := s.d.Live.SetStreamKeys(ctx, stageID, []live.StreamKey{{Key: live.NewStreamKey(), Comment: "Stream key"}}); err != nil {
					s.fail(w, r, err)
					return
				}
			}
			keys, err := s.d.Live.StreamKeys(ctx, stageID)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			if len(keys) == 0 {
				writeError(w, fault.New(fault.NotFound, "the stage has no stream key"))
				return
			}
			key = keys[0].Key
		}
		w.Header().Set("Cache-Control", "no-store")
		httpserver.WriteJSON(w, http.StatusOK, stageKey{StageID: stageID, RTMPURL: s.rtmpURL(r), StreamKey: key})
	}
}

// rtmpURL is rtmp://<host>[:port]/live. The host is the one of the public
// URL setting (Owncast's serverurl) when set, else the one the caller used;
// the port is the one the RTMP listener is bound to (--rtmp-addr).
func (s *Surface) rtmpURL(r *http.Request) string {
	host := r.Host
	if s.d.Chat != nil {
		if u, err := url.Parse(s.d.Chat.Settings().ServerURL); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := s.d.Live.IngestPort(); p > 0 && p != 1935 {
		host += ":" + strconv.Itoa(p)
	}
	return "rtmp://" + host + "/live"
}
