package hearthapi

import (
	"errors"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/recording"
)

type clipJSON struct {
	ID              string    `json:"id"`
	StageID         string    `json:"stageId"`
	RecordingID     string    `json:"recordingId"`
	Title           string    `json:"title"`
	OffsetSeconds   float64   `json:"offsetSeconds"`
	DurationSeconds float64   `json:"durationSeconds"`
	SizeBytes       int64     `json:"sizeBytes"`
	CreatedBy       string    `json:"createdBy"`
	CreatedAt       time.Time `json:"createdAt"`
	URL             string    `json:"url"`
}

func clipToJSON(c *recording.Clip) clipJSON {
	return clipJSON{ID: c.ID, StageID: c.StageID, RecordingID: c.RecordingID, Title: c.Title, OffsetSeconds: c.Offset.Seconds(),
		DurationSeconds: c.Duration.Seconds(), SizeBytes: c.Size, CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt,
		URL: clipFileURL(c.ID)}
}

// clipFileURL is the route of clip id's MP4: the link its JSON and its
// chat announcement carry.
func clipFileURL(id string) string { return recording.ClipFilePath(id) }

func seconds(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }

// clip cuts a clip from a recording (also one being made: a live stage
// that records) and announces it in the stage's chat. The node holding
// the recording's files cuts it (cutpeer.go).
func (s *Surface) clip(w http.ResponseWriter, r *http.Request) {
	rec, who, err := s.recording(r, member)
	if err != nil {
		writeError(w, err)
		return
	}
	var body struct {
		Start *float64 `json:"start"`
		End   *float64 `json:"end"`
		Title string   `json:"title"`
	}
	if err := decode(r, &body); err != nil {
		writeError(w, err)
		return
	}
	if body.Start == nil || body.End == nil {
		writeError(w, fault.New(fault.Invalid, "start and end (seconds from the recording's start) are required"))
		return
	}
	c, err := s.d.Recordings.MakeClip(s.jobCaller(r), rec.ID, seconds(*body.Start), seconds(*body.End), body.Title, who)
	if el := (*recording.CutElsewhere)(nil); errors.As(err, &el) {
		s.cutElsewhere(w, r, el, who)
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	s.announce(w, r, who, c)
}

// liveClip cuts the last seconds of a live stage, on the node running its
// ingest (cutpeer.go).
func (s *Surface) liveClip(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticate(r, member)
	if err != nil {
		writeError(w, err)
		return
	}
	var body struct {
		Stage   string   `json:"stage"`
		Seconds *float64 `json:"seconds"`
		Title   string   `json:"title"`
	}
	if err := decode(r, &body); err != nil {
		writeError(w, err)
		return
	}
	if body.Seconds == nil {
		writeError(w, fault.New(fault.Invalid, "seconds (how much of the live stream, back from now) is required"))
		return
	}
	stage, err := s.stageFor(r, c, body.Stage, false)
	if err != nil {
		writeError(w, err)
		return
	}
	clip, err := s.d.Recordings.MakeLiveClip(s.jobCaller(r), stage, seconds(*body.Seconds), body.Title, c.id)
	if el := (*recording.CutElsewhere)(nil); errors.As(err, &el) {
		s.cutElsewhere(w, r, el, c.id)
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	s.announce(w, r, c.id, clip)
}

// clipOf is the clip the path names, when the caller may do what n says
// with it.
func (s *Surface) clipOf(r *http.Request, n need) (*recording.Clip, error) {
	c, _, err := s.clipFor(r, n)
	return c, err
}

// clipFor is clipOf, and the caller.
func (s *Surface) clipFor(r *http.Request, n need) (*recording.Clip, who, error) {
	caller, err := s.authenticate(r, n)
	if err != nil {
		return nil, who{}, err
	}
	c, err := s.d.Recordings.GetClip(r.Context(), r.PathValue("id"))
	if errors.Is(err, fault.NotFound) {
		err = errClipNotFound
	}
	if err != nil {
		return nil, who{}, err
	}
	if err := s.access(r, caller, c.StageID, n == manage, errClipNotFound); err != nil {
		return nil, who{}, err
	}
	return c, caller, nil
}

// ownClip is the clip the path names, when the caller made it (and may
// still see its stage) or manages its stage. No token is 401 as on the
// other managing routes; a viewer who neither made nor manages it gets 403.
func (s *Surface) ownClip(r *http.Request) (*recording.Clip, error) {
	caller, err := s.authenticate(r, manage)
	if err != nil {
		return nil, err
	}
	c, err := s.d.Recordings.GetClip(r.Context(), r.PathValue("id"))
	if errors.Is(err, fault.NotFound) {
		err = errClipNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := s.access(r, caller, c.StageID, c.CreatedBy != caller.id, errClipNotFound); err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Surface) clips(w http.ResponseWriter, r *http.Request) {
	stage, err := s.readableStage(r)
	if err != nil {
		writeError(w, err)
		return
	}
	list, err := s.d.Recordings.Clips(r.Context(), stage)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]clipJSON, 0, len(list))
	for _, c := range list {
		out = append(out, clipToJSON(c))
	}
	httpserver.WriteJSON(w, http.StatusOK, out)
}

func (s *Surface) getClip(w http.ResponseWriter, r *http.Request) {
	c, err := s.clipOf(r, view)
	if err != nil {
		writeError(w, err)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, clipToJSON(c))
}

// clipURL is GET /api/clips/{id}/file-url: a URL of the clip's MP4 that
// a <video> element plays and seeks in (range requests) without the
// caller's access token, for ClipURLTTL. A caller who may no longer see the
// clip gets none.
func (s *Surface) clipURL(w http.ResponseWriter, r *http.Request) {
	c, caller, err := s.clipFor(r, view)
	if err != nil {
		writeError(w, err)
		return
	}
	u, exp, err := s.d.Recordings.ClipURL(c, caller.id, caller.admin)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"url": u, "expiresAt": exp})
}

// signedClip is the clip a signed file URL (clipURL) names, when the URL
// is valid and the account it was made for may still see the clip: each
// request checks that again, so a member who lost the stage loses the URL
// too.
func (s *Surface) signedClip(r *http.Request) (*recording.Clip, error) {
	id := r.PathValue("id")
	account, admin, ok := s.d.Recordings.VerifyClipURL(id, r.URL.Query())
	if !ok {
		return nil, fault.New(fault.Forbidden, "this clip link has expired or is not valid; ask for a new one (GET /api/clips/{id}/file-url)")
	}
	c, err := s.d.Recordings.GetClip(r.Context(), id)
	if errors.Is(err, fault.NotFound) {
		err = errClipNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := s.access(r, who{id: account, admin: admin}, c.StageID, false, errClipNotFound); err != nil {
		return nil, err
	}
	return c, nil
}

// clipFile serves a clip's MP4: from this node's disk, or, when another
// node of the cluster cut it (clips are not copied to S3), from that node
// through its peer route after the caller's access was checked here. The
// caller is its token, or a signed URL (clipURL: exp and sig in the query).
// With download=1 it is sent as an attachment named after the clip.
func (s *Surface) clipFile(w http.ResponseWriter, r *http.Request) {
	var (
		c   *recording.Clip
		err error
	)
	if q := r.URL.Query(); q.Has("sig") || q.Has("exp") {
		c, err = s.signedClip(r)
	} else {
		c, err = s.clipOf(r, view)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	if r.URL.Query().Get("download") == "1" {
		w.Header().Set("Content-Disposition", attachment(c))
	}
	if !s.d.Recordings.HasLocalClip(c.ID) {
		u, err := s.d.Recordings.ClipPeerURL(r.Context(), c)
		if err != nil {
			writeError(w, err)
			return
		}
		s.proxyPeer(w, r, s.peers, u, "clip "+c.ID, c.NodeID)
		return
	}
	s.sendClip(w, r, c)
}

// sendClip serves a clip's MP4 from this node's disk.
func (s *Surface) sendClip(w http.ResponseWriter, r *http.Request, c *recording.Clip) {
	path, err := s.d.Recordings.ClipFile(r.Context(), c.ID)
	if err != nil {
		writeError(w, err)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		writeError(w, fault.New(fault.NotFound, "clip not found"))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "video/mp4")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "private, max-age=31536000, immutable")
	serveContent(w, r, fi.ModTime(), f)
}

// attachment is the Content-Disposition of a clip's MP4 download: named
// after its title, without what file systems refuse.
func attachment(c *recording.Clip) string {
	return namedAttachment(c.Title, "clip-"+c.ID[:8], "clip-"+c.ID)
}

// namedAttachment is the Content-Disposition of an MP4 download named
// after title, without what file systems refuse (blank: short; when no
// header can carry the name: whole).
func namedAttachment(title, short, whole string) string {
	name := strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || strings.ContainsRune(`<>:"/\|?*`, r) {
			return ' '
		}
		return r
	}, title)), " ")
	if r := []rune(name); len(r) > 80 {
		name = strings.TrimSpace(string(r[:80]))
	}
	if name == "" {
		name = short
	}
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": name + ".mp4"}); v != "" {
		return v
	}
	return `attachment; filename="` + whole + `.mp4"`
}

// deleteClip deletes a clip: its maker may (it counts against their clip
// budget, and they may take back what they posted, as with a message),
// and so may the stage's managers; it then takes the clip's link out of
// the chat message that announced it, so no one is offered a clip that is
// gone.
func (s *Surface) deleteClip(w http.ResponseWriter, r *http.Request) {
	c, err := s.ownClip(r)
	if err == nil {
		// The announcement as the row deleted held it: PostClip may have
		// saved it since ownClip read the clip.
		c.MessageID, err = s.d.Recordings.DeleteClip(r.Context(), c.ID)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.d.Gate.UnpostClip(r.Context(), c, clipFileURL(c.ID)); err != nil {
		s.d.Log.Warn("hearthapi: cannot take the deleted clip out of the stage chat", "clip", c.ID, "err", err)
	}
	w.WriteHeader(http.StatusNoContent)
}

type settingsJSON struct {
	StageID       string `json:"stageId"`
	Enabled       *bool  `json:"enabled"`
	Recording     bool   `json:"recording"`
	MaxAgeSeconds int64  `json:"maxAgeSeconds"`
	MaxCount      int    `json:"maxCount"`
	MaxBytes      int64  `json:"maxBytes"`
}

// managedStage is the stage the path names, when the caller manages it.
func (s *Surface) managedStage(r *http.Request) (string, error) {
	c, err := s.authenticate(r, manage)
	if err != nil {
		return "", err
	}
	return s.stageFor(r, c, r.PathValue("stage"), true)
}

func (s *Surface) settings(w http.ResponseWriter, r *http.Request) {
	stage, err := s.managedStage(r)
	if err != nil {
		writeError(w, err)
		return
	}
	s.writeSettings(w, r, stage)
}

func (s *Surface) writeSettings(w http.ResponseWriter, r *http.Request, stage string) {
	set, err := s.d.Recordings.Settings(r.Context(), stage)
	if err != nil {
		writeError(w, err)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, settingsJSON{StageID: stage, Enabled: set.Enabled, Recording: s.d.Recordings.Enabled(r.Context(), stage),
		MaxAgeSeconds: int64(set.MaxAge / time.Second), MaxCount: set.MaxCount, MaxBytes: set.MaxBytes})
}

func (s *Surface) putSettings(w http.ResponseWriter, r *http.Request) {
	stage, err := s.managedStage(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var body settingsJSON
	if err := decode(r, &body); err != nil {
		writeError(w, err)
		return
	}
	if body.MaxAgeSeconds < 0 || body.MaxAgeSeconds > 100*365*86400 {
		writeError(w, fault.New(fault.Invalid, "maxAgeSeconds out of range"))
		return
	}
	set := &recording.StageSettings{StageID: stage, Enabled: body.Enabled, MaxAge: time.Duration(body.MaxAgeSeconds) * time.Second,
		MaxCount: body.MaxCount, MaxBytes: body.MaxBytes}
	if err := s.d.Recordings.SetSettings(r.Context(), set); err != nil {
		writeError(w, err)
		return
	}
	s.writeSettings(w, r, stage)
}
