// Package media resolves video sources to metadata: direct media files, HLS
// and DASH manifests, YouTube (with an API key), Vimeo and PeerTube. Every
// fetch goes through the egress client; direct files are probed by running
// ffprobe on bytes we fetched ourselves (fed on stdin, never a URL, never a
// shell). Metadata of cache-safe services is cached in the database.
package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/watch"
)

// Code names a media error for surfaces.
type Code string

// Error codes.
const (
	CodeUnsupportedService Code = "unsupported-service"
	CodeInvalidInput       Code = "invalid-input"
	CodeFeatureDisabled    Code = "feature-disabled"
	CodeUnsupportedMime    Code = "unsupported-mime"
	CodeLocalFile          Code = "local-file"
	CodeMissingMetadata    Code = "missing-metadata"
	CodeVideoNotFound      Code = "video-not-found"
	CodeInvalidVideoID     Code = "invalid-video-id"
	CodeOutOfQuota         Code = "out-of-quota"
	CodeProbeTimeout       Code = "probe-timeout"
	CodeUpstream           Code = "upstream"
)

// Error is a media error with a code and a user-facing message.
type Error struct {
	Code Code
	Msg  string
	Err  error
}

func (e *Error) Error() string { return e.Msg }

// Unwrap exposes a fault.Error of the code's kind and the message, so
// fault.KindOf and fault.Message read it as the user's error it is (a
// room socket refuses it with a notice, where an internal error closes
// the socket), then the cause.
func (e *Error) Unwrap() []error {
	f := &fault.Error{Kind: e.kind(), Msg: e.Msg}
	if e.Err == nil {
		return []error{f}
	}
	return []error{f, e.Err}
}

// Is maps codes to fault kinds.
func (e *Error) Is(target error) bool {
	k, ok := target.(fault.Kind)
	return ok && k == e.kind()
}

func (e *Error) kind() fault.Kind {
	switch e.Code {
	case CodeVideoNotFound:
		return fault.NotFound
	case CodeFeatureDisabled:
		return fault.Forbidden
	case CodeUpstream, CodeOutOfQuota:
		return fault.Unavailable
	}
	return fault.Invalid
}

func mediaErr(c Code, format string, args ...any) error {
	return &Error{Code: c, Msg: fmt.Sprintf(format, args...)}
}

func disabled(reason string) error {
	return mediaErr(CodeFeatureDisabled, "Sorry, this feature is disabled: %s", reason)
}

// Fetcher is the outbound client (egress.Client).
type Fetcher interface {
	Get(ctx context.Context, rawURL string) (*egress.Response, error)
	Do(req *http.Request) (*http.Response, error)
}

// Cache keeps metadata of cache-safe services.
type Cache interface {
	CachedVideo(ctx context.Context, service, id string) (data []byte, updated, created time.Time, err error)
	PutCachedVideo(ctx context.Context, service, id string, data []byte, now time.Time) error
}

// Config tunes the resolver.
type Config struct {
	YouTubeAPIKey  string
	YouTubeAPIBase string // default https://www.googleapis.com/youtube/v3
	VimeoOEmbedURL string // default https://vimeo.com/api/oembed.json
	// SponsorBlockAPIBase is the SponsorBlock server (default
	// https://sponsor.ajay.app, the one OpenTogetherTube's library uses).
	SponsorBlockAPIBase string
	PeerTubeInstances   []string
	FFprobe             string        // default "ffprobe"
	ProbeBytes          int64         // bytes of a direct file fed to ffprobe (8 MiB)
	ProbeTimeout        time.Duration // 10s
	// MaxProbes bounds the direct files probed at once on this node (each
	// holds up to ProbeBytes in memory and an ffprobe; default max(4,
	// 2 × cores)); ProbeWait is how long a request waits for a turn
	// (default ProbeTimeout).
	MaxProbes int
	ProbeWait time.Duration
	Now       func() time.Time
}

// Service resolves videos. It implements watch.Resolver.
type Service struct {
	cfg   Config
	fetch Fetcher
	probe Fetcher // for direct files: large cap, read only ProbeBytes
	cache Cache
	log   *slog.Logger
	// probes are the turns of direct-file probes (direct.go).
	probes *ratelimit.Turns
}

// maxFetches is how many metadata fetches (manifests, oEmbed, the video
// APIs) run at once on a node: each keeps up to the egress body cap
// (5 MiB) in memory, and previewAdd takes 50 URLs a request.
const maxFetches = 16

// TurnsPerCaller is how many probe turns, and how many metadata-fetch
// turns, one caller (the address or account its surface names with
// ratelimit.WithTurnKey) holds or awaits at once; past that its probe or
// fetch is refused at once, as one finding every turn busy. A caller may
// name any URL, a slow server of its own included, so without it one
// caller's previews side by side held every turn and the queue.
const TurnsPerCaller = 2

// turnFetcher makes fetch take turns (Get reads the whole body, so the
// turn covers it). Do is not used for metadata and is passed through.
type turnFetcher struct {
	Fetcher
	turns *ratelimit.Turns
}

func (f *turnFetcher) Get(ctx context.Context, rawURL string) (*egress.Response, error) {
	release, err := f.turns.TakeFor(ctx)
	if errors.Is(err, ratelimit.ErrNoTurn) || errors.Is(err, ratelimit.ErrOwnTurns) {
		return nil, mediaErr(CodeUpstream, "The server is busy fetching other videos' details. Please try again in a moment.")
	} else if err != nil {
		return nil, err
	}
	defer release()
	return f.Fetcher.Get(ctx, rawURL)
}

var _ watch.Resolver = (*Service)(nil)

// New builds the service. probe may be nil (then fetch is used).
func New(cfg Config, fetch, probe Fetcher, cache Cache, logger *slog.Logger) (*Service, error) {
	if fetch == nil {
		return nil, errors.New("media: a fetcher is required")
	}
	if probe == nil {
		probe = fetch
	}
	if cfg.YouTubeAPIBase == "" {
		cfg.YouTubeAPIBase = "https://www.googleapis.com/youtube/v3"
	}
	if cfg.SponsorBlockAPIBase == "" {
		cfg.SponsorBlockAPIBase = "https://sponsor.ajay.app"
	}
	if cfg.VimeoOEmbedURL == "" {
		cfg.VimeoOEmbedURL = "https://vimeo.com/api/oembed.json"
	}
	if cfg.FFprobe == "" {
		cfg.FFprobe = "ffprobe"
	}
	if cfg.ProbeBytes <= 0 {
		cfg.ProbeBytes = 8 << 20
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = 10 * time.Second
	}
	if cfg.MaxProbes <= 0 {
		cfg.MaxProbes = max(4, 2*runtime.NumCPU())
	}
	if cfg.ProbeWait <= 0 {
		cfg.ProbeWait = cfg.ProbeTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// probe (when it is fetch itself) stays unwrapped: a direct probe
	// holds a probe turn while it reads.
	fetch = &turnFetcher{Fetcher: fetch, turns: ratelimit.NewTurns(maxFetches, cfg.ProbeWait).PerKey(TurnsPerCaller)}
	return &Service{cfg: cfg, fetch: fetch, probe: probe, cache: cache, log: logger,
		probes: ratelimit.NewTurns(cfg.MaxProbes, cfg.ProbeWait).PerKey(TurnsPerCaller)}, nil
}

// Services lists the supported service ids.
var Services = []string{"youtube", "vimeo", "direct", "hls", "dash", "peertube"}

// Preview is the answer to an add preview.
type Preview struct {
	Result      []watch.Video
	Highlighted *watch.Video
	// CacheSeconds is how long the answer may be cached.
	CacheSeconds int
}

// Preview resolves previewAdd input: one URL, several URLs separated by
// newlines, or a search query (YouTube only). service forces an adapter.
func (s *Service) Preview(ctx context.Context, input, service string) (*Preview, error) {
	input = strings.TrimSpace(input)
	if input == "" {
		return nil, watch.BadArgument("input", "missing")
	}
	if service != "" && !contains(Services, service) {
		return nil, mediaErr(CodeUnsupportedService, "%q is not a supported service.", service)
	}
	lines := strings.Split(input, "\n")
	if len(lines) > 1 {
		var out []watch.Video
		for _, l := range lines {
			l = strings.TrimSpace(l)
			if l == "" {
				continue
			}
			if len(out) >= 50 {
				break
			}
			vs, err := s.ResolveURL(ctx, l)
			if err != nil {
				return nil, err
			}
			out = append(out, vs...)
		}
		return &Preview{Result: out, CacheSeconds: 3600}, nil
	}
	if isURL(input) {
		u, _ := url.Parse(input)
		vs, hl, err := s.resolve(ctx, u, service)
		if err != nil {
			return nil, err
		}
		cache := 3600
		if len(vs) > 0 && vs[0].Service == "youtube" {
			cache = 7 * 24 * 3600
		}
		return &Preview{Result: vs, Highlighted: hl, CacheSeconds: cache}, nil
	}
	if len(input) < 3 {
		return nil, mediaErr(CodeInvalidInput, "Your search query must at least 3 characters, or supply a Youtube video, playlist, or channel link.")
	}
	vs, err := s.search(ctx, input)
	if err != nil {
		return nil, err
	}
	return &Preview{Result: vs, CacheSeconds: 7 * 24 * 3600}, nil
}

func isURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && (u.Host != "" || u.Scheme == "file")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ResolveURL returns the videos a URL stands for.
func (s *Service) ResolveURL(ctx context.Context, raw string) ([]watch.Video, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme == "" {
		return nil, mediaErr(CodeUnsupportedService, "%q is not a valid URL for any supported service.", raw)
	}
	vs, _, err := s.resolve(ctx, u, "")
	return vs, err
}

func (s *Service) resolve(ctx context.Context, u *url.URL, service string) ([]watch.Video, *watch.Video, error) {
	if u.Scheme == "file" {
		return nil, nil, mediaErr(CodeLocalFile, "The video URL provided references a local file. It is not possible to play videos on your computer, nor files located on the server. Videos must be hosted somewhere all users in the room can access.")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, nil, mediaErr(CodeUnsupportedService, "%q is not a valid URL for any supported service.", u.String())
	}
	if service == "" {
		service = s.match(u)
	}
	switch service {
	case "youtube":
		return s.youtubeURL(ctx, u)
	case "vimeo":
		id, ok := vimeoID(u)
		if !ok { // OTT's vimeo adapter handles only links to a video
			return nil, nil, mediaErr(CodeUnsupportedService, "%q is not a valid URL for any supported service.", u.String())
		}
		v, err := s.Info(ctx, "vimeo", id)
		return one(v, err)
	case "peertube":
		v, err := s.peertube(ctx, u)
		return one(v, err)
	case "hls", "dash", "direct":
		v, err := s.Info(ctx, service, u.String())
		return one(v, err)
	}
	return nil, nil, mediaErr(CodeUnsupportedService, "%q is not a valid URL for any supported service.", u.String())
}

func one(v watch.Video, err error) ([]watch.Video, *watch.Video, error) {
	if err != nil {
		return nil, nil, err
	}
	return []watch.Video{v}, nil, nil
}

// match picks the adapter for a URL.
func (s *Service) match(u *url.URL) string {
	host := strings.ToLower(strings.TrimPrefix(u.Hostname(), "www."))
	p := strings.ToLower(u.Path)
	switch {
	case host == "youtube.com" || host == "m.youtube.com" || host == "youtu.be" || host == "music.youtube.com" || host == "studio.youtube.com":
		return "youtube"
	case host == "vimeo.com" || strings.HasSuffix(host, ".vimeo.com"):
		return "vimeo"
	case contains(s.cfg.PeerTubeInstances, host) && peertubeWatch.MatchString(u.Path):
		return "peertube"
	case strings.HasSuffix(p, ".m3u8") || strings.HasSuffix(p, ".m3u"):
		return "hls"
	case strings.HasSuffix(p, ".mpd"):
		return "dash"
	}
	for _, ext := range directExts {
		if strings.HasSuffix(p, ext) {
			return "direct"
		}
	}
	return ""
}

// directExts are the endings of direct links: OTT's (mp3, mp4, mp4v, mpg4,
// webm, flv, mkv, avi, wmv, qt, mov, ogv, m4v, h261-h264, ogg) and the
// audio files browsers play (m4a, flac, wav, opus).
// peertubeWatch is the path of a PeerTube watch link that names a video.
var peertubeWatch = regexp.MustCompile(`^/(?:w|videos/watch)/[A-Za-z0-9_-]+`)

var directExts = []string{".mp4", ".mp4v", ".mpg4", ".webm", ".flv", ".mkv", ".avi", ".wmv", ".qt", ".mov", ".ogv", ".m4v",
	".h261", ".h262", ".h263", ".h264", ".ogg", ".mp3", ".m4a", ".flac", ".wav", ".opus"}

// Info returns one video's metadata.
func (s *Service) Info(ctx context.Context, service, id string) (watch.Video, error) {
	switch service {
	case "youtube":
		return s.youtubeInfo(ctx, id)
	case "vimeo":
		return s.vimeoInfo(ctx, id)
	case "direct":
		return s.directInfo(ctx, id)
	case "hls":
		return s.hlsInfo(ctx, id)
	case "dash":
		return s.dashInfo(ctx, id)
	case "peertube":
		// OTT's peertube ids are "<host>:<video id>"; Hearth also takes
		// the watch link itself.
		if i := strings.LastIndexByte(id, ':'); i > 0 && !strings.Contains(id, "/") {
			id = "https://" + id[:i] + "/w/" + id[i+1:]
		}
		u, err := url.Parse(id)
		if err != nil || u.Host == "" {
			return watch.Video{}, mediaErr(CodeInvalidVideoID, "%q is an invalid peertube video ID.", id)
		}
		return s.peertube(ctx, u)
	}
	return watch.Video{}, mediaErr(CodeUnsupportedService, "Service %q is not supported.", service)
}

// fetchErr turns a transport failure into a media error.
func fetchErr(u string, err error) error {
	// A name that resolves to an address Hearth does not fetch from is
	// answered as one that does not resolve: told apart, a guest could
	// map which internal names exist. An address written in the link is
	// named plainly.
	if errors.Is(err, egress.ErrForbiddenAddress) && literalHost(u) {
		return &Error{Code: CodeUnsupportedService, Msg: fmt.Sprintf("%q points at an address Hearth does not fetch from.", u), Err: err}
	}
	if errors.Is(err, egress.ErrInvalidURL) {
		return &Error{Code: CodeUnsupportedService, Msg: fmt.Sprintf("%q is not a valid URL for any supported service.", u), Err: err}
	}
	return &Error{Code: CodeUpstream, Msg: "The video host could not be reached. Try again later.", Err: err}
}

// literalHost reports whether link's host is an IP address written out.
func literalHost(link string) bool {
	p, err := url.Parse(link)
	if err != nil {
		return false
	}
	_, err = netip.ParseAddr(strings.Trim(p.Hostname(), "[]"))
	return err == nil
}

func statusErr(code int) error {
	if code == http.StatusNotFound || code == http.StatusGone || code == http.StatusForbidden || code == http.StatusUnauthorized {
		return mediaErr(CodeVideoNotFound, "Video not found.")
	}
	return mediaErr(CodeUpstream, "The video host answered with HTTP %d.", code)
}
