package recording

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/transcode"
)

// ThumbnailName is a recording's thumbnail file.
const ThumbnailName = "thumbnail.jpg"

var errNotFound = fault.New(fault.NotFound, "recording not found")

// makeThumbnail takes the first frame of a recording's first segment.
func (s *Service) makeThumbnail(id, segment string) {
	ctx, cancel := context.WithTimeout(s.cfg.Life, 20*time.Second)
	defer cancel()
	out := filepath.Join(s.dirOf(id), ThumbnailName)
	tmp := out + ".tmp"
	cmd := exec.CommandContext(ctx, s.cfg.FFmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", segment,
		"-frames:v", "1", "-q:v", "4", "-f", "image2", tmp)
	transcode.DieWithParent(cmd)
	if b, err := cmd.CombinedOutput(); err != nil {
		s.log.Warn("recording: thumbnail failed", "recording", id, "err", err, "ffmpeg", string(b))
		_ = os.Remove(tmp)
		return
	}
	if err := os.Rename(tmp, out); err != nil {
		s.log.Warn("recording: thumbnail failed", "recording", id, "err", err)
	}
}

// Get returns a recording.
func (s *Service) Get(ctx context.Context, id string) (*Recording, error) {
	if !validID(id) {
		return nil, errNotFound
	}
	r, err := s.st.Recording(ctx, id)
	if errors.Is(err, fault.NotFound) {
		return nil, errNotFound
	}
	return r, err
}

// List lists a stage's recordings, newest first.
func (s *Service) List(ctx context.Context, stageID string) ([]*Recording, error) {
	return s.st.Recordings(ctx, stageID)
}

// Update changes a recording's title and pin.
func (s *Service) Update(ctx context.Context, id string, title *string, pinned *bool) (*Recording, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if title != nil {
		t := strings.TrimSpace(*title)
		if len(t) > 500 {
			return nil, fault.New(fault.Invalid, "title too long (at most 500 bytes)")
		}
		r.Title = t
	}
	if pinned != nil {
		r.Pinned = *pinned
	}
	if err := s.st.UpdateRecording(ctx, r); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if w := s.writers[r.StageID]; w != nil && w.rec.ID == r.ID {
		w.mu.Lock()
		w.rec.Title, w.rec.Pinned = r.Title, r.Pinned
		w.mu.Unlock()
	}
	s.mu.Unlock()
	return r, nil
}

// Delete removes a finished recording and its files.
func (s *Service) Delete(ctx context.Context, id string) error {
	r, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if r.EndedAt == nil {
		return fault.New(fault.Conflict, "the recording is still being made; delete it after the broadcast ends")
	}
	if err := s.st.DeleteRecording(ctx, id); err != nil {
		return err
	}
	s.mu.Lock()
	if w := s.lastEnded[r.StageID]; w != nil && w.rec.ID == id {
		delete(s.lastEnded, r.StageID)
	}
	s.mu.Unlock()
	if err := os.RemoveAll(s.dirOf(id)); err != nil {
		s.log.Warn("recording: cannot remove files", "recording", id, "err", err)
	}
	s.removeObjects(id)
	return nil
}

// File returns the path of a recording's playlist, segment or thumbnail,
// or NotFound for any other name.
func (s *Service) File(ctx context.Context, id, name string) (string, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return "", err
	}
	if name != PlaylistName && name != ThumbnailName && !segName.MatchString(name) {
		return "", errNotFound
	}
	p := filepath.Join(s.dirOf(id), name)
	if _, err := os.Stat(p); err != nil {
		return "", errNotFound
	}
	return p, nil
}

// downloadFile is a finished recording's MP4 in its directory, made on its
// first download (DownloadFile) and kept while it is downloaded and its
// stage within maxBytes (SweepDownloads).
const downloadFile = "download.mp4"

// DownloadMakeTimeout bounds one remux of a whole recording into its MP4
// (a stream copy at disk speed), and so how long a first download may
// wait for its answer.
const DownloadMakeTimeout = 30 * time.Minute

// making is a remux of a recording's MP4 under way on this node, which
// other downloads of the same recording wait for.
type making struct {
	done chan struct{}
	err  error
}

// DownloadFile opens a finished recording's MP4, so that it can be served
// with range requests. The first download remuxes the recording into it
// once (ffmpeg stream copy, +faststart, a job slot) and the file is kept
// beside the segments; requests arriving while it is made wait for that
// one remux. Each open notes that it was served (markServed), so
// SweepDownloads removes only MP4s nobody downloads; one it removed is
// made again. The file carries the mtime of
// the playlist it was made from, so a recording continued after a
// reconnect (a new playlist) gets a new MP4. Conflict while the recording
// is being made; NotFound for an unknown recording, one whose files are
// not on this node, or one without a segment; Unavailable when no job slot
// frees in time or the disk is below MinFreeBytes. The caller closes the
// file.
func (s *Service) DownloadFile(ctx context.Context, id string) (*os.File, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.EndedAt == nil {
		return nil, fault.New(fault.Conflict, "the recording is still being made; download it after the broadcast ends")
	}
	if !s.HasLocal(id) {
		return nil, fault.New(fault.NotFound, "this node does not hold the recording's files")
	}
	for range 3 {
		if f := s.openDownload(id); f != nil {
			s.markServed(id, false)
			return f, nil
		}
		s.mu.Lock()
		m := s.making[id]
		mine := m == nil
		if mine {
			m = &making{done: make(chan struct{})}
			s.making[id] = m
		}
		s.mu.Unlock()
		if mine {
			// Made for every request that waits, and kept for the next:
			// the client that asked first going away does not stop it.
			mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DownloadMakeTimeout)
			stop := context.AfterFunc(s.cfg.Life, cancel)
			m.err = s.makeDownload(mctx, id)
			stop()
			cancel()
			s.mu.Lock()
			delete(s.making, id)
			s.mu.Unlock()
			close(m.done)
		} else {
			select {
			case <-m.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if m.err != nil {
			return nil, m.err
		}
	}
	// Made three times and changed each time: a reconnect keeps changing it.
	return nil, fault.New(fault.Conflict, "the recording changed while its MP4 was made; try again")
}

// openDownload opens recording id's MP4 when it was made from its current
// playlist (nil otherwise).
func (s *Service) openDownload(id string) *os.File {
	dir := s.dirOf(id)
	pl, err := os.Stat(filepath.Join(dir, PlaylistName))
	if err != nil {
		return nil
	}
	f, err := os.Open(filepath.Join(dir, downloadFile))
	if err != nil {
		return nil
	}
	if fi, err := f.Stat(); err != nil || !fi.ModTime().Equal(pl.ModTime()) {
		_ = f.Close()
		return nil
	}
	return f
}

// makeDownload remuxes recording id's playlist into its MP4: into a file
// of its own, renamed into place once complete, with the playlist's mtime.
func (s *Service) makeDownload(ctx context.Context, id string) error {
	dir := s.dirOf(id)
	pl := filepath.Join(dir, PlaylistName)
	info, err := os.Stat(pl)
	if err != nil {
		return fault.New(fault.NotFound, "this node does not hold the recording's files")
	}
	if entries, _ := s.loadEntries(id); len(entries) == 0 {
		// A broadcast that ended (or a node that was killed) before the
		// first segment: there is nothing to remux.
		return fault.New(fault.NotFound, "the recording has no video")
	}
	if ok, _ := s.diskOK(); !ok {
		return fault.New(fault.Unavailable, "the recordings disk is nearly full: no new downloads until space is freed")
	}
	release, err := s.startJob(ctx)
	if err != nil {
		return err
	}
	defer release()
	tmp := filepath.Join(dir, downloadFile+".tmp-"+identity.NewID())
	defer func() { _ = os.Remove(tmp) }()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, s.cfg.FFmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
		"-allowed_extensions", "ALL", "-i", pl, "-map", "0:v?", "-map", "0:a?", "-c", "copy", "-bsf:a", "aac_adtstoasc",
		"-movflags", "+faststart", "-f", "mp4", tmp)
	transcode.DieWithParent(cmd)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("recording: remux: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if err := os.Chtimes(tmp, info.ModTime(), info.ModTime()); err != nil {
		return fmt.Errorf("recording: remux: %w", err)
	}
	// Served from now on: a sweep does not take it as an old one.
	s.markServed(id, true)
	if err := os.Rename(tmp, filepath.Join(dir, downloadFile)); err != nil {
		return fmt.Errorf("recording: remux: %w", err)
	}
	return nil
}

// ClipDir is where clips are stored.
func (s *Service) clipPath(id string) string { return filepath.Join(s.cfg.Dir, "clips", id+".mp4") }

// MakeClip cuts [start, end) of a recording (also one being made) into an
// MP4 by stream copy: the cut snaps to the keyframe at or before start.
// A *CutElsewhere error names the node holding the recording's files,
// which cuts it (cutpeer.go).
func (s *Service) MakeClip(ctx context.Context, recordingID string, start, end time.Duration, title, by string) (*Clip, error) {
	return s.makeClip(ctx, CutRequest{ID: identity.NewID(), RecordingID: recordingID, Start: start, End: end, Title: title, By: by}, true)
}

// makeClip is MakeClip of cut; forward: a cut of another node's files is
// a *CutElsewhere (else refused as Unavailable).
func (s *Service) makeClip(ctx context.Context, cut CutRequest, forward bool) (*Clip, error) {
	start, end, title := cut.Start, cut.End, cut.Title
	r, err := s.Get(ctx, cut.RecordingID)
	if err != nil {
		return nil, err
	}
	if start < 0 || end <= start {
		return nil, fault.New(fault.Invalid, "a clip needs 0 <= start < end")
	}
	if end-start > s.cfg.MaxClip {
		return nil, fault.Newf(fault.Invalid, "a clip is at most %s long", s.cfg.MaxClip)
	}
	if len(title) > 500 {
		return nil, fault.New(fault.Invalid, "title too long (at most 500 bytes)")
	}
	if !s.HasLocal(r.ID) {
		if forward && s.linked() && r.NodeID != "" && r.NodeID != s.cfg.NodeID {
			return nil, &CutElsewhere{Node: r.NodeID, Cut: cut}
		}
		return nil, fault.New(fault.Unavailable, "this recording's files are on another node; clips are cut where they are")
	}
	entries, err := s.loadEntries(r.ID)
	if err != nil || len(entries) == 0 {
		return nil, fault.New(fault.Invalid, "the recording has no video yet")
	}
	var total time.Duration
	for _, e := range entries {
		total += e.dur
	}
	if start >= total {
		return nil, fault.Newf(fault.Invalid, "start is past the recording's end (%.1f s)", total.Seconds())
	}
	end = min(end, total)
	// A snapshot playlist of the segments the clip covers: the recording
	// may still grow while ffmpeg reads.
	sub, skip := window(entries, start, end)
	snap := filepath.Join(s.dirOf(r.ID), clipSnapPrefix+identity.NewID()+".m3u8")
	if err := os.WriteFile(snap, render(sub, true), 0o640); err != nil {
		return nil, err
	}
	defer func() { _ = os.Remove(snap) }()
	c := &Clip{ID: cut.ID, StageID: r.StageID, RecordingID: r.ID, Title: strings.TrimSpace(title), Offset: start,
		Duration: end - start, CreatedBy: cut.By, CreatedAt: s.cfg.Now().UTC()}
	if err := s.cut(ctx, snap, skip, c); err != nil {
		return nil, err
	}
	return c, nil
}

// window picks the entries that [start, end) covers, and how far into the
// first of them start is. ffmpeg seeks an HLS playlist by timestamp, and a
// broadcast continued after a reconnect (a discontinuity) starts its
// timestamps again, so a seek across one would find nothing and cut an
// empty MP4: the clip's playlist starts at the segment holding start
// instead, and the seek stays within it.
func window(entries []entry, start, end time.Duration) (sub []entry, skip time.Duration) {
	var at time.Duration
	first := len(entries)
	for i, e := range entries {
		if at+e.dur > start {
			first = i
			break
		}
		at += e.dur
	}
	if first == len(entries) {
		return entries, start
	}
	last := first
	for pos := at + entries[first].dur; last+1 < len(entries) && pos < end; last++ {
		pos += entries[last+1].dur
	}
	sub = append([]entry(nil), entries[first:last+1]...)
	sub[0].disc = false
	return sub, start - at
}

// minSeek is the least seek into a clip's first segment that cut asks
// ffmpeg for; a shorter one starts the clip at the segment's start.
const minSeek = time.Second

// cut writes c's MP4 from a playlist (stream copy from the keyframe at or
// before seek into it) and stores the clip.
func (s *Service) cut(ctx context.Context, playlist string, seek time.Duration, c *Clip) error {
	if ok, _ := s.diskOK(); !ok {
		return fault.New(fault.Unavailable, "the recordings disk is nearly full: no clips until space is freed")
	}
	// The budget is kept in the store, so an account cutting through
	// several nodes (each cutting where the source is) spends one budget.
	if n := s.cfg.ClipsPerHour; n > 0 && c.CreatedBy != "" {
		ok, retry, err := s.st.TakeClip(ctx, c.CreatedBy, n, time.Hour/time.Duration(n), s.cfg.Now())
		if err != nil {
			return fmt.Errorf("recording: clip budget: %w", err)
		}
		if !ok {
			return &fault.Error{Kind: fault.RateLimited, Msg: fmt.Sprintf("at most %d clips an hour; try again later", n), RetryAfter: retry}
		}
	}
	release, err := s.startJob(ctx)
	if err != nil {
		return err
	}
	defer release()
	c.NodeID = s.cfg.NodeID
	out := s.clipPath(c.ID)
	tmp := out + ".tmp"
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}
	length := c.Duration
	if seek < minSeek {
		// ffmpeg's HLS demuxer drops a stream whose first packet comes
		// after the seek target (a segment whose audio starts a few ms
		// before its video: the clip had no video at all), so a seek this
		// close to the first segment's start (a keyframe) is not made:
		// the clip starts there, at most minSeek early, and still ends
		// where it should.
		length += seek
	} else {
		args = append(args, "-ss", fmt.Sprintf("%.3f", seek.Seconds()))
	}
	args = append(args, "-i", playlist, "-t", fmt.Sprintf("%.3f", length.Seconds()),
		"-map", "0:v?", "-map", "0:a?", "-c", "copy", "-bsf:a", "aac_adtstoasc", "-movflags", "+faststart", "-f", "mp4", tmp)
	cmd := exec.CommandContext(cctx, s.cfg.FFmpeg(), args...)
	transcode.DieWithParent(cmd)
	if b, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return fault.Wrap(fault.Unavailable, "the clip could not be cut", fmt.Errorf("%w: %s", err, b))
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	if fi, err := os.Stat(out); err == nil {
		c.Size = fi.Size()
	}
	if err := s.st.CreateClip(ctx, c); err != nil {
		_ = os.Remove(out)
		return err
	}
	return nil
}

// LiveSource lists a live stage's recent source segments (live.Service).
type LiveSource interface {
	RecentSegments(stageID string) ([]live.LiveSegment, error)
	// IngestNode names the other node running the stage's broadcast (""
	// when it runs here or nowhere).
	IngestNode(stageID string) string
	// Stages lists every stage (SweepGoneStages).
	Stages(ctx context.Context) ([]*live.Stage, error)
}

// MakeLiveClip cuts the last `last` of a live stage into a clip: from the
// recording being made when the stage records, else from the segments the
// live origin still keeps (the playlist's, a few tens of seconds).
// A *CutElsewhere error names the node running the stage's ingest, which
// cuts it (cutpeer.go).
func (s *Service) MakeLiveClip(ctx context.Context, stageID string, last time.Duration, title, by string) (*Clip, error) {
	return s.makeLiveClip(ctx, CutRequest{ID: identity.NewID(), Stage: stageID, Last: last, Title: title, By: by}, true)
}

// makeLiveClip is MakeLiveClip of cut; forward as for makeClip.
func (s *Service) makeLiveClip(ctx context.Context, cut CutRequest, forward bool) (*Clip, error) {
	stageID, last, title := cut.Stage, cut.Last, cut.Title
	if last <= 0 || last > s.cfg.MaxClip {
		return nil, fault.Newf(fault.Invalid, "a clip is between 0 and %s long", s.cfg.MaxClip)
	}
	if len(title) > 500 {
		return nil, fault.New(fault.Invalid, "title too long (at most 500 bytes)")
	}
	if id, ok := s.LiveRecording(stageID); ok {
		if entries, err := s.loadEntries(id); err == nil && len(entries) > 0 {
			var total time.Duration
			for _, e := range entries {
				total += e.dur
			}
			return s.makeClip(ctx, CutRequest{ID: cut.ID, RecordingID: id, Start: max(0, total-last), End: total, Title: title, By: cut.By}, false)
		}
	}
	if s.cfg.Live == nil {
		return nil, fault.New(fault.Invalid, "no stream is live")
	}
	segs, err := s.cfg.Live.RecentSegments(stageID)
	if errors.Is(err, live.ErrOffline) && forward && s.linked() {
		if node := s.cfg.Live.IngestNode(stageID); node != "" {
			return nil, &CutElsewhere{Node: node, Cut: cut}
		}
	}
	if err != nil {
		return nil, err
	}
	// The newest segments covering `last`, linked into a scratch directory
	// (the origin deletes old ones while ffmpeg reads).
	var total time.Duration
	first := len(segs)
	for first > 0 && total < last {
		first--
		total += segs[first].Duration
	}
	if first == len(segs) {
		return nil, fault.New(fault.Invalid, "the stream has no finished segment yet")
	}
	tmp, err := os.MkdirTemp(s.cfg.Dir, "live-clip-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	var entries []entry
	for i, sg := range segs[first:] {
		name := fmt.Sprintf("seg-%05d.ts", i)
		if err := linkOrCopy(sg.Path, filepath.Join(tmp, name)); err != nil {
			break // deleted meanwhile: clip what is there
		}
		entries = append(entries, entry{name: name, dur: sg.Duration, disc: sg.Discontinuity && i > 0})
	}
	if len(entries) == 0 {
		return nil, fault.New(fault.Unavailable, "the live segments are gone; try again")
	}
	total = 0
	for _, e := range entries {
		total += e.dur
	}
	pl := filepath.Join(tmp, PlaylistName)
	start := max(0, total-last)
	sub, skip := window(entries, start, total)
	if err := os.WriteFile(pl, render(sub, true), 0o640); err != nil {
		return nil, err
	}
	c := &Clip{ID: cut.ID, StageID: stageID, Title: strings.TrimSpace(title), Offset: start, Duration: total - start,
		CreatedBy: cut.By, CreatedAt: s.cfg.Now().UTC()}
	if err := s.cut(ctx, pl, skip, c); err != nil {
		return nil, err
	}
	return c, nil
}

func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o640)
}

// LiveRecording is the recording being made on a stage, if any.
func (s *Service) LiveRecording(stageID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.writers[stageID]; w != nil {
		return w.rec.ID, true
	}
	return "", false
}

// GetClip returns a clip.
func (s *Service) GetClip(ctx context.Context, id string) (*Clip, error) {
	if !validID(id) {
		return nil, fault.New(fault.NotFound, "clip not found")
	}
	c, err := s.st.Clip(ctx, id)
	if errors.Is(err, fault.NotFound) {
		return nil, fault.New(fault.NotFound, "clip not found")
	}
	return c, err
}

// Clips lists a stage's clips, newest first.
func (s *Service) Clips(ctx context.Context, stageID string) ([]*Clip, error) {
	return s.st.Clips(ctx, stageID)
}

// ClipFile is a clip's MP4.
func (s *Service) ClipFile(ctx context.Context, id string) (string, error) {
	if _, err := s.GetClip(ctx, id); err != nil {
		return "", err
	}
	return s.clipPath(id), nil
}

// SetClipMessage records the chat message that announced a clip, so
// deleting the clip edits that message; NotFound when the clip is gone.
func (s *Service) SetClipMessage(ctx context.Context, id, messageID string) error {
	if !validID(id) {
		return fault.New(fault.NotFound, "clip not found")
	}
	return s.st.SetClipMessage(ctx, id, messageID)
}

// Announce announces clip c through post (a chat message posted with the
// id it is given) and keeps the message on the clip (c.MessageID). The id
// is chosen and stored on the clip before the message is posted, so a node
// killed in between leaves a clip naming a message that never came (its
// delete edits nothing), never an announcement its clip does not know:
// that one kept linking the clip after its delete. It reports unpost when
// the clip was deleted while its message was being posted (the delete
// found no message yet to edit), for the caller to take the link out. A
// clip already deleted is not announced.
func (s *Service) Announce(ctx context.Context, c *Clip, post func(ctx context.Context, messageID string) error) (unpost bool, err error) {
	id := identity.NewID()
	if err := s.SetClipMessage(ctx, c.ID, id); err != nil {
		if errors.Is(err, fault.NotFound) {
			return false, nil
		}
		return false, err
	}
	c.MessageID = id
	if err := post(ctx, id); err != nil {
		return false, err
	}
	if _, err := s.GetClip(ctx, c.ID); errors.Is(err, fault.NotFound) {
		return true, nil
	} else if err != nil {
		return false, err
	}
	return false, nil
}

// DeleteClip removes a clip and its file, and returns the id of the chat
// message that announced it ("" when none), as the row it deleted held it:
// a Clip read before may not have it yet, its announcement being saved
// (SetClipMessage) between that read and the delete.
func (s *Service) DeleteClip(ctx context.Context, id string) (messageID string, err error) {
	if !validID(id) {
		return "", fault.New(fault.NotFound, "clip not found")
	}
	messageID, err = s.st.DeleteClip(ctx, id)
	if errors.Is(err, fault.NotFound) {
		return "", fault.New(fault.NotFound, "clip not found")
	}
	if err != nil {
		return "", err
	}
	_ = os.Remove(s.clipPath(id))
	return messageID, nil
}
