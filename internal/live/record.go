package live

import (
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
