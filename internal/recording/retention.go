package recording

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/disk"
	"github.com/hearth-community/hearth/internal/fault"
)

// retentionOnce applies retention if this node is the first in the
// cluster to claim the current period.
func (s *Service) retentionOnce(ctx context.Context) {
	now := s.cfg.Now()
	key := "retention:" + strconv.FormatInt(now.Truncate(s.cfg.RetentionEvery).Unix(), 10)
	ok, err := s.st.ClaimJob(ctx, key, now)
	if err != nil {
		s.log.Warn("recording: cannot claim the retention job", "err", err)
		return
	}
	if !ok {
		return
	}
	_ = s.st.PruneJobClaims(ctx, now.Add(-24*time.Hour))
	s.ApplyRetention(ctx)
	s.SweepGoneStages(ctx)
}

// SweepGoneStages deletes the finished recordings and the clips of stages
// that no longer exist (a deleted stage channel, or its community): every
// route answers 404 for them, so no one could list, play or delete them,
// yet their files held the disk and counted in Usage for good. Only what
// was made before the stages were listed is taken. It returns how many
// recordings and clips it deleted. Each clip deleted that had an
// announcement goes to Config.ClipSwept.
func (s *Service) SweepGoneStages(ctx context.Context) (recordings, clips int) {
	if s.cfg.Live == nil {
		return 0, 0
	}
	listed := s.cfg.Now()
	stages, err := s.cfg.Live.Stages(ctx)
	if err != nil || len(stages) == 0 {
		return 0, 0 // the default stage always exists: an empty list is a failure
	}
	known := make(map[string]bool, len(stages))
	for _, st := range stages {
		known[st.ID] = true
	}
	all, err := s.st.Recordings(ctx, "")
	if err != nil {
		s.log.Warn("recording: cannot list recordings to sweep", "err", err)
		return 0, 0
	}
	for _, r := range all {
		if known[r.StageID] || r.EndedAt == nil || !r.StartedAt.Before(listed) {
			continue
		}
		if err := s.Delete(ctx, r.ID); err != nil {
			s.log.Warn("recording: cannot delete a deleted stage's recording", "recording", r.ID, "err", err)
			continue
		}
		recordings++
	}
	cl, err := s.st.Clips(ctx, "")
	if err != nil {
		s.log.Warn("recording: cannot list clips to sweep", "err", err)
		return recordings, 0
	}
	for _, c := range cl {
		if known[c.StageID] || !c.CreatedAt.Before(listed) {
			continue
		}
		msg, err := s.DeleteClip(ctx, c.ID)
		if err != nil {
			s.log.Warn("recording: cannot delete a deleted stage's clip", "clip", c.ID, "err", err)
			continue
		}
		clips++
		if c.MessageID = msg; msg != "" && s.cfg.ClipSwept != nil {
			s.cfg.ClipSwept(ctx, c)
		}
	}
	if recordings+clips > 0 {
		s.log.Info("recording: deleted the recordings and clips of deleted stages", "recordings", recordings, "clips", clips)
	}
	return recordings, clips
}

// ApplyRetention deletes, per stage with limits, the oldest unpinned
// finished recordings until the stage is within its age, count and byte
// limits. Pinned recordings stay and are not counted. It returns the ids
// deleted.
func (s *Service) ApplyRetention(ctx context.Context) []string {
	sets, err := s.st.AllRecordingSettings(ctx)
	if err != nil {
		s.log.Warn("recording: retention: cannot read settings", "err", err)
		return nil
	}
	now := s.cfg.Now()
	var deleted []string
	for _, set := range sets {
		if set.MaxAge == 0 && set.MaxCount == 0 && set.MaxBytes == 0 {
			continue
		}
		all, err := s.st.Recordings(ctx, set.StageID)
		if err != nil {
			continue
		}
		var keep []*Recording // newest first, unpinned and finished
		for _, r := range all {
			if !r.Pinned && r.EndedAt != nil {
				keep = append(keep, r)
			}
		}
		var bytes int64
		for _, r := range keep {
			bytes += r.Size
		}
		// Walk from the oldest: drop while any limit is exceeded.
		for i := len(keep) - 1; i >= 0; i-- {
			r := keep[i]
			tooOld := set.MaxAge > 0 && now.Sub(*r.EndedAt) > set.MaxAge
			tooMany := set.MaxCount > 0 && i+1 > set.MaxCount
			tooBig := set.MaxBytes > 0 && bytes > set.MaxBytes
			if !tooOld && !tooMany && !tooBig {
				break
			}
			if err := s.Delete(ctx, r.ID); err != nil {
				s.log.Warn("recording: retention: cannot delete", "recording", r.ID, "err", err)
				continue
			}
			bytes -= r.Size
			deleted = append(deleted, r.ID)
			s.log.Info("recording: retention deleted a recording", "recording", r.ID, "stage", r.StageID)
		}
	}
	return deleted
}

// Usage is the recordings' disk use on this node's view.
type Usage struct {
	Recordings int
	UsedBytes  int64 // recordings (as stored), their download MP4s on this node, and clips
	FreeBytes  int64 // on the disk of the recordings directory; -1 unknown
	MinFree    int64
	DiskFull   bool // recording is refused or stopped for lack of space
	// NearFull: less than twice MinFree is left (recording goes on; the
	// admin is told before it stops).
	NearFull bool
	// LastFull is when this node last refused or stopped a recording for
	// lack of space (nil: not since it started).
	LastFull *time.Time
}

// Usage sums every recording and clip and reads the free space.
func (s *Service) Usage(ctx context.Context) (Usage, error) {
	all, err := s.st.Recordings(ctx, "")
	if err != nil {
		return Usage{}, err
	}
	u := Usage{Recordings: len(all), FreeBytes: -1, MinFree: s.cfg.MinFreeBytes}
	for _, r := range all {
		u.UsedBytes += r.Size
		if fi, err := os.Stat(filepath.Join(s.dirOf(r.ID), downloadFile)); err == nil {
			u.UsedBytes += fi.Size()
		}
	}
	if ents, err := os.ReadDir(filepath.Join(s.cfg.Dir, "clips")); err == nil {
		for _, e := range ents {
			if fi, err := e.Info(); err == nil {
				u.UsedBytes += fi.Size()
			}
		}
	}
	if free, ok := disk.Free(s.cfg.Dir); ok {
		u.FreeBytes = free
	}
	ok, _ := s.diskOK()
	u.DiskFull = !ok
	u.NearFull = !ok || (s.cfg.MinFreeBytes > 0 && u.FreeBytes >= 0 && u.FreeBytes < 2*s.cfg.MinFreeBytes)
	s.mu.Lock()
	if !s.lastFull.IsZero() {
		t := s.lastFull
		u.LastFull = &t
	}
	s.mu.Unlock()
	return u, nil
}

// leftoverGrace is how old a clip's partial file or scratch directory must
// be before SweepLeftovers takes it: a cut runs at most 2 minutes, so a
// younger one may be a cut still under way (this node's or, on a shared
// disk, another's).
const leftoverGrace = 10 * time.Minute

// clipSnapPrefix names the snapshot playlist a clip of a recording is cut
// from (clip-<id>.m3u8, in the recording's directory), removed once the
// cut ends.
const clipSnapPrefix = "clip-"

// SweepLeftovers removes what clip cuts and download remuxes cut off by a
// crash left on this node's disk, once older than leftoverGrace: partial
// MP4s (clips/*.tmp, <recording>/download.mp4.tmp-*), finished MP4s whose
// clip was never stored (clips/<id>.mp4 without a row), the snapshot
// playlists clips of a recording were cut from (<recording>/clip-*.m3u8)
// and the scratch directories of live clips (live-clip-*); and the files of recordings
// whose row is gone (deleted through another node). Nothing lists
// or serves them, but they held the disk and counted in Usage for good.
// It reports how many it removed.
func (s *Service) SweepLeftovers(ctx context.Context) int {
	ents, _ := os.ReadDir(s.cfg.Dir)
	return s.sweepLeftovers(ctx, ents)
}

// sweepLeftovers is SweepLeftovers over ents, a listing of the recordings
// directory (sweepDisk shares one with sweepDownloads). A recording's
// directory it removes is still in ents; sweepDownloads then finds no MP4
// there and passes it.
func (s *Service) sweepLeftovers(ctx context.Context, ents []os.DirEntry) int {
	now := s.cfg.Now()
	old := func(e os.DirEntry) bool {
		info, err := e.Info()
		return err == nil && now.Sub(info.ModTime()) > leftoverGrace
	}
	removed := 0
	clips := filepath.Join(s.cfg.Dir, "clips")
	clipEnts, _ := os.ReadDir(clips)
	for _, e := range clipEnts {
		if ctx.Err() != nil {
			return removed
		}
		name := e.Name()
		if !e.Type().IsRegular() || !old(e) {
			continue
		}
		switch {
		case strings.HasSuffix(name, ".tmp"):
		case strings.HasSuffix(name, ".mp4") && validID(strings.TrimSuffix(name, ".mp4")):
			if _, err := s.st.Clip(ctx, strings.TrimSuffix(name, ".mp4")); !errors.Is(err, fault.NotFound) {
				continue // a clip's file, or the store cannot tell
			}
		default:
			continue
		}
		if os.Remove(filepath.Join(clips, name)) == nil {
			removed++
		}
	}
	for _, e := range ents {
		if ctx.Err() != nil {
			return removed
		}
		name := e.Name()
		if !e.IsDir() {
			continue
		}
		if strings.HasPrefix(name, "live-clip-") {
			if old(e) && os.RemoveAll(filepath.Join(s.cfg.Dir, name)) == nil {
				removed++
			}
			continue
		}
		if !validID(name) {
			continue
		}
		// A recording deleted through another node (or by retention,
		// which one node runs for the cluster) loses its row there; its
		// files are this node's to remove.
		if _, err := s.st.Recording(ctx, name); errors.Is(err, fault.NotFound) {
			if old(e) && os.RemoveAll(filepath.Join(s.cfg.Dir, name)) == nil {
				removed++
			}
			continue
		}
		// A remux runs at most DownloadMakeTimeout; leftoverGrace is less,
		// so a partial MP4 is taken only once that much older.
		tmps, _ := filepath.Glob(filepath.Join(s.cfg.Dir, name, downloadFile+".tmp-*"))
		for _, p := range tmps {
			if fi, err := os.Stat(p); err == nil && now.Sub(fi.ModTime()) > DownloadMakeTimeout+leftoverGrace && os.Remove(p) == nil {
				removed++
			}
		}
		// A clip's cut removes its snapshot when it ends, so one older
		// than a cut runs is a kill's.
		snaps, _ := filepath.Glob(filepath.Join(s.cfg.Dir, name, clipSnapPrefix+"*.m3u8"))
		for _, p := range snaps {
			if fi, err := os.Stat(p); err == nil && now.Sub(fi.ModTime()) > leftoverGrace && os.Remove(p) == nil {
				removed++
			}
		}
	}
	if removed > 0 {
		s.log.Info("recording: removed what interrupted clip cuts left", "files", removed)
	}
	return removed
}
