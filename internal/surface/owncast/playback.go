package owncast

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/ratelimit"
)

// maxPlaybackReport caps a player's report body: five numbers.
const maxPlaybackReport = 4 << 10

// playbackReportJSON is the body Owncast 0.1.3's web player posts every
// 10 s. Missing or null fields are zero ("not measured").
type playbackReportJSON struct {
	Bandwidth             float64 `json:"bandwidth"`
	Latency               float64 `json:"latency"`
	Errors                float64 `json:"errors"`
	DownloadDuration      float64 `json:"downloadDuration"`
	QualityVariantChanges float64 `json:"qualityVariantChanges"`
}

// handlePlaybackReport is POST /api/metrics/playback: 200 with an empty
// body; the report is kept for the caller's viewer id (MD5(IP + UA)).
func (s *Surface) handlePlaybackReport(w http.ResponseWriter, r *http.Request) {
	var body playbackReportJSON
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPlaybackReport)).Decode(&body); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeResult(w, http.StatusBadRequest, false, "playback metrics too large")
			return
		}
		writeResult(w, http.StatusBadRequest, false, "unable to parse playback metrics: "+err.Error())
		return
	}
	err := s.d.Live.ReportPlayback(s.stageID(), s.clientIP(r), r.UserAgent(), live.PlaybackReport{
		Bandwidth: body.Bandwidth, Latency: body.Latency, Errors: body.Errors,
		DownloadDuration: body.DownloadDuration, QualityVariantChanges: body.QualityVariantChanges})
	if err != nil {
		writeReportError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// writeReportError answers a playback report (0.1.3's or CMCD) that was not
// kept. Owncast's spec gives those endpoints no answer but 200 and 400, and
// its API suite fails on any other, so a refusal, the per-address and
// per-window limits included, is Owncast's 400 (with Retry-After where the
// limit gives one); only a fault of the server stays a 500.
func writeReportError(w http.ResponseWriter, err error) {
	switch fault.KindOf(err) {
	case fault.Invalid, fault.Conflict, fault.RateLimited:
		var fe *fault.Error
		if errors.As(err, &fe) && fe.RetryAfter > 0 {
			ratelimit.SetRetryAfter(w.Header(), ratelimit.Decision{RetryAfter: fe.RetryAfter})
		}
		writeResult(w, http.StatusBadRequest, false, fault.Message(err))
	default:
		writeError(w, err)
	}
}

func playbackSamplesJSON(ss []live.PlaybackSample) []map[string]any {
	out := make([]map[string]any, len(ss))
	for i, x := range ss {
		out[i] = map[string]any{"time": x.Time, "value": x.Value}
	}
	return out
}

// handleVideoMetrics is GET /api/admin/metrics/video: the playback series
// (one sample per 2-minute window) and the current output.
func (s *Surface) handleVideoMetrics(w http.ResponseWriter, r *http.Request) {
	m, err := s.d.Live.PlaybackMetrics(r.Context(), s.stageID())
	if err != nil {
		writeError(w, err)
		return
	}
	liveNoCache(w)
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{
		"errors":                         playbackSamplesJSON(m.Errors),
		"qualityVariantChanges":          playbackSamplesJSON(m.QualityVariantChanges),
		"highestLatency":                 playbackSamplesJSON(m.HighestLatency),
		"medianLatency":                  playbackSamplesJSON(m.MedianLatency),
		"lowestLatency":                  playbackSamplesJSON(m.LowestLatency),
		"minimumSegmentDownloadDuration": playbackSamplesJSON(m.MinDownload),
		"medianSegmentDownloadDuration":  playbackSamplesJSON(m.MedianDownload),
		"maximumSegmentDownloadDuration": playbackSamplesJSON(m.MaxDownload),
		"minPlayerBitrate":               playbackSamplesJSON(m.MinBitrate),
		"medianPlayerBitrate":            playbackSamplesJSON(m.MedianBitrate),
		"maxPlayerBitrate":               playbackSamplesJSON(m.MaxBitrate),
		"availableBitrates":              m.AvailableBitrates,
		"segmentLength":                  m.SegmentLength,
		"representation":                 m.Representation,
	})
}

// healthJSON is Owncast's StreamHealthOverview, or nil.
func healthJSON(h *live.StreamHealth) any {
	if h == nil {
		return nil
	}
	return map[string]any{"healthy": h.Healthy, "healthPercentage": h.HealthPercentage, "message": h.Message,
		"representation": h.Representation}
}
