package media

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"

	"github.com/hearth-community/hearth/internal/watch"
)

var vimeoPath = regexp.MustCompile(`^/(?:video/)?(\d+)(?:/|$)`)

func vimeoID(u *url.URL) (string, bool) {
	m := vimeoPath.FindStringSubmatch(u.Path)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// vimeoInfo reads a Vimeo video's metadata from its oEmbed endpoint.
func (s *Service) vimeoInfo(ctx context.Context, id string) (watch.Video, error) {
	if !regexp.MustCompile(`^\d{1,20}$`).MatchString(id) {
		return watch.Video{}, errorf(CodeInvalidVideoID, "\"%s is an invalid vimeo video ID.\"", id)
	}
	q := url.Values{"url": {"https://vimeo.com/" + id}}
	resp, err := s.fetch.Get(ctx, s.cfg.VimeoOEmbedURL+"?"+q.Encode())
	if err != nil {
		return watch.Video{}, fetchErr("vimeo", err)
	}
	if resp.StatusCode != 200 {
		return watch.Video{}, statusErr(resp.StatusCode)
	}
	var o struct {
		Title        string  `json:"title"`
		Description  string  `json:"description"`
		ThumbnailURL string  `json:"thumbnail_url"`
		Duration     float64 `json:"duration"`
	}
	if err := json.Unmarshal(resp.Body, &o); err != nil {
		return watch.Video{}, &Error{Code: CodeUpstream, Msg: "Vimeo answered with something unreadable.", Err: err}
	}
	return watch.Video{Service: "vimeo", ID: id, Title: o.Title, Description: o.Description, Thumbnail: o.ThumbnailURL, Length: o.Duration}, nil
}

var peertubeID = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// peertube reads a video from an allowed PeerTube instance's API and emits
// it as an hls or direct video, as OpenTogetherTube does.
func (s *Service) peertube(ctx context.Context, u *url.URL) (watch.Video, error) {
	host := strings.ToLower(u.Hostname())
	if !contains(s.cfg.PeerTubeInstances, host) {
		return watch.Video{}, errorf(CodeUnsupportedService, "%q is not an allowed PeerTube instance.", host)
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	id := segs[len(segs)-1]
	if !peertubeID.MatchString(id) {
		return watch.Video{}, errorf(CodeInvalidVideoID, "\"%s is an invalid peertube video ID.\"", id)
	}
	base := url.URL{Scheme: u.Scheme, Host: u.Host}
	resp, err := s.fetch.Get(ctx, base.String()+"/api/v1/videos/"+id)
	if err != nil {
		return watch.Video{}, fetchErr(u.String(), err)
	}
	if resp.StatusCode != 200 {
		return watch.Video{}, statusErr(resp.StatusCode)
	}
	var p struct {
		Name          string  `json:"name"`
		Description   string  `json:"description"`
		Duration      float64 `json:"duration"`
		ThumbnailPath string  `json:"thumbnailPath"`
		Files         []struct {
			FileURL string `json:"fileUrl"`
		} `json:"files"`
		StreamingPlaylists []struct {
			PlaylistURL string `json:"playlistUrl"`
		} `json:"streamingPlaylists"`
	}
	if err := json.Unmarshal(resp.Body, &p); err != nil {
		return watch.Video{}, &Error{Code: CodeUpstream, Msg: "PeerTube answered with something unreadable.", Err: err}
	}
	v := watch.Video{Title: p.Name, Description: p.Description, Length: p.Duration}
	if p.ThumbnailPath != "" {
		v.Thumbnail = base.String() + p.ThumbnailPath
	}
	switch {
	case len(p.StreamingPlaylists) > 0 && p.StreamingPlaylists[0].PlaylistURL != "":
		v.Service, v.ID = "hls", p.StreamingPlaylists[0].PlaylistURL
		v.HLSURL, v.Mime = v.ID, "application/x-mpegURL"
	case len(p.Files) > 0 && p.Files[0].FileURL != "":
		v.Service, v.ID, v.Mime = "direct", p.Files[0].FileURL, "video/mp4"
	default:
		return watch.Video{}, errorf(CodeMissingMetadata, "The PeerTube video has no playable files.")
	}
	return v, nil
}
