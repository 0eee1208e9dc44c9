package live

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/hls"
	"github.com/hearth-community/hearth/internal/transcode"
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
		transcode.DieWithParent(cmd)
		if b, err := cmd.CombinedOutput(); err != nil {
			s.log.Warn("live: thumbnail failed", "file", j.name, "err", err, "ffmpeg", string(b))
			_ = os.Remove(tmp)
			continue
		}
		if err := os.Rename(tmp, out); err != nil {
			s.log.Warn("live: thumbnail failed", "err", err)
			continue
		}
		if j.name == thumbName {
			s.noteThumbnail(ctx, st.id)
		}
	}
}

// After a broadcast ends, every node serves the stage's thumbnail and
// preview (Owncast's offline image), and each node's own files are those
// of the last broadcast it ran: two nodes showed two different pictures,
// one of them of an older stream. The node that makes a stage's thumbnail
// keeps its id in the live settings; while the stage is offline the others
// fetch the thumbnail and preview from that node's peer route
// (IngestPeerURL), as while it is live, as long as that node is in the
// cluster (heard from on the bus, not found unreachable); otherwise they
// serve their own.

// thumbNodeKey + a stage id is the live setting naming the node holding
// the stage's newest thumbnail.
const thumbNodeKey = "thumbnail.node."

// thumbNodes caches the setting per stage, for nodeURLTTL.
type thumbNodes struct {
	mu    sync.Mutex
	nodes map[string]cachedURL
}

func (c *thumbNodes) get(stageID string, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.nodes[stageID]
	if !ok || now.Sub(e.at) >= nodeURLTTL || now.Before(e.at) {
		return "", false
	}
	return e.url, true
}

func (c *thumbNodes) put(stageID, node string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nodes == nil || len(c.nodes) >= 4096 {
		c.nodes = map[string]cachedURL{}
	}
	c.nodes[stageID] = cachedURL{url: node, at: now}
}

func (c *thumbNodes) forget(stageID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.nodes, stageID)
}

// noteThumbnail records that this node holds stageID's newest thumbnail.
func (s *Service) noteThumbnail(ctx context.Context, stageID string) {
	if s.cfg.NodeID == "" || s.cfg.Viewers == nil {
		return
	}
	now := s.cfg.Now()
	if node, ok := s.thumbNode.get(stageID, now); ok && node == s.cfg.NodeID {
		return
	}
	if err := s.st.SetSetting(ctx, thumbNodeKey+stageID, s.cfg.NodeID); err != nil {
		s.log.Warn("live: cannot record where the stage's thumbnail is", "stage", stageID, "err", err)
		return
	}
	s.thumbNode.put(stageID, s.cfg.NodeID, now)
}

// thumbnailNode is the other node holding stageID's newest thumbnail, if
// it is in the cluster now ("" for this node, or none).
func (s *Service) thumbnailNode(ctx context.Context, stageID string) string {
	if s.cfg.NodeID == "" || s.cfg.Viewers == nil {
		return ""
	}
	now := s.cfg.Now()
	node, ok := s.thumbNode.get(stageID, now)
	if !ok {
		v, err := s.st.Setting(ctx, thumbNodeKey+stageID)
		if err != nil && !errors.Is(err, fault.NotFound) {
			s.log.Warn("live: cannot read where the stage's thumbnail is", "stage", stageID, "err", err)
			return ""
		}
		node = v
		s.thumbNode.put(stageID, node, now)
	}
	if node == "" || node == s.cfg.NodeID || s.cfg.Viewers.Heard(node).IsZero() || len(s.reachable([]string{node})) == 0 {
		return ""
	}
	return node
}

// runsHere reports whether stageID's broadcast runs (or starts or drains)
// on this node.
func (s *Service) runsHere(stageID string) bool {
	st, err := s.stage(stageID)
	if err != nil {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.cur != nil
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
