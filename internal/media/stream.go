package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/hearth-community/hearth/internal/watch"
)

// hlsInfo fetches an HLS playlist (and, for a master playlist, its first
// variant) and sums the segment durations. A live playlist has no length.
func (s *Service) hlsInfo(ctx context.Context, raw string) (watch.Video, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return watch.Video{}, errorf(CodeInvalidVideoID, "%q is an invalid hls video ID.", raw)
	}
	v := watch.Video{Service: "hls", ID: raw, HLSURL: raw, Mime: "application/x-mpegURL", Title: path.Base(u.Path), Description: "Full Link: " + raw}
	cur := u
	for hop := 0; hop < 2; hop++ {
		resp, err := s.fetch.Get(ctx, cur.String())
		if err != nil {
			return watch.Video{}, fetchErr(raw, err)
		}
		if resp.StatusCode != 200 {
			return watch.Video{}, statusErr(resp.StatusCode)
		}
		pl, err := parsePlaylist(resp.Body)
		if err != nil {
			return watch.Video{}, errorf(CodeMissingMetadata, "The HLS playlist could not be read.")
		}
		if pl.master {
			if pl.variant == "" {
				return watch.Video{}, errorf(CodeMissingMetadata, "The HLS master playlist has no variants.")
			}
			next, err := resp.URL.Parse(pl.variant)
			if err != nil {
				return watch.Video{}, errorf(CodeMissingMetadata, "The HLS master playlist has a bad variant URI.")
			}
			cur = next
			continue
		}
		if pl.closed {
			v.Length = pl.length
		} // else live: no fixed length
		return v, nil
	}
	return watch.Video{}, errorf(CodeMissingMetadata, "The HLS playlist nests too deeply.")
}

// playlist is what hlsInfo reads of an HLS playlist: whether it is a master
// playlist and its first variant's URI, or a media playlist's summed
// segment durations and whether it is closed (#EXT-X-ENDLIST).
type playlist struct {
	master  bool
	variant string
	length  float64
	closed  bool
}

// parsePlaylist reads an HLS playlist (RFC 8216) in one pass over its
// lines, keeping only what hlsInfo needs. grafov/m3u8's Decode, used
// before, walked every variant read so far again for each line: a 5 MiB
// master playlist (a URL any guest may preview) took 40 s of CPU.
func parsePlaylist(b []byte) (playlist, error) {
	var p playlist
	started, streamInf := false, false
	for raw := range bytes.Lines(b) {
		l := string(bytes.TrimSpace(raw))
		switch {
		case l == "":
		case !started:
			if l != "#EXTM3U" {
				return p, errors.New("#EXTM3U absent")
			}
			started = true
		case strings.HasPrefix(l, "#EXT-X-STREAM-INF:"):
			p.master = true
			streamInf = p.variant == ""
		case strings.HasPrefix(l, "#EXTINF:"):
			d, _, _ := strings.Cut(l[len("#EXTINF:"):], ",")
			f, err := strconv.ParseFloat(strings.TrimSpace(d), 64)
			if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
				return p, fmt.Errorf("bad #EXTINF duration %q", d)
			}
			p.length += f
		case l == "#EXT-X-ENDLIST":
			p.closed = true
		case strings.HasPrefix(l, "#"): // another tag or a comment
		default: // a URI
			if streamInf {
				p.variant, streamInf = l, false
			}
		}
	}
	if !started {
		return p, errors.New("#EXTM3U absent")
	}
	if math.IsInf(p.length, 0) {
		return p, errors.New("the durations add up past any length")
	}
	return p, nil
}

var isoDur = regexp.MustCompile(`^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// parseISODuration reads an ISO 8601 duration such as PT1H2M3.5S.
func parseISODuration(s string) (float64, bool) {
	m := isoDur.FindStringSubmatch(s)
	if m == nil || s == "P" || s == "PT" {
		return 0, false
	}
	mult := []float64{86400, 3600, 60, 1}
	var total float64
	for i, f := range mult {
		if m[i+1] != "" {
			n, err := strconv.ParseFloat(m[i+1], 64)
			if err != nil {
				return 0, false
			}
			total += n * f
		}
	}
	// Each part may be a float64 while their total is not (1e308 days):
	// an infinite length is no length, and no JSON can carry it (the
	// room's state and every answer naming the video would fail).
	if math.IsInf(total, 0) {
		return 0, false
	}
	return total, true
}

// dashInfo fetches a DASH manifest and reads its duration.
func (s *Service) dashInfo(ctx context.Context, raw string) (watch.Video, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return watch.Video{}, errorf(CodeInvalidVideoID, "%q is an invalid dash video ID.", raw)
	}
	resp, err := s.fetch.Get(ctx, raw)
	if err != nil {
		return watch.Video{}, fetchErr(raw, err)
	}
	if resp.StatusCode != 200 {
		return watch.Video{}, statusErr(resp.StatusCode)
	}
	m, err := parseMPD(resp.Body)
	if err != nil {
		return watch.Video{}, errorf(CodeMissingMetadata, "The DASH manifest could not be read.")
	}
	v := watch.Video{Service: "dash", ID: raw, DashURL: raw, Mime: "application/dash+xml", Title: path.Base(u.Path),
		Description: "Full Link: " + raw}
	if m.Title != "" {
		v.Title = m.Title
	} else if m.RepTitle != "" {
		v.Title = m.RepTitle
	}
	if m.Type != "dynamic" {
		d, ok := parseISODuration(m.Duration)
		if !ok {
			return watch.Video{}, errorf(CodeMissingMetadata, "The DASH manifest has no duration.")
		}
		v.Length = d
	}
	return v, nil
}
