package hearthapi

import (
	"errors"
	"net/http"
	"os"
	"time"

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
		URL: "/api/clips/" + c.ID + "/file"}
}

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
	c, err := s.d.Recordings.MakeClip(r.Context(), rec.ID, seconds(*body.Start), seconds(*body.End), body.Title, who)
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
	stage, err := s.stageParam(r, body.Stage)
	if err == nil {
		err = s.access(r, c, stage, false)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	clip, err := s.d.Recordings.MakeLiveClip(r.Context(), stage, seconds(*body.Seconds), body.Title, c.id)
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
	caller, err := s.authenticate(r, n)
	if err != nil {
		return nil, err
	}
	c, err := s.d.Recordings.GetClip(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if err := s.access(r, caller, c.StageID, n == manage); err != nil {
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

// clipFile serves a clip's MP4: from this node's disk, or, when another
// node of the cluster cut it (clips are not copied to S3), from that node
// through its peer route after the caller's access was checked here.
func (s *Surface) clipFile(w http.ResponseWriter, r *http.Request) {
	c, err := s.clipOf(r, view)
	if err != nil {
		writeError(w, err)
		return
	}
	if !s.d.Recordings.HasLocalClip(c.ID) {
		u, err := s.d.Recordings.ClipPeerURL(r.Context(), c)
		if err != nil {
			writeError(w, err)
			return
		}
		s.proxyPeer(w, r, u, "clip "+c.ID, c.NodeID)
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
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

func (s *Surface) deleteClip(w http.ResponseWriter, r *http.Request) {
	c, err := s.clipOf(r, manage)
	if err == nil {
		err = s.d.Recordings.DeleteClip(r.Context(), c.ID)
	}
	if err != nil {
		writeError(w, err)
		return
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
	stage, err := s.d.Gate.Stage(r.Context(), r.PathValue("stage"))
	if err == nil {
		err = s.access(r, c, stage, true)
	}
	return stage, err
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
