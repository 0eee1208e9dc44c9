package recording

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// A recording's MP4 (downloadFile) takes about the recording's size again
// on the disk. Kept until the recording was deleted, anyone who may
// download a stage's recordings could double the disk they use, outside
// the stage's maxBytes. So a node removes the MP4s nobody downloaded for
// Config.DownloadKeep, and keeps a stage's recordings and its MP4s within
// the stage's maxBytes by removing MP4s (least recently served first):
// an MP4 is a cache, made again on the next download, and never costs a
// recording.

// servedFile is an empty file beside a recording's MP4 whose mtime is when
// the MP4 was last served (to within servedEvery). A file of its own, not
// the MP4's times: the MP4's mtime is the playlist's it was made from
// (openDownload), and touching the MP4 would change the version its ETag
// names (DownloadVersion).
const servedFile = downloadFile + ".served"

// servedEvery is how often a download touches servedFile at most, so a
// player's range requests cost a stat each, not a write (and no database
// write at all).
const servedEvery = time.Minute

// DefaultDownloadKeep is Config.DownloadKeep's default.
const DefaultDownloadKeep = 24 * time.Hour

// markServed notes that recording id's MP4 is served now. Unless force, it
// writes only when the note is servedEvery old.
func (s *Service) markServed(id string, force bool) {
	p := filepath.Join(s.dirOf(id), servedFile)
	now := s.cfg.Now()
	if fi, err := os.Stat(p); err == nil && !force {
		if d := now.Sub(fi.ModTime()); d >= 0 && d < servedEvery {
			return
		}
	} else if err != nil {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o640)
		if err != nil {
			return // the recording was deleted meanwhile
		}
		_ = f.Close()
	}
	if err := os.Chtimes(p, now, now); err != nil {
		s.log.Warn("recording: cannot note a download", "recording", id, "err", err)
	}
}

// lastServed is when recording id's MP4 was last served; ok false when
// nothing says.
func (s *Service) lastServed(id string) (at time.Time, ok bool) {
	fi, err := os.Stat(filepath.Join(s.dirOf(id), servedFile))
	if err != nil {
		return time.Time{}, false
	}
	return fi.ModTime(), true
}

// dropDownload removes recording id's MP4 unless it is being made on this
// node or was served since the sweep saw it served at seen. A download
// still reading the removed file keeps it open to its end (the file lives
// until closed); the next download makes it again.
func (s *Service) dropDownload(id string, seen time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.making[id] != nil {
		return false
	}
	if at, ok := s.lastServed(id); !ok || !at.Equal(seen) {
		return false
	}
	if err := os.Remove(filepath.Join(s.dirOf(id), downloadFile)); err != nil {
		return false
	}
	_ = os.Remove(filepath.Join(s.dirOf(id), servedFile))
	return true
}

// SweepDownloads removes, on this node's disk, the recordings' MP4s not
// served for DownloadKeep, then, for each stage with a maxBytes, the
// least recently served MP4s while the stage's recordings (their sizes as
// retention counts them: unpinned and finished, on every node) and its
// MP4s on this node (of any of its recordings) are over it. MP4s being
// made are left. An MP4 with no note of being served (made before the
// notes were kept) is kept DownloadKeep from now. It reports how many it
// removed.
func (s *Service) SweepDownloads(ctx context.Context) int {
	ents, _ := os.ReadDir(s.cfg.Dir)
	return s.sweepDownloads(ctx, ents)
}

// sweepDownloads is SweepDownloads over ents, a listing of the recordings
// directory (sweepDisk shares one with sweepLeftovers).
func (s *Service) sweepDownloads(ctx context.Context, ents []os.DirEntry) int {
	type mp4 struct {
		id     string
		size   int64
		served time.Time
	}
	now := s.cfg.Now()
	removed := 0
	var kept []mp4
	for _, e := range ents {
		if ctx.Err() != nil {
			return removed
		}
		id := e.Name()
		if !e.IsDir() || !validID(id) {
			continue
		}
		fi, err := os.Stat(filepath.Join(s.dirOf(id), downloadFile))
		if err != nil {
			continue
		}
		served, ok := s.lastServed(id)
		if !ok {
			s.markServed(id, true)
			if served, ok = s.lastServed(id); !ok {
				continue
			}
		}
		if now.Sub(served) > s.cfg.DownloadKeep {
			if s.dropDownload(id, served) {
				removed++
				s.log.Info("recording: removed a download's MP4 nobody downloaded", "recording", id, "since", served)
			}
			continue
		}
		kept = append(kept, mp4{id, fi.Size(), served})
	}
	if len(kept) == 0 {
		return removed
	}
	sets, err := s.st.AllRecordingSettings(ctx)
	if err != nil {
		s.log.Warn("recording: cannot read settings to bound the downloads' MP4s", "err", err)
		return removed
	}
	for _, set := range sets {
		if set.MaxBytes <= 0 || ctx.Err() != nil {
			continue
		}
		all, err := s.st.Recordings(ctx, set.StageID)
		if err != nil {
			continue
		}
		var used int64
		ofStage := map[string]bool{}
		for _, r := range all {
			ofStage[r.ID] = true
			if !r.Pinned && r.EndedAt != nil {
				used += r.Size
			}
		}
		var mine []mp4
		for _, m := range kept {
			if ofStage[m.id] {
				mine = append(mine, m)
				used += m.size
			}
		}
		slices.SortFunc(mine, func(a, b mp4) int { return a.served.Compare(b.served) })
		for _, m := range mine {
			if used <= set.MaxBytes {
				break
			}
			if s.dropDownload(m.id, m.served) {
				used -= m.size
				removed++
				s.log.Info("recording: removed a download's MP4 to keep the stage within its maxBytes",
					"recording", m.id, "stage", set.StageID)
			}
		}
	}
	return removed
}

// DownloadVersion is the ETag and Last-Modified of a recording's MP4 as
// opened by DownloadFile (fi: its Stat). They name this very file: an MP4
// removed (SweepDownloads) and made again from the same playlist has the
// same mtime and most likely the same size, but need not have the same
// bytes, so a download resumed with If-Range across it must start over.
// Where the OS says, the ETag carries the file's inode and change time
// (set when it was moved into place), and Last-Modified is that time,
// left out (zero) while it is less than a second old: an HTTP date has
// whole seconds, so only then can no other MP4 of the recording have had
// the same one (RFC 9110's strong Last-Modified), and an If-Range date is
// then taken as another file's. Elsewhere they are the MP4's mtime and
// size, which do not tell two MP4s of one playlist apart.
func DownloadVersion(fi os.FileInfo) (etag string, modified time.Time) {
	ino, changed, ok := fileIdentity(fi)
	if !ok {
		return fmt.Sprintf(`"%x-%x"`, fi.ModTime().UnixNano(), fi.Size()), fi.ModTime()
	}
	etag = fmt.Sprintf(`"%x-%x-%x-%x"`, fi.ModTime().UnixNano(), fi.Size(), ino, changed.UnixNano())
	if time.Since(changed) < time.Second {
		return etag, time.Time{}
	}
	return etag, changed
}
