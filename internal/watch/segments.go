package watch

import (
	"context"
	"slices"
	"time"
)

// Segment is a SponsorBlock segment of a video, in the shape
// OpenTogetherTube's clients read from the videoSegments sync key.
type Segment struct {
	UUID          string
	Category      string
	ActionType    string
	StartTime     float64
	EndTime       float64
	VideoDuration float64
}

// SegmentSource fetches the skippable segments of a YouTube video (package
// media, from SponsorBlock).
type SegmentSource interface {
	Segments(ctx context.Context, videoID string) ([]Segment, error)
}

// SetSegmentSource turns on SponsorBlock: segments of the current YouTube
// video are fetched when it starts and the room skips the categories in its
// autoSkipSegmentCategories.
func (s *Service) SetSegmentSource(src SegmentSource) { s.segments = src }

// segmentsFollowCurrent keeps the segments with the current video: a new
// video (or none) drops them and, when the room skips categories, fetches
// the new video's. Caller holds mu.
func (r *Room) segmentsFollowCurrent() {
	key := ""
	if r.current != nil {
		key = r.current.Key()
	}
	if key == r.segFor && (r.segWanted || len(r.autoSkip) == 0) {
		return
	}
	if key != r.segFor {
		r.segFor, r.segWanted, r.dontSkipUntil = key, false, nil
		if len(r.segments) > 0 {
			r.segments = nil
			r.markDirty(FieldSegments)
		}
	}
	src := r.svc.segments
	if src == nil || r.current == nil || r.current.Service != "youtube" || len(r.autoSkip) == 0 || r.unloaded {
		return
	}
	r.segWanted = true
	go r.fetchSegments(src, key, r.current.ID)
}

func (r *Room) fetchSegments(src SegmentSource, key, videoID string) {
	ctx, cancel := context.WithTimeout(r.svc.life(), 15*time.Second)
	defer cancel()
	segs, err := src.Segments(ctx, videoID)
	if err != nil {
		r.svc.log.Warn("fetch sponsorblock segments", "video", videoID, "err", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unloaded || r.segFor != key {
		return // the video changed meanwhile
	}
	r.segments = segs
	r.markDirty(FieldSegments)
}

func (r *Room) segmentAt(pos float64) *Segment {
	for i := range r.segments {
		if pos >= r.segments[i].StartTime && pos <= r.segments[i].EndTime {
			return &r.segments[i]
		}
	}
	return nil
}

// autoSkip is OpenTogetherTube's tick step: while playing, a segment of a
// category the room skips is jumped over and the room is told which one;
// after a seek into a segment, that segment plays. Caller holds mu.
func (r *Room) skipSegments(now time.Time) {
	if len(r.segments) == 0 || len(r.autoSkip) == 0 {
		return
	}
	pos := r.clock.Position(now)
	if r.dontSkipUntil != nil && pos >= *r.dontSkipUntil {
		r.dontSkipUntil = nil
	}
	if !r.clock.Playing || r.dontSkipUntil != nil {
		return
	}
	seg := r.segmentAt(pos)
	if seg == nil || !slices.Contains(r.autoSkip, seg.Category) {
		return
	}
	r.clock.Seek(seg.EndTime, now)
	r.markDirty(FieldPosition)
	r.changed()
	r.publish(Event{Type: EvCustom, Text: "Skipped " + seg.Category})
}

// seekedInto lets a segment play when someone seeks into it. Caller holds mu.
func (r *Room) seekedInto(pos float64) {
	r.dontSkipUntil = nil
	if seg := r.segmentAt(pos); seg != nil {
		end := seg.EndTime
		r.dontSkipUntil = &end
	}
}
