package live

import (
	"strconv"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/hls"
)

// Recorder keeps broadcasts (package recording). live calls it; it never
// blocks or fails a broadcast: a recorder that cannot keep up or write
// stops recording, never the live stream.
type Recorder interface {
	// BroadcastStarted is called once a broadcast's pipeline runs. It
	// returns the sink of the source rendition's segments, or nil when the
	// stage does not record.
	BroadcastStarted(stageID, broadcastID, title string, at time.Time) RecordingSink
}

// RecordingSink receives one broadcast's source-rendition segments.
type RecordingSink interface {
	// Segment is called after each finished segment of the source
	// rendition is stored at path (the live origin deletes it later: link
	// or copy it). It runs on the segmenter's goroutine.
	Segment(path string, seg hls.Segment)
	// End is called once when the broadcast has ended.
	End(at time.Time)
}

// SetRecorder installs the recorder for later broadcasts (nil: none).
func (s *Service) SetRecorder(r Recorder) {
	s.mu.Lock()
	s.recorder = r
	s.mu.Unlock()
}

func (s *Service) recorderOf() Recorder {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.recorder
}

// sourceVariant is the rendition a recording keeps: the first one that
// passes the source video through, else the first.
func sourceVariant(vs []Variant) int {
	for i, v := range vs {
		if v.VideoPassthrough {
			return i
		}
	}
	return 0
}

// FFmpegPath is the ffmpeg executable the admin configured.
func (s *Service) FFmpegPath() string { return s.Settings().FFmpegPath }

// LiveSegment is a finished segment of a running broadcast's source
// rendition, still on disk.
type LiveSegment struct {
	Path          string
	Duration      time.Duration
	Discontinuity bool
}

// RecentSegments lists the source rendition's finished segments that the
// live origin still keeps (its playlist's), oldest first; ErrOffline when
// the stage has no running broadcast on this node. The files may be
// deleted at any moment: link or copy them before use.
func (s *Service) RecentSegments(stageID string) ([]LiveSegment, error) {
	st, err := s.stage(stageID)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	b := st.cur
	running := b != nil && b.running
	idx := 0
	if running {
		idx = sourceVariant(b.variants)
	}
	st.mu.Unlock()
	if !running {
		return nil, ErrOffline
	}
	v, ok := st.origin.Variant(idx)
	if !ok {
		return nil, ErrOffline
	}
	var out []LiveSegment
	var dur time.Duration
	disc := false
	for _, l := range strings.Split(string(v.Playlist()), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "#EXT-X-DISCONTINUITY":
			disc = true
		case strings.HasPrefix(l, "#EXTINF:"):
			f, _ := strconv.ParseFloat(strings.TrimSuffix(strings.SplitN(strings.TrimPrefix(l, "#EXTINF:"), ",", 2)[0], ","), 64)
			dur = time.Duration(f * float64(time.Second))
		case l == "" || strings.HasPrefix(l, "#") || l == hls.OfflineName:
		default:
			if p, ok := v.SegmentPath(l); ok {
				out = append(out, LiveSegment{Path: p, Duration: dur, Discontinuity: disc})
			}
			dur, disc = 0, false
		}
	}
	return out, nil
}
