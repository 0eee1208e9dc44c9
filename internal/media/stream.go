package media

import (
	"bytes"
	"context"
	"encoding/xml"
	"net/url"
	"path"
	"regexp"
	"strconv"

	"github.com/grafov/m3u8"

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
		pl, kind, err := m3u8.Decode(*bytes.NewBuffer(resp.Body), true)
		if err != nil {
			return watch.Video{}, errorf(CodeMissingMetadata, "The HLS playlist could not be read.")
		}
		switch kind {
		case m3u8.MASTER:
			m := pl.(*m3u8.MasterPlaylist)
			if len(m.Variants) == 0 || m.Variants[0] == nil {
				return watch.Video{}, errorf(CodeMissingMetadata, "The HLS master playlist has no variants.")
			}
			next, err := resp.URL.Parse(m.Variants[0].URI)
			if err != nil {
				return watch.Video{}, errorf(CodeMissingMetadata, "The HLS master playlist has a bad variant URI.")
			}
			cur = next
			continue
		case m3u8.MEDIA:
			m := pl.(*m3u8.MediaPlaylist)
			var total float64
			for _, seg := range m.Segments {
				if seg != nil {
					total += seg.Duration
				}
			}
			if !m.Closed {
				total = 0 // live: no fixed length
			}
			v.Length = total
			return v, nil
		}
	}
	return watch.Video{}, errorf(CodeMissingMetadata, "The HLS playlist nests too deeply.")
}

type mpd struct {
	Duration string `xml:"mediaPresentationDuration,attr"`
	Type     string `xml:"type,attr"`
	Title    string `xml:"ProgramInformation>Title"`
	// Titles given on representations, OTT's second place to look.
	RepTitles []string `xml:"Period>AdaptationSet>Representation>Title"`
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
	var m mpd
	dec := xml.NewDecoder(bytes.NewReader(resp.Body))
	if err := dec.Decode(&m); err != nil {
		return watch.Video{}, errorf(CodeMissingMetadata, "The DASH manifest could not be read.")
	}
	v := watch.Video{Service: "dash", ID: raw, DashURL: raw, Mime: "application/dash+xml", Title: path.Base(u.Path),
		Description: "Full Link: " + raw}
	if m.Title != "" {
		v.Title = m.Title
	} else {
		for _, t := range m.RepTitles {
			if t != "" {
				v.Title = t
				break
			}
		}
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
