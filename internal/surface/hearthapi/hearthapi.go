// Package hearthapi is Hearth's own REST API (what none of the three
// upstream systems has): recordings of broadcasts and clips cut from them.
// It translates HTTP to the recording domain; who may view or manage a
// stage is the Gate's to say (community permissions for stage channels,
// the instance admin for the default stage).
package hearthapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/peersign"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/recording"
)

// Access is what a caller may do on a stage.
type Access struct {
	View, Manage bool
}

// Gate resolves stage references and permissions.
type Gate interface {
	// Stage turns a reference from a request ("default" or a stage
	// channel's id) into a stage id.
	Stage(ctx context.Context, ref string) (string, error)
	// BoundStage is the stage a stage channel broadcasts on when it is
	// bound to another one (the default stage), and true; ref itself and
	// false otherwise (any other reference too).
	BoundStage(ctx context.Context, ref string) (string, bool, error)
	// Access is accountID's ("" anonymous) access to stageID; NotFound when
	// they may not see it.
	Access(ctx context.Context, accountID string, admin bool, stageID string) (Access, error)
	// PostClip announces a clip in the stage's chat and keeps the message
	// on the clip (Clip.MessageID) for UnpostClip (nil error: posted or
	// nothing to post to).
	PostClip(ctx context.Context, accountID string, c *recording.Clip, url string) error
	// UnpostClip takes a deleted clip's link (url) out of the chat message
	// that announced it, c.MessageID (nil error: done or no such message).
	UnpostClip(ctx context.Context, c *recording.Clip, url string) error
	// Chat lists the messages of a stage's chat between two times, oldest
	// first (at most limit).
	Chat(ctx context.Context, stageID string, from, to time.Time, limit int) ([]ChatMessage, error)
}

// ChatMessage is a chat message replayed with a recording.
type ChatMessage struct {
	ID         string    `json:"id"`
	AuthorName string    `json:"authorName"`
	Body       string    `json:"body"`
	At         time.Time `json:"at"`
	// Offset is seconds from the recording's start.
	Offset float64 `json:"offsetSeconds"`
}

// Authenticator checks a Bearer access token.
type Authenticator func(ctx context.Context, token string) (accountID string, admin bool, err error)

// Router is where routes are registered.
type Router interface {
	Handle(pattern string, h http.Handler)
}

// Deps are the surface's dependencies.
type Deps struct {
	Recordings *recording.Service
	Gate       Gate
	Auth       Authenticator
	Log        *slog.Logger
	// PeerClient fetches a recording's files from the node holding them
	// (nil: peersign.Proxy's, with connect and header timeouts).
	PeerClient *http.Client
	// TrustProxy takes a client's address from X-Forwarded-For (the
	// per-address shares of the fetches from other nodes).
	TrustProxy bool
}

// Surface serves /api/recordings, /api/clips and /api/recording-settings.
type Surface struct {
	d Deps
	// peers fetches (and bounds) files held by other nodes (peer.go);
	// peerDownloads their MP4 downloads, whose answer may wait for the
	// MP4 to be made.
	peers, peerDownloads *peersign.Proxy
	// cutClient and cutSlots forward (and bound) clip cuts to the node
	// holding a clip's source (cutpeer.go).
	cutClient *http.Client
	cutSlots  chan struct{}
}

// New builds the surface.
func New(d Deps) (*Surface, error) {
	if d.Recordings == nil || d.Gate == nil || d.Auth == nil {
		return nil, errors.New("hearthapi: recordings, gate and auth are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	// A cut answers once the clip is stored: no header timeout, the
	// request's own (cutTimeout) bounds it.
	cut := &http.Client{Transport: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &Surface{d: d, peers: newPeerProxy(d.PeerClient, 30*time.Second, peerFetchesPerAddr),
		peerDownloads: newPeerProxy(d.PeerClient, peerDownloadWait, peerDownloadsPerAddr), cutClient: cut, cutSlots: make(chan struct{}, maxCutsForwarded)}, nil
}

// Register adds the routes.
func (s *Surface) Register(r Router) {
	h := func(f http.HandlerFunc) http.Handler { return httpserver.Recover(s.d.Log, writeStatus, f) }
	r.Handle("GET /api/recordings", h(s.list))
	r.Handle("GET /api/recordings/{id}", h(s.get))
	r.Handle("PATCH /api/recordings/{id}", h(s.update))
	r.Handle("DELETE /api/recordings/{id}", h(s.delete))
	r.Handle("GET /api/recordings/{id}/download", h(s.download))
	r.Handle("GET /api/recordings/{id}/download-url", h(s.downloadURL))
	r.Handle("GET /api/recordings/{id}/hls/{name}", h(s.file))
	r.Handle("GET /api/recordings/{id}/peer/{name}", h(s.peer))
	r.Handle("POST /api/recordings/{id}/clips", h(s.clip))
	r.Handle("GET /api/recordings/{id}/chat", h(s.chat))
	r.Handle("GET /api/clips", h(s.clips))
	r.Handle("POST /api/clips", h(s.liveClip))
	r.Handle("POST /api/clips/peer", h(s.cutPeer))
	r.Handle("GET /api/clips/{id}", h(s.getClip))
	r.Handle("GET /api/clips/{id}/file", h(s.clipFile))
	r.Handle("GET /api/clips/{id}/file-url", h(s.clipURL))
	r.Handle("GET /api/clips/{id}/peer", h(s.clipPeer))
	r.Handle("DELETE /api/clips/{id}", h(s.deleteClip))
	r.Handle("GET /api/recording-settings/{stage}", h(s.settings))
	r.Handle("GET /api/recording-usage", h(s.usage))
	r.Handle("PUT /api/recording-settings/{stage}", h(s.putSettings))
}

// writeError is the one place domain error kinds become responses:
// {"message": "..."} with the kind's status.
func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	msg := "internal error"
	switch fault.KindOf(err) {
	case fault.NotFound:
		status, msg = http.StatusNotFound, fault.Message(err)
	case fault.Invalid:
		status, msg = http.StatusBadRequest, fault.Message(err)
	case fault.Conflict:
		status, msg = http.StatusConflict, fault.Message(err)
	case fault.Unauthorized:
		status, msg = http.StatusUnauthorized, fault.Message(err)
	case fault.Forbidden:
		status, msg = http.StatusForbidden, fault.Message(err)
	case fault.Unavailable:
		status, msg = http.StatusServiceUnavailable, fault.Message(err)
	case fault.RateLimited:
		status, msg = http.StatusTooManyRequests, fault.Message(err)
	}
	if errors.Is(err, errBodyTooLarge) {
		status = http.StatusRequestEntityTooLarge
	}
	// Another node of the cluster failed a request made for the caller.
	var bg *badGateway
	if errors.As(err, &bg) {
		status, msg = http.StatusBadGateway, bg.msg
	}
	// A refusal that says when to come back (a full WebRTC budget, a
	// rate limit) says so in Retry-After.
	var fe *fault.Error
	if errors.As(err, &fe) && fe.RetryAfter > 0 {
		ratelimit.SetRetryAfter(w.Header(), ratelimit.Decision{RetryAfter: fe.RetryAfter})
	}
	// An error is never a download (a clip's download=1 sets the header
	// before the file is found).
	w.Header().Del("Content-Disposition")
	writeStatus(w, nil, status, msg)
}

func writeStatus(w http.ResponseWriter, _ *http.Request, status int, msg string) {
	httpserver.WriteJSON(w, status, map[string]string{"message": msg})
}

// caller authenticates an optional Bearer token.
func (s *Surface) caller(r *http.Request) (string, bool, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return "", false, nil
	}
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || tok == "" {
		return "", false, fault.New(fault.Unauthorized, "use a Bearer access token")
	}
	id, admin, err := s.d.Auth(r.Context(), tok)
	if err != nil {
		return "", false, fault.Wrap(fault.Unauthorized, "invalid token", err)
	}
	return id, admin, nil
}

// need is what a route asks of its caller.
type need int

const (
	view   need = iota // anyone who may see the stage (the default stage: anyone)
	member             // a signed-in account that may see the stage
	manage             // a signed-in account that manages the stage
)

// who is an authenticated caller: an account id ("" for none) and whether
// it is the instance admin.
type who struct {
	id    string
	admin bool
}

// authenticate checks the caller before the route looks anything up: a bad
// token is 401, and so is no token where n needs an account, whatever the
// path or body names, so an anonymous caller learns nothing of which ids
// exist.
func (s *Surface) authenticate(r *http.Request, n need) (who, error) {
	id, admin, err := s.caller(r)
	if err != nil {
		return who{}, err
	}
	switch {
	case id == "" && n == member:
		return who{}, fault.New(fault.Unauthorized, "sign in to make clips")
	case id == "" && n == manage:
		return who{}, fault.New(fault.Unauthorized, "sign in to manage recordings")
	}
	return who{id: id, admin: admin}, nil
}

// What a route answers for an id that names nothing, and for one the
// caller may not see: the same error, so that no caller (signed in or not)
// can tell a private stage's recording, clip or stage from a made-up id.
var (
	errRecordingNotFound = fault.New(fault.NotFound, "recording not found")
	errClipNotFound      = fault.New(fault.NotFound, "clip not found")
	errStageNotFound     = fault.New(fault.NotFound, "stage not found")
)

// access checks an authenticated caller's access to a stage; hidden is the
// route's answer for an id that does not exist, given to a caller who may
// not see the stage.
func (s *Surface) access(r *http.Request, c who, stageID string, manage bool, hidden error) error {
	a, err := s.d.Gate.Access(r.Context(), c.id, c.admin, stageID)
	if err != nil {
		if errors.Is(err, fault.NotFound) {
			return hidden
		}
		return err
	}
	if !a.View {
		return hidden
	}
	if manage && !a.Manage {
		// (authenticate refused a caller without an account already.)
		return fault.New(fault.Forbidden, "managing this stage's recordings needs MANAGE_CHANNELS (the default stage: the instance admin)")
	}
	return nil
}

// recording is the recording the path names, when the caller may do what n
// says with it; and the caller's account id.
func (s *Surface) recording(r *http.Request, n need) (*recording.Recording, string, error) {
	c, err := s.authenticate(r, n)
	if err != nil {
		return nil, "", err
	}
	rec, err := s.d.Recordings.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, fault.NotFound) {
		err = errRecordingNotFound
	}
	if err != nil {
		return nil, "", err
	}
	if err := s.access(r, c, rec.StageID, n == manage, errRecordingNotFound); err != nil {
		return nil, "", err
	}
	return rec, c.id, nil
}

// recordingJSON is a recording on the wire.
type recordingJSON struct {
	ID              string     `json:"id"`
	StageID         string     `json:"stageId"`
	Title           string     `json:"title"`
	StartedAt       time.Time  `json:"startedAt"`
	EndedAt         *time.Time `json:"endedAt"`
	Recording       bool       `json:"recording"`
	DurationSeconds float64    `json:"durationSeconds"`
	SizeBytes       int64      `json:"sizeBytes"`
	Pinned          bool       `json:"pinned"`
	PlaylistURL     string     `json:"playlistUrl"`
	ThumbnailURL    string     `json:"thumbnailUrl"`
	// DownloadURL is the MP4's route, which the caller follows with the
	// same credentials as playlistUrl's; null while it is being recorded
	// (the route answers 409 then). A link that sends no Authorization
	// header asks download-url for a signed one.
	DownloadURL *string `json:"downloadUrl"`
}

func toJSON(r *recording.Recording) recordingJSON {
	base := "/api/recordings/" + r.ID
	var download *string
	if r.EndedAt != nil {
		u := base + "/download"
		download = &u
	}
	return recordingJSON{ID: r.ID, StageID: r.StageID, Title: r.Title, StartedAt: r.StartedAt, EndedAt: r.EndedAt,
		Recording: r.EndedAt == nil, DurationSeconds: r.Duration.Seconds(), SizeBytes: r.Size, Pinned: r.Pinned,
		PlaylistURL: base + "/hls/" + recording.PlaylistName, ThumbnailURL: base + "/hls/" + recording.ThumbnailName,
		DownloadURL: download}
}

// stageFor is the stage a reference ("default" or a stage channel's id)
// names, when caller c may see it (and manage it, when manage): the stage
// the channel broadcasts on, which is the default stage for a channel an
// instance admin bound to it. The caller must then pass both the channel's
// check (so a channel hidden from them answers as an unknown id) and the
// bound stage's (the default stage is the instance admin's to manage).
func (s *Surface) stageFor(r *http.Request, c who, ref string, manage bool) (string, error) {
	if ref == "" {
		return "", fault.New(fault.Invalid, `the stage query parameter is required ("default" or a stage channel id)`)
	}
	stage, channel, err := resolveStage(r.Context(), s.d.Gate, ref)
	if err != nil {
		return "", err
	}
	if channel != "" {
		if err := s.access(r, c, channel, manage, errStageNotFound); err != nil {
			return "", err
		}
	}
	return stage, s.access(r, c, stage, manage, errStageNotFound)
}

// resolveStage is the stage ref ("default" or a stage channel's id) names:
// for a stage channel an instance admin bound to another stage (the
// default stage), the stage it broadcasts on, with channel the channel's id
// (whose access a caller passes before the bound stage's); otherwise
// Gate.Stage's answer and "".
func resolveStage(ctx context.Context, g Gate, ref string) (stage, channel string, err error) {
	on, bound, err := g.BoundStage(ctx, ref)
	if err != nil {
		return "", "", err
	}
	if bound {
		return on, ref, nil
	}
	stage, err = g.Stage(ctx, ref)
	return stage, "", err
}

// readableStage is the stage named by the stage query parameter, when the
// caller may read it.
func (s *Surface) readableStage(r *http.Request) (string, error) {
	c, err := s.authenticate(r, view)
	if err != nil {
		return "", err
	}
	return s.stageFor(r, c, r.URL.Query().Get("stage"), false)
}

func (s *Surface) list(w http.ResponseWriter, r *http.Request) {
	stage, err := s.readableStage(r)
	if err != nil {
		writeError(w, err)
		return
	}
	list, err := s.d.Recordings.List(r.Context(), stage)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]recordingJSON, 0, len(list))
	for _, x := range list {
		out = append(out, toJSON(x))
	}
	httpserver.WriteJSON(w, http.StatusOK, out)
}

func (s *Surface) get(w http.ResponseWriter, r *http.Request) {
	rec, _, err := s.recording(r, view)
	if err != nil {
		writeError(w, err)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, toJSON(rec))
}

// maxBody bounds a JSON request body of this API.
const maxBody = 64 << 10

// errBodyTooLarge is a JSON body past maxBody: 413, not the decoder's
// "unexpected EOF" at the cut.
var errBodyTooLarge = fault.New(fault.Invalid, "request body too large (at most 64 KiB)")

// decode reads a JSON object into v. A body that is one object and
// nothing else is accepted: null (which would decode as {}, and on a PUT
// reset every field) and anything after the object are refused as the
// malformed JSON they are.
func decode(r *http.Request, v any) error {
	lr := &io.LimitedReader{R: r.Body, N: maxBody + 1}
	raw, err := httpserver.ReadJSONValue(lr)
	if err == nil && string(raw) == "null" {
		err = errors.New("null is not an object")
	}
	if err == nil {
		// The body again, strictly, from what was read.
		strict := json.NewDecoder(bytes.NewReader(raw))
		strict.DisallowUnknownFields()
		err = strict.Decode(v)
	}
	if err != nil {
		if lr.N == 0 {
			return errBodyTooLarge
		}
		return fault.Wrap(fault.Invalid, "invalid JSON body: "+err.Error(), err)
	}
	return nil
}

func (s *Surface) update(w http.ResponseWriter, r *http.Request) {
	rec, _, err := s.recording(r, manage)
	if err != nil {
		writeError(w, err)
		return
	}
	var body struct {
		Title  *string `json:"title"`
		Pinned *bool   `json:"pinned"`
	}
	if err := decode(r, &body); err != nil {
		writeError(w, err)
		return
	}
	rec, err = s.d.Recordings.Update(r.Context(), rec.ID, body.Title, body.Pinned)
	if err != nil {
		writeError(w, err)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, toJSON(rec))
}

func (s *Surface) delete(w http.ResponseWriter, r *http.Request) {
	rec, _, err := s.recording(r, manage)
	if err == nil {
		err = s.d.Recordings.Delete(r.Context(), rec.ID)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// download serves a recording's MP4. The caller is its token, or a signed
// URL (downloadURL: exp and sig in the query), which names the file after
// the recording's title.
func (s *Surface) download(w http.ResponseWriter, r *http.Request) {
	var (
		rec *recording.Recording
		err error
	)
	signed := r.URL.Query().Has("sig") || r.URL.Query().Has("exp")
	if signed {
		rec, err = s.signedRecording(r)
	} else {
		rec, _, err = s.recording(r, view)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	if rec.EndedAt == nil {
		writeError(w, fault.New(fault.Conflict, "the recording is still being made; download it after the broadcast ends"))
		return
	}
	if signed {
		// Kept over the owning node's name when proxied (proxyPeer).
		w.Header().Set("Content-Disposition", namedAttachment(rec.Title, "recording-"+rec.ID, "recording-"+rec.ID))
	}
	if !s.d.Recordings.HasLocal(rec.ID) {
		// Made on another node that keeps its files: that node remuxes.
		s.fromPeer(w, r, rec, recording.DownloadName)
		return
	}
	s.sendDownload(w, r.WithContext(s.jobCaller(r)), rec)
}

// addrKey is the key of r's client's per-address shares: its address, the
// IPv6 /64 (X-Forwarded-For with TrustProxy).
func (s *Surface) addrKey(r *http.Request) string {
	return ratelimit.AddrTurnKey(ratelimit.AddrKey(ratelimit.ClientIP(r, s.d.TrustProxy)))
}

// jobCaller is r's context naming its client as the caller whose share of
// the node's ffmpeg slots (recording.JobsPerCaller) a remux or a cut it
// starts counts against. Not for the peer routes: their client is a node.
func (s *Surface) jobCaller(r *http.Request) context.Context {
	return ratelimit.WithTurnKey(r.Context(), s.addrKey(r))
}

// downloadURL is GET /api/recordings/{id}/download-url: a URL of the
// recording's MP4 download that a link follows without the caller's access
// token, for ClipURLTTL. A caller who may not see the recording gets none,
// and none is made while it is being recorded.
func (s *Surface) downloadURL(w http.ResponseWriter, r *http.Request) {
	caller, err := s.authenticate(r, view)
	if err != nil {
		writeError(w, err)
		return
	}
	rec, err := s.d.Recordings.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, fault.NotFound) {
		err = errRecordingNotFound
	}
	if err == nil {
		err = s.access(r, caller, rec.StageID, false, errRecordingNotFound)
	}
	if err == nil && rec.EndedAt == nil {
		err = fault.New(fault.Conflict, "the recording is still being made; download it after the broadcast ends")
	}
	if err != nil {
		writeError(w, err)
		return
	}
	u, exp, err := s.d.Recordings.DownloadURL(rec, caller.id, caller.admin)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"url": u, "expiresAt": exp})
}

// signedRecording is the recording a signed download URL (downloadURL)
// names, when the URL is valid and the account it was made for may still
// see the recording: each request checks that again, so a member who lost
// the stage loses the URL too.
func (s *Surface) signedRecording(r *http.Request) (*recording.Recording, error) {
	id := r.PathValue("id")
	account, admin, ok := s.d.Recordings.VerifyDownloadURL(id, r.URL.Query())
	if !ok {
		return nil, fault.New(fault.Forbidden, "this download link has expired or is not valid; ask for a new one (GET /api/recordings/{id}/download-url)")
	}
	rec, err := s.d.Recordings.Get(r.Context(), id)
	if errors.Is(err, fault.NotFound) {
		err = errRecordingNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := s.access(r, who{id: account, admin: admin}, rec.StageID, false, errRecordingNotFound); err != nil {
		return nil, err
	}
	return rec, nil
}

// sendDownload serves a recording's MP4 from this node's disk: made once
// on its first download (recording.Service.DownloadFile), then a file like
// any other, with its length, range requests (206, 416), conditional
// requests and HEAD.
func (s *Surface) sendDownload(w http.ResponseWriter, r *http.Request, rec *recording.Recording) {
	f, err := s.d.Recordings.DownloadFile(r.Context(), rec.ID)
	if err != nil {
		if r.Context().Err() != nil {
			return // the client went away while it waited
		}
		if fault.KindOf(err) == fault.Internal {
			s.d.Log.Warn("hearthapi: download failed", "recording", rec.ID, "err", err)
		}
		writeError(w, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "video/mp4")
	if w.Header().Get("Content-Disposition") == "" {
		w.Header().Set("Content-Disposition", `attachment; filename="recording-`+rec.ID+`.mp4"`)
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "private")
	// A resumed download (If-Range) continues only the same file: one
	// made again (a recording continued after a reconnect, or an MP4 the
	// sweep removed and a download made anew) differs.
	etag, modified := recording.DownloadVersion(fi)
	w.Header().Set("ETag", etag)
	serveContent(w, r, modified, f)
}

// serveContent is http.ServeContent with its error answers (an
// unsatisfiable range: 416, a failed precondition: 412) in the API's
// error shape; a 416 keeps its Content-Range (bytes */size).
func serveContent(w http.ResponseWriter, r *http.Request, mod time.Time, f io.ReadSeeker) {
	e := &errorShape{ResponseWriter: w}
	http.ServeContent(e, r, "", mod, f)
	if e.status == 0 {
		return
	}
	msg := strings.TrimSpace(string(e.body))
	switch e.status {
	case http.StatusRequestedRangeNotSatisfiable:
		msg = "the range asked for is not within the file (its size is in Content-Range)"
	case http.StatusPreconditionFailed:
		msg = "the file does not match the request's preconditions"
	}
	w.Header().Del("Content-Disposition")
	w.Header().Del("ETag")
	w.Header().Del("Cache-Control")
	writeStatus(w, r, e.status, msg)
}

// errorShape holds back an error answer http.ServeContent writes (its
// status and plain-text body) for serveContent to answer in the API's
// shape; anything else goes through.
type errorShape struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (e *errorShape) WriteHeader(code int) {
	if code >= 400 && e.status == 0 {
		e.status = code
		return
	}
	e.ResponseWriter.WriteHeader(code)
}

func (e *errorShape) Write(b []byte) (int, error) {
	if e.status != 0 {
		e.body = append(e.body, b...)
		return len(b), nil
	}
	return e.ResponseWriter.Write(b)
}

// ReadFrom keeps the server's sendfile path for a file's bytes.
func (e *errorShape) ReadFrom(src io.Reader) (int64, error) {
	if e.status != 0 {
		return io.Copy(struct{ io.Writer }{e}, src)
	}
	return io.Copy(e.ResponseWriter, src)
}

func (e *errorShape) Unwrap() http.ResponseWriter { return e.ResponseWriter }

func (s *Surface) file(w http.ResponseWriter, r *http.Request) {
	rec, _, err := s.recording(r, view)
	if err != nil {
		writeError(w, err)
		return
	}
	name := r.PathValue("name")
	f, mod, err := s.d.Recordings.Open(r.Context(), rec.ID, name)
	if errors.Is(err, fault.NotFound) && !s.d.Recordings.HasLocal(rec.ID) {
		// Neither here nor in S3: the node that made it has it.
		s.fromPeer(w, r, rec, name)
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	s.sendFile(w, r, rec, name, f, mod)
}

// sendFile serves a recording's file with its type and caching, and range
// requests.
func (s *Surface) sendFile(w http.ResponseWriter, r *http.Request, rec *recording.Recording, name string, f io.ReadSeekCloser, mod time.Time) {
	defer f.Close()
	switch {
	case name == recording.PlaylistName:
		w.Header().Set("Content-Type", "application/x-mpegURL")
		if rec.EndedAt == nil {
			w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
		} else {
			w.Header().Set("Cache-Control", "private, max-age=60")
		}
	case name == recording.ThumbnailName:
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Cache-Control", "private, max-age=300")
	default:
		w.Header().Set("Content-Type", "video/mp2t")
		w.Header().Set("Cache-Control", "private, max-age=31536000, immutable")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	serveContent(w, r, mod, f)
}

// chat replays the stage chat of a recording's time window (at most 1000
// messages, oldest first), each with its offset into the recording.
func (s *Surface) chat(w http.ResponseWriter, r *http.Request) {
	rec, _, err := s.recording(r, view)
	if err != nil {
		writeError(w, err)
		return
	}
	end := rec.StartedAt.Add(rec.Duration)
	if rec.EndedAt != nil {
		end = *rec.EndedAt
	}
	msgs, err := s.d.Gate.Chat(r.Context(), rec.StageID, rec.StartedAt, end, 1000)
	if err != nil {
		writeError(w, err)
		return
	}
	for i := range msgs {
		msgs[i].Offset = msgs[i].At.Sub(rec.StartedAt).Seconds()
	}
	if msgs == nil {
		msgs = []ChatMessage{}
	}
	httpserver.WriteJSON(w, http.StatusOK, msgs)
}

// usage is the instance admin's view of the recordings' disk.
func (s *Surface) usage(w http.ResponseWriter, r *http.Request) {
	id, admin, err := s.caller(r)
	if err == nil && id == "" {
		err = fault.New(fault.Unauthorized, "sign in as the instance admin")
	} else if err == nil && !admin {
		err = fault.New(fault.Forbidden, "the recordings' disk usage is the instance admin's")
	}
	if err != nil {
		writeError(w, err)
		return
	}
	u, err := s.d.Recordings.Usage(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"recordings": u.Recordings, "usedBytes": u.UsedBytes,
		"freeBytes": u.FreeBytes, "minFreeBytes": u.MinFree, "diskFull": u.DiskFull, "nearFull": u.NearFull, "lastDiskFullAt": u.LastFull})
}
