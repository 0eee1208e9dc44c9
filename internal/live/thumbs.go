package live

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/hearth-community/hearth/internal/hls"
)

// Thumbnail file names in a stage's HLS directory.
const (
	thumbName   = "thumbnail.jpg"
	previewName = "preview.gif"
)

// onSegment runs after each stored segment: while live, the newest segment
// of variant 0 becomes a thumbnail (and an animated preview) at most every
// ThumbnailEvery, made by ffmpeg in the background.
func (st *stage) onSegment(variant int, path string, seg hls.Segment) {
	st.mu.Lock()
	var rec RecordingSink
	if b := st.cur; b != nil && b.rec != nil && b.recIndex == variant {
		rec = b.rec
	}
	st.mu.Unlock()
	if rec != nil {
		rec.Segment(path, seg)
	}
	if variant != 0 {
		return
	}
	s := st.svc
	now := s.cfg.Now()
	st.mu.Lock()
	if st.thumbBusy || (!st.thumbAt.IsZero() && now.Sub(st.thumbAt) < s.cfg.ThumbnailEvery) {
		st.mu.Unlock()
		return
	}
	st.thumbBusy, st.thumbAt = true, now
	st.mu.Unlock()
	go func() {
		defer func() {
			st.mu.Lock()
			st.thumbBusy = false
			st.mu.Unlock()
		}()
		st.makeThumbnails(path)
	}()
}

func (st *stage) thumbDir() string { return filepath.Join(st.svc.cfg.DataDir, "hls", st.id) }

func (st *stage) makeThumbnails(segment string) {
	s := st.svc
	ffmpeg := s.Settings().FFmpegPath
	// Copy the segment first: cleanup may delete it while ffmpeg reads.
	data, err := os.ReadFile(segment)
	if err != nil {
		return
	}
	dir := st.thumbDir()
	src := filepath.Join(dir, "thumb-src.ts")
	if err := os.WriteFile(src, data, 0o640); err != nil {
		return
	}
	defer func() { _ = os.Remove(src) }()
	ctx, cancel := context.WithTimeout(s.ctx, 20*time.Second)
	defer cancel()
	jobs := []struct {
		name string
		args []string
	}{
		{thumbName, []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", src, "-frames:v", "1", "-q:v", "4", "-f", "image2"}},
		{previewName, []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-t", "3", "-i", src,
			"-vf", "fps=5,scale=320:-2:flags=lanczos", "-loop", "0", "-f", "gif"}},
	}
	for _, j := range jobs {
		out := filepath.Join(dir, j.name)
		tmp := out + ".tmp"
		cmd := exec.CommandContext(ctx, ffmpeg, append(j.args, tmp)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			s.log.Warn("live: thumbnail failed", "file", j.name, "err", err, "ffmpeg", string(b))
			_ = os.Remove(tmp)
			continue
		}
		if err := os.Rename(tmp, out); err != nil {
			s.log.Warn("live: thumbnail failed", "err", err)
		}
	}
}

// Thumbnail returns the path of a stage's latest thumbnail ("thumbnail.jpg")
// or preview ("preview.gif"), or false when none has been made.
func (s *Service) Thumbnail(stageID, name string) (string, bool) {
	st, err := s.stage(stageID)
	if err != nil || (name != thumbName && name != previewName) {
		return "", false
	}
	p := filepath.Join(st.thumbDir(), name)
	if _, err := os.Stat(p); err != nil {
		return "", false
	}
	return p, true
}
