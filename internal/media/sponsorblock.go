package media

import (
	"context"
	"encoding/json"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/watch"
)

// SponsorBlock segment cache: OpenTogetherTube keeps a video's segments
// for a week (video.sponsorblock.cache_ttl). A video with none is asked
// again after an hour, as segments are submitted after upload.
const (
	segmentsTTL      = 7 * 24 * time.Hour
	noSegmentsTTL    = time.Hour
	segmentsCacheKey = "sponsorblock"
	maxSegments      = 200
)

var _ watch.SegmentSource = (*Service)(nil)

type sbSegment struct {
	Category      string    `json:"category"`
	ActionType    string    `json:"actionType"`
	Segment       []float64 `json:"segment"`
	UUID          string    `json:"UUID"`
	VideoDuration float64   `json:"videoDuration"`
}

// cachedSegment is a segment as the cache keeps it (the names rows have
// always been written with).
type cachedSegment struct {
	UUID          string  `json:"UUID"`
	Category      string  `json:"category"`
	ActionType    string  `json:"actionType,omitempty"`
	StartTime     float64 `json:"startTime"`
	EndTime       float64 `json:"endTime"`
	VideoDuration float64 `json:"videoDuration"`
}

// Segments returns the SponsorBlock segments of a YouTube video in every
// category OpenTogetherTube knows, from the cache or the SponsorBlock API
// (through the egress client). A video SponsorBlock has nothing for has
// no segments.
func (s *Service) Segments(ctx context.Context, videoID string) ([]watch.Segment, error) {
	if !ytID.MatchString(videoID) {
		return nil, errorf(CodeInvalidVideoID, "Invalid video id.")
	}
	if segs, ok := s.cachedSegments(ctx, videoID); ok {
		return segs, nil
	}
	cats, _ := json.Marshal(watch.SegmentCategories)
	q := url.Values{"videoID": {videoID}, "categories": {string(cats)}}
	resp, err := s.fetch.Get(ctx, strings.TrimRight(s.cfg.SponsorBlockAPIBase, "/")+"/api/skipSegments?"+q.Encode())
	if err != nil {
		return nil, fetchErr("sponsorblock", err)
	}
	var segs []watch.Segment
	switch resp.StatusCode {
	case 200:
		var raw []sbSegment
		if err := json.Unmarshal(resp.Body, &raw); err != nil {
			return nil, &Error{Code: CodeUpstream, Msg: "SponsorBlock answered with something unreadable.", Err: err}
		}
		segs = toSegments(raw)
	case 404: // no segments for this video
	default:
		return nil, statusErr(resp.StatusCode)
	}
	s.cacheSegments(ctx, videoID, segs)
	return segs, nil
}

// toSegments keeps the well-formed segments of known categories.
func toSegments(raw []sbSegment) []watch.Segment {
	out := []watch.Segment{}
	for _, r := range raw {
		if len(out) == maxSegments {
			break
		}
		if len(r.Segment) != 2 || !slices.Contains(watch.SegmentCategories, r.Category) {
			continue
		}
		start, end := r.Segment[0], r.Segment[1]
		if !finite(start) || !finite(end) || start < 0 || end < start || !finite(r.VideoDuration) {
			continue
		}
		out = append(out, watch.Segment{UUID: r.UUID, Category: r.Category, ActionType: r.ActionType,
			StartTime: start, EndTime: end, VideoDuration: r.VideoDuration})
	}
	return out
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func (s *Service) cachedSegments(ctx context.Context, videoID string) ([]watch.Segment, bool) {
	if s.cache == nil {
		return nil, false
	}
	data, updated, _, err := s.cache.CachedVideo(ctx, segmentsCacheKey, videoID)
	if err != nil {
		return nil, false
	}
	var cached []cachedSegment
	if json.Unmarshal(data, &cached) != nil {
		return nil, false // unreadable: fetch again, as OTT does
	}
	segs := make([]watch.Segment, len(cached))
	for i, c := range cached {
		segs[i] = watch.Segment(c)
	}
	ttl := segmentsTTL
	if len(segs) == 0 {
		ttl = noSegmentsTTL
	}
	if s.cfg.Now().Sub(updated) > ttl {
		return nil, false
	}
	return segs, true
}

func (s *Service) cacheSegments(ctx context.Context, videoID string, segs []watch.Segment) {
	if s.cache == nil {
		return
	}
	cached := make([]cachedSegment, len(segs))
	for i, sg := range segs {
		cached[i] = cachedSegment(sg)
	}
	b, _ := json.Marshal(cached)
	if err := s.cache.PutCachedVideo(ctx, segmentsCacheKey, videoID, b, s.cfg.Now()); err != nil {
		s.log.Warn("cache sponsorblock segments", "err", err)
	}
}
