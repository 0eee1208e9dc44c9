package media

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/watch"
)

// ytID is a YouTube video id as OTT's YouTube adapter takes it: letters,
// digits, '_' and '-' (any length there; at most 64 here). Nothing else can
// reach a YouTube or SponsorBlock request, and no id can name two (ids
// are joined with commas).
var ytID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (s *Service) youtubeEnabled() error {
	if s.cfg.YouTubeAPIKey == "" {
		return disabled("YouTube needs an API key; the operator has not set --youtube-api-key.")
	}
	return nil
}

type ytSnippet struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Thumbnails  map[string]struct {
		URL string `json:"url"`
	} `json:"thumbnails"`
	ResourceID struct {
		VideoID string `json:"videoId"`
	} `json:"resourceId"`
}

type ytItem struct {
	ID             json.RawMessage `json:"id"`
	Snippet        ytSnippet       `json:"snippet"`
	ContentDetails struct {
		Duration         string `json:"duration"`
		RelatedPlaylists struct {
			Uploads string `json:"uploads"`
		} `json:"relatedPlaylists"`
	} `json:"contentDetails"`
}

type ytList struct {
	Items []ytItem `json:"items"`
	Error *struct {
		Code   int `json:"code"`
		Errors []struct {
			Reason string `json:"reason"`
		} `json:"errors"`
	} `json:"error"`
}

func (sn ytSnippet) thumb() string {
	for _, k := range []string{"medium", "high", "default"} {
		if t, ok := sn.Thumbnails[k]; ok {
			return t.URL
		}
	}
	return ""
}

// ytGet calls one YouTube Data API endpoint.
func (s *Service) ytGet(ctx context.Context, endpoint string, q url.Values) (*ytList, error) {
	q.Set("key", s.cfg.YouTubeAPIKey)
	resp, err := s.fetch.Get(ctx, strings.TrimRight(s.cfg.YouTubeAPIBase, "/")+"/"+endpoint+"?"+q.Encode())
	if err != nil {
		return nil, fetchErr("youtube", err)
	}
	var l ytList
	if err := json.Unmarshal(resp.Body, &l); err != nil && resp.StatusCode == 200 {
		return nil, &Error{Code: CodeUpstream, Msg: "YouTube answered with something unreadable.", Err: err}
	}
	if resp.StatusCode == 403 && l.Error != nil {
		for _, e := range l.Error.Errors {
			if e.Reason == "quotaExceeded" || e.Reason == "dailyLimitExceeded" {
				return nil, errorf(CodeOutOfQuota, "We don't have enough Youtube API quota to complete the request. Try again later.")
			}
		}
	}
	if resp.StatusCode != 200 {
		return nil, statusErr(resp.StatusCode)
	}
	return &l, nil
}

// cachedVideo is a video's metadata as the cache keeps it: the names
// rows have always been written with (the watch model has no JSON names).
type cachedVideo struct {
	Service     string   `json:"service"`
	ID          string   `json:"id"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Thumbnail   string   `json:"thumbnail,omitempty"`
	Length      float64  `json:"length,omitempty"`
	Mime        string   `json:"mime,omitempty"`
	Highlight   bool     `json:"highlight,omitempty"`
	HLSURL      string   `json:"hls_url,omitempty"`
	DashURL     string   `json:"dash_url,omitempty"`
	SrcURL      string   `json:"src_url,omitempty"`
	SubtitleURL string   `json:"subtitleUrl,omitempty"`
	StartAt     *float64 `json:"startAt,omitempty"`
	EndAt       *float64 `json:"endAt,omitempty"`
}

func (s *Service) fromCache(ctx context.Context, service, id string) (watch.Video, bool) {
	if s.cache == nil {
		return watch.Video{}, false
	}
	data, updated, created, err := s.cache.CachedVideo(ctx, service, id)
	if err != nil {
		return watch.Video{}, false
	}
	now := s.cfg.Now()
	maxAge := 7 * 24 * time.Hour
	if now.Sub(created) > 7*24*time.Hour {
		maxAge = 30 * 24 * time.Hour
	}
	if now.Sub(updated) > maxAge {
		return watch.Video{}, false
	}
	var v cachedVideo
	if json.Unmarshal(data, &v) != nil || v.Title == "" || v.Length == 0 {
		return watch.Video{}, false // missing fields trigger a refetch
	}
	return watch.Video(v), true
}

func (s *Service) toCache(ctx context.Context, v watch.Video) {
	if s.cache == nil {
		return
	}
	b, _ := json.Marshal(cachedVideo(v))
	if err := s.cache.PutCachedVideo(ctx, v.Service, v.ID, b, s.cfg.Now()); err != nil {
		s.log.Warn("cache video metadata", "service", v.Service, "err", err)
	}
}

func (s *Service) youtubeInfo(ctx context.Context, id string) (watch.Video, error) {
	if !ytID.MatchString(id) {
		return watch.Video{}, errorf(CodeInvalidVideoID, "\"%s is an invalid youtube video ID.\"", id)
	}
	if v, ok := s.fromCache(ctx, "youtube", id); ok {
		return v, nil
	}
	if err := s.youtubeEnabled(); err != nil {
		return watch.Video{}, err
	}
	vs, err := s.ytVideos(ctx, []string{id})
	if err != nil {
		return watch.Video{}, err
	}
	if len(vs) == 0 {
		return watch.Video{}, errorf(CodeVideoNotFound, "Video not found.")
	}
	return vs[0], nil
}

// ytVideos fetches up to 50 videos by id, caching each.
func (s *Service) ytVideos(ctx context.Context, ids []string) ([]watch.Video, error) {
	l, err := s.ytGet(ctx, "videos", url.Values{"part": {"snippet,contentDetails"}, "id": {strings.Join(ids, ",")}})
	if err != nil {
		return nil, err
	}
	byID := map[string]watch.Video{}
	for _, it := range l.Items {
		var id string
		_ = json.Unmarshal(it.ID, &id)
		d, _ := parseISODuration(it.ContentDetails.Duration)
		v := watch.Video{Service: "youtube", ID: id, Title: it.Snippet.Title, Description: it.Snippet.Description,
			Thumbnail: it.Snippet.thumb(), Length: d}
		byID[id] = v
		s.toCache(ctx, v)
	}
	out := make([]watch.Video, 0, len(ids))
	for _, id := range ids {
		if v, ok := byID[id]; ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// ytPrivateLists are playlists only their owner can read (liked videos,
// watch later): a link naming one is a link to its video alone.
var ytPrivateLists = []string{"LL", "WL"}

// youtubeURL resolves a YouTube link: a video, a playlist (with the v=
// video highlighted) or a channel's uploads. Links of no shape OTT's
// YouTube adapter handles (no video id, no list, a bare /@) are
// UnsupportedServiceException, before any request to YouTube.
func (s *Service) youtubeURL(ctx context.Context, u *url.URL) ([]watch.Video, *watch.Video, error) {
	host := strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	q := u.Query()
	var videoID, listID string
	unsupported := errorf(CodeUnsupportedService, "%q is not a valid URL for any supported service.", u.String())
	switch {
	case host == "youtu.be":
		videoID, listID = segs[0], q.Get("list")
		if videoID == "" {
			return nil, nil, unsupported
		}
	case host == "studio.youtube.com" && len(segs) >= 2 && segs[0] == "video":
		videoID = segs[1]
	case segs[0] == "watch":
		videoID, listID = strings.TrimSpace(q.Get("v")), q.Get("list")
		if videoID == "" {
			return nil, nil, unsupported
		}
	case segs[0] == "playlist":
		if listID = q.Get("list"); listID == "" {
			return nil, nil, unsupported
		}
	case (segs[0] == "shorts" || segs[0] == "live") && len(segs) >= 2:
		videoID = segs[1]
	case ((segs[0] == "channel" || segs[0] == "user" || segs[0] == "c") && len(segs) >= 2 && segs[1] != "") || len(segs[0]) > 1 && segs[0][0] == '@':
		if err := s.youtubeEnabled(); err != nil {
			return nil, nil, err
		}
		uploads, err := s.ytChannelUploads(ctx, segs)
		if err != nil {
			return nil, nil, err
		}
		vs, err := s.ytPlaylist(ctx, uploads)
		return vs, nil, err
	default:
		return nil, nil, unsupported
	}
	if slices.Contains(ytPrivateLists, listID) {
		listID = ""
	}
	if listID != "" {
		if err := s.youtubeEnabled(); err != nil {
			return nil, nil, err
		}
		vs, err := s.ytPlaylist(ctx, listID)
		if err != nil {
			if videoID == "" || ctx.Err() != nil {
				return nil, nil, err
			}
			// A video link naming a list YouTube will not show (a mix,
			// a private list) is a link to the video, as on OTT.
			v, err := s.youtubeInfo(ctx, videoID)
			return one(v, err)
		}
		var hl *watch.Video
		for i := range vs {
			if vs[i].ID == videoID {
				vs[i].Highlight = true
				h := vs[i]
				hl = &h
			}
		}
		if hl == nil && videoID != "" {
			// The video is past the items read: highlighted on its own.
			if v, err := s.youtubeInfo(ctx, videoID); err == nil {
				v.Highlight = true
				hl = &v
			}
		}
		return vs, hl, nil
	}
	v, err := s.youtubeInfo(ctx, videoID)
	return one(v, err)
}

func (s *Service) ytChannelUploads(ctx context.Context, segs []string) (string, error) {
	q := url.Values{"part": {"contentDetails"}}
	switch {
	case segs[0] == "channel" && len(segs) > 1:
		q.Set("id", segs[1])
	case segs[0] == "user" && len(segs) > 1:
		q.Set("forUsername", segs[1])
	case strings.HasPrefix(segs[0], "@"):
		q.Set("forHandle", segs[0])
	case segs[0] == "c" && len(segs) > 1:
		q.Set("forHandle", "@"+segs[1])
	default:
		return "", errorf(CodeUnsupportedService, "Not a valid YouTube channel URL.")
	}
	l, err := s.ytGet(ctx, "channels", q)
	if err != nil {
		return "", err
	}
	if len(l.Items) == 0 || l.Items[0].ContentDetails.RelatedPlaylists.Uploads == "" {
		return "", errorf(CodeVideoNotFound, "Video not found.")
	}
	return l.Items[0].ContentDetails.RelatedPlaylists.Uploads, nil
}

// ytPlaylist returns up to 40 items of a playlist, with lengths.
func (s *Service) ytPlaylist(ctx context.Context, listID string) ([]watch.Video, error) {
	l, err := s.ytGet(ctx, "playlistItems", url.Values{"part": {"snippet"}, "playlistId": {listID}, "maxResults": {"40"}})
	if err != nil {
		if errors.Is(err, fault.NotFound) {
			return nil, errorf(CodeVideoNotFound, "Playlist not found.")
		}
		return nil, err
	}
	ids := make([]string, 0, len(l.Items))
	for _, it := range l.Items {
		if id := it.Snippet.ResourceID.VideoID; ytID.MatchString(id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return []watch.Video{}, nil
	}
	return s.ytVideos(ctx, ids)
}

// search runs a YouTube search (8 results).
func (s *Service) search(ctx context.Context, query string) ([]watch.Video, error) {
	if err := s.youtubeEnabled(); err != nil {
		return nil, err
	}
	l, err := s.ytGet(ctx, "search", url.Values{"part": {"snippet"}, "type": {"video"}, "maxResults": {"8"}, "q": {query}})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, it := range l.Items {
		var id struct {
			VideoID string `json:"videoId"`
		}
		if json.Unmarshal(it.ID, &id) == nil && ytID.MatchString(id.VideoID) {
			ids = append(ids, id.VideoID)
		}
	}
	if len(ids) == 0 {
		return []watch.Video{}, nil
	}
	return s.ytVideos(ctx, ids)
}
