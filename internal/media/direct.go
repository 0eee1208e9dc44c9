package media

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"os/exec"
	"path"
	"strconv"
	"strings"

	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/watch"
)

var extMime = map[string]string{
	".mp4": "video/mp4", ".mp4v": "video/mp4", ".mpg4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm",
	".mkv": "video/x-matroska", ".mov": "video/quicktime", ".qt": "video/quicktime", ".ogv": "video/ogg",
	".ogg": "audio/ogg", ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".flac": "audio/flac", ".wav": "audio/wav",
	".opus": "audio/ogg",
	// Links OTT takes as direct whose files browsers do not play: they are
	// refused by type (UnsupportedMimeTypeException), not as unknown links.
	".flv": "video/x-flv", ".avi": "video/x-msvideo", ".wmv": "video/x-ms-wmv", ".h261": "video/h261",
	".h262": "video/h262", ".h263": "video/h263", ".h264": "video/h264",
}

var playableMime = map[string]bool{"video/mp4": true, "video/webm": true, "video/ogg": true, "audio/ogg": true,
	"audio/mpeg": true, "audio/mp4": true, "audio/webm": true, "audio/flac": true, "audio/wav": true, "video/quicktime": true,
	"video/x-matroska": true, "audio/x-wav": true}

// directInfo fetches the start of a media file (through egress) and runs
// ffprobe on those bytes, fed on stdin.
func (s *Service) directInfo(ctx context.Context, raw string) (watch.Video, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		if err == nil && u.Scheme == "file" {
			return watch.Video{}, mediaErr(CodeLocalFile, "The video URL provided references a local file. It is not possible to play videos on your computer, nor files located on the server. Videos must be hosted somewhere all users in the room can access.")
		}
		return watch.Video{}, mediaErr(CodeInvalidVideoID, "%q is an invalid direct video ID.", raw)
	}
	// A probe holds up to ProbeBytes and an ffprobe: previewAdd takes up
	// to 50 URLs a request, so probes take turns instead of each request
	// starting its own at once.
	release, err := s.probeTurn(ctx)
	if err != nil {
		return watch.Video{}, err
	}
	defer release()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return watch.Video{}, fetchErr(raw, err)
	}
	req.Header.Set("Range", "bytes=0-"+strconv.FormatInt(s.cfg.ProbeBytes-1, 10))
	resp, err := s.probe.Do(req)
	if err != nil {
		return watch.Video{}, fetchErr(raw, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		return watch.Video{}, statusErr(resp.StatusCode)
	}
	mt := ""
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		mt, _, _ = mime.ParseMediaType(ct)
	}
	if mt == "" || mt == "application/octet-stream" || mt == "binary/octet-stream" {
		mt = extMime[strings.ToLower(path.Ext(u.Path))]
	}
	if !playableMime[mt] {
		if strings.HasPrefix(mt, "video/") {
			return watch.Video{}, mediaErr(CodeUnsupportedMime, "Files that are %s are not supported. Mp4 videos work the best.", mt)
		}
		return watch.Video{}, mediaErr(CodeUnsupportedMime, "The requested resource was not actually a video, it was a %s", mt)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, s.cfg.ProbeBytes))
	if err != nil {
		return watch.Video{}, fetchErr(raw, err)
	}
	length, title, err := s.ffprobe(ctx, data)
	if err != nil {
		return watch.Video{}, err
	}
	if title == "" {
		// As OTT: the file's name without its extension.
		title = path.Base(u.Path)
		if t, err := url.PathUnescape(title); err == nil {
			title = t
		}
		if base := strings.TrimSuffix(title, path.Ext(title)); base != "" {
			title = base
		}
	}
	// OTT gives a direct file's length in whole seconds, rounded up.
	return watch.Video{Service: "direct", ID: u.String(), Title: title, Description: "Full Link: " + u.String(),
		Length: math.Ceil(length), Mime: mt}, nil
}

// probeTurn waits up to ProbeWait for a turn to probe a direct file (at
// once refused when ctx's caller holds TurnsPerCaller); the caller runs
// release when done.
func (s *Service) probeTurn(ctx context.Context) (release func(), err error) {
	release, err = s.probes.TakeFor(ctx)
	if errors.Is(err, ratelimit.ErrNoTurn) || errors.Is(err, ratelimit.ErrOwnTurns) {
		return nil, mediaErr(CodeProbeTimeout, "The server is busy reading other video files. Please try again in a moment.")
	}
	return release, err
}

type probeOut struct {
	Format struct {
		Duration string            `json:"duration"`
		Tags     map[string]string `json:"tags"`
	} `json:"format"`
	Streams []struct {
		CodecType string `json:"codec_type"`
		Duration  string `json:"duration"`
	} `json:"streams"`
}

// ffprobe returns the duration of the media in data and the title its
// metadata names ("" when none). ffprobe reads only
// stdin ("pipe:0") and is started without a shell; the protocol whitelist
// stops it from opening anything else a crafted file might reference.
func (s *Service) ffprobe(ctx context.Context, data []byte) (float64, string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ProbeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.cfg.FFprobe, "-v", "error", "-protocol_whitelist", "pipe",
		"-print_format", "json", "-show_format", "-show_streams", "-i", "pipe:0")
	cmd.Stdin = bytes.NewReader(data)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return 0, "", mediaErr(CodeProbeTimeout, "The provided direct file took too long to probe for metadata. Please try another file.")
	}
	var ee *exec.Error
	if errors.As(err, &ee) {
		return 0, "", &Error{Code: CodeFeatureDisabled, Msg: "Sorry, this feature is disabled: ffprobe is not installed.", Err: err}
	}
	var p probeOut
	if jerr := json.Unmarshal(out.Bytes(), &p); jerr != nil && err == nil {
		err = jerr
	}
	d, _ := strconv.ParseFloat(p.Format.Duration, 64)
	if d <= 0 {
		for _, st := range p.Streams {
			if sd, _ := strconv.ParseFloat(st.Duration, 64); sd > d {
				d = sd
			}
		}
	}
	if d <= 0 {
		s.log.Debug("ffprobe found no duration", "err", err, "stderr", truncate(stderr.String(), 300))
		return 0, "", mediaErr(CodeMissingMetadata, "The video provided is missing metadata required to let playback work correctly (probably length). For best results, reencode the video as an mp4.")
	}
	title, ok := p.Format.Tags["title"]
	if !ok {
		title = p.Format.Tags["TITLE"] // Matroska's tags are upper case
	}
	return d, strings.TrimSpace(title), nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func errorf(c Code, format string, args ...any) error {
	return &Error{Code: c, Msg: fmt.Sprintf(format, args...)}
}
