package recording

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/disk"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/hls"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/ratelimit"
)

// Config tunes the service.
type Config struct {
	Dir    string // recordings live in <Dir>/<id>/, clips in <Dir>/clips/
	NodeID string // this node (stable across restarts: open recordings of it are closed at start)
	// DefaultEnabled records stages whose own setting is unset.
	DefaultEnabled bool
	// ReconnectWindow: a broadcast that starts this soon after the last one
	// on the stage ended continues its recording.
	ReconnectWindow time.Duration
	MaxClip         time.Duration // the longest clip
	// ClipsPerHour bounds the clips one account cuts (default 30, burst
	// as many; negative: no bound): a clip is a file kept until deleted.
	// The budget is kept in the store (Store.TakeClip), one per account
	// for the whole cluster.
	ClipsPerHour int
	// MinFreeBytes: recording stops (the live stream goes on) when the
	// disk holding Dir has less free space.
	MinFreeBytes   int64
	Lease          time.Duration // how long an open recording is this node's without news
	RetentionEvery time.Duration
	FFmpeg         func() string
	Now            func() time.Time
	// Live lists a live stage's recent segments for clips of a stage that
	// is not recording (nil: such clips are refused).
	Live LiveSource
	// Objects is the S3 bucket ready recordings are copied to, read at
	// each use (nil, or a nil result: no S3).
	Objects func() ObjectStore
	// Peers finds the node holding a recording's files when neither this
	// node nor S3 has them (nil: such requests answer 404); PeerKey,
	// shared by every node, signs the requests between nodes.
	Peers   Peers
	PeerKey []byte
	// MaxJobs bounds the ffmpeg jobs requests start at once on this node
	// (a download's remux, a clip's cut; default max(4, 2 × cores)), and
	// JobWait how long a request waits for one (default 15 s).
	MaxJobs int
	JobWait time.Duration
	// DownloadKeep: a recording's download MP4 not served for this long
	// is removed (SweepDownloads; default DefaultDownloadKeep); the next
	// download makes it again.
	DownloadKeep time.Duration
	// ClipSwept, when set, is given each clip SweepGoneStages deleted
	// that a chat message announced (Clip.MessageID, as the row deleted
	// held it), to take the clip's link (ClipFilePath) out of that
	// message where it is still there.
	ClipSwept func(ctx context.Context, c *Clip)
	// Life is the node's life: background work (thumbnails, S3 offloads
	// and removals, the store writes a broadcast's start makes) takes its
	// context from it, so shutdown cancels it. nil: context.Background()
	// (tests; app always sets it).
	Life context.Context
}

// Service is the recordings domain.
type Service struct {
	cfg  Config
	st   Store
	log  *slog.Logger
	jobs *ratelimit.Turns // slots of request-driven ffmpeg jobs (jobs.go)

	mu        sync.Mutex
	writers   map[string]*writer // open recordings by stage
	lastEnded map[string]*writer // the last finished recording by stage (reconnects)
	observers []func(Event)
	lastFull  time.Time // when recording was last refused or stopped for lack of space
	thumbs    sync.WaitGroup
	offloads  sync.WaitGroup
	cutting   sync.Map           // ids of the forwarded cuts running here (CutForPeer)
	making    map[string]*making // the recordings whose MP4 is being made (DownloadFile)
}

// Event tells observers that a recording is ready (finished and playable).
type Event struct {
	Type      string // EventReady
	Recording Recording
}

// EventReady: a recording finished (webhooks: RECORDING_READY).
const EventReady = "ready"

// New builds the service.
func New(cfg Config, st Store, log *slog.Logger) (*Service, error) {
	if st == nil || cfg.Dir == "" {
		return nil, errors.New("recording: a store and a directory are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FFmpeg == nil {
		cfg.FFmpeg = func() string { return "ffmpeg" }
	}
	if cfg.MaxClip <= 0 {
		cfg.MaxClip = 60 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Minute
	}
	if cfg.RetentionEvery <= 0 {
		cfg.RetentionEvery = 10 * time.Minute
	}
	if cfg.NodeID == "" {
		cfg.NodeID = identity.NewID()
	}
	if cfg.Life == nil {
		cfg.Life = context.Background()
	}
	if cfg.MaxJobs <= 0 {
		cfg.MaxJobs = defaultMaxJobs()
	}
	if cfg.JobWait <= 0 {
		cfg.JobWait = 15 * time.Second
	}
	if cfg.DownloadKeep <= 0 {
		cfg.DownloadKeep = DefaultDownloadKeep
	}
	if cfg.ClipsPerHour == 0 {
		cfg.ClipsPerHour = 30
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "clips"), 0o750); err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	return &Service{cfg: cfg, st: st, log: log, writers: map[string]*writer{}, lastEnded: map[string]*writer{},
		making: map[string]*making{}, jobs: ratelimit.NewTurns(cfg.MaxJobs, cfg.JobWait).PerKey(JobsPerCaller)}, nil
}

// Observe registers f for every recording event on this node.
func (s *Service) Observe(f func(Event)) {
	s.mu.Lock()
	s.observers = append(s.observers, f)
	s.mu.Unlock()
}

func (s *Service) notify(e Event) {
	s.mu.Lock()
	obs := slices.Clone(s.observers)
	s.mu.Unlock()
	for _, f := range obs {
		f(e)
	}
}

// Run closes lost recordings, then renews this node's leases, applies
// retention (once per cluster per period), removes what interrupted
// clip cuts left (SweepLeftovers) and the download MP4s nobody downloads
// or the stage's maxBytes has no room for (SweepDownloads, on this node's
// disk; both in one sweepDisk) until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	s.Recover(ctx)
	lease := time.NewTicker(s.cfg.Lease / 3)
	ret := time.NewTicker(s.cfg.RetentionEvery)
	defer lease.Stop()
	defer ret.Stop()
	s.retentionOnce(ctx)
	s.sweepDisk(ctx)
	for {
		select {
		case <-ctx.Done():
			s.thumbs.Wait()
			s.offloads.Wait()
			return nil
		case <-lease.C:
			s.renewLeases(ctx)
			s.Recover(ctx)
		case <-ret.C:
			s.retentionOnce(ctx)
			s.sweepDisk(ctx)
		}
	}
}

// sweepDisk runs SweepLeftovers, then SweepDownloads, over one listing
// of the recordings directory: each tick walks it once, not once for each.
func (s *Service) sweepDisk(ctx context.Context) {
	ents, _ := os.ReadDir(s.cfg.Dir)
	s.sweepLeftovers(ctx, ents)
	s.sweepDownloads(ctx, ents)
}

func (s *Service) renewLeases(ctx context.Context) {
	s.mu.Lock()
	ws := make([]*writer, 0, len(s.writers))
	for _, w := range s.writers {
		ws = append(ws, w)
	}
	s.mu.Unlock()
	for _, w := range ws {
		w.save(ctx, true)
	}
}

// Recover closes open recordings whose writer is gone: this node's from
// before a restart, and another node's whose lease expired when its files
// are on a disk this node shares. Each ends at its last complete segment,
// with a finished playlist.
func (s *Service) Recover(ctx context.Context) {
	open, err := s.st.OpenRecordings(ctx)
	if err != nil {
		s.log.Warn("recording: cannot list open recordings", "err", err)
		return
	}
	now := s.cfg.Now()
	for _, r := range open {
		if s.writing(r.ID) || (r.NodeID != s.cfg.NodeID && now.Before(r.LeaseUntil)) {
			continue
		}
		if _, err := os.Stat(s.dirOf(r.ID)); r.NodeID != s.cfg.NodeID && err != nil {
			// Another node's files, on its own disk: that node closes it
			// when it comes back (closing it here would lose its length).
			continue
		}
		entries, _ := s.loadEntries(r.ID)
		r.Duration, r.Size = s.measure(r.ID, entries)
		end := r.StartedAt.Add(r.Duration)
		r.EndedAt = &end
		if err := writeFileAtomic(filepath.Join(s.dirOf(r.ID), PlaylistName), render(entries, true)); err != nil {
			s.log.Warn("recording: cannot finish the playlist of a lost recording", "recording", r.ID, "err", err)
		}
		if err := s.st.UpdateRecording(ctx, r); err != nil {
			s.log.Warn("recording: cannot close a lost recording", "recording", r.ID, "err", err)
			continue
		}
		s.log.Info("recording: closed a recording whose broadcast was lost, at its last complete segment", "recording", r.ID,
			"stage", r.StageID, "segments", len(entries))
		s.notify(Event{Type: EventReady, Recording: *r})
		s.offload(r.ID)
	}
}

func (s *Service) writing(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.writers {
		if w.rec.ID == id {
			return true
		}
	}
	return false
}

// loadEntries reads a recording's playlist, keeping the segments whose file
// is there.
func (s *Service) loadEntries(id string) ([]entry, error) {
	data, err := os.ReadFile(filepath.Join(s.dirOf(id), PlaylistName))
	if err != nil {
		return nil, err
	}
	var out []entry
	for _, e := range parse(data) {
		if fi, err := os.Stat(filepath.Join(s.dirOf(id), e.name)); err == nil && fi.Size() > 0 {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *Service) measure(id string, entries []entry) (time.Duration, int64) {
	var d time.Duration
	var n int64
	for _, e := range entries {
		d += e.dur
		if fi, err := os.Stat(filepath.Join(s.dirOf(id), e.name)); err == nil {
			n += fi.Size()
		}
	}
	return d, n
}

func (s *Service) dirOf(id string) string { return filepath.Join(s.cfg.Dir, id) }

// validID keeps request ids to UUIDs (they name directories).
func validID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && !strings.ContainsAny(id, "/\\.")
}

// Settings returns a stage's recording settings.
func (s *Service) Settings(ctx context.Context, stageID string) (*StageSettings, error) {
	return s.st.RecordingSettings(ctx, stageID)
}

// Enabled reports whether a stage records.
func (s *Service) Enabled(ctx context.Context, stageID string) bool {
	set, err := s.st.RecordingSettings(ctx, stageID)
	if err != nil || set.Enabled == nil {
		return s.cfg.DefaultEnabled
	}
	return *set.Enabled
}

// SetSettings stores a stage's settings (the caller checked who may).
func (s *Service) SetSettings(ctx context.Context, set *StageSettings) error {
	if set.MaxAge < 0 || set.MaxCount < 0 || set.MaxBytes < 0 {
		return fault.New(fault.Invalid, "retention limits must not be negative")
	}
	return s.st.SetRecordingSettings(ctx, set)
}

// BroadcastStarted implements live.Recorder.
func (s *Service) BroadcastStarted(stageID, broadcastID, title string, at time.Time) live.RecordingSink {
	ctx := s.cfg.Life
	if !s.Enabled(ctx, stageID) {
		return nil
	}
	if ok, free := s.diskOK(); !ok {
		s.markFull()
		s.log.Warn("recording: the disk is full; this broadcast is not recorded (the live stream goes on)",
			"stage", stageID, "free_bytes", free, "min_free_bytes", s.cfg.MinFreeBytes)
		return nil
	}
	s.mu.Lock()
	prev := s.lastEnded[stageID]
	s.mu.Unlock()
	if prev != nil && s.cfg.ReconnectWindow > 0 && prev.rec.EndedAt != nil && at.Sub(*prev.rec.EndedAt) <= s.cfg.ReconnectWindow {
		if w := s.reopen(ctx, prev); w != nil {
			return w
		}
	}
	r := &Recording{ID: identity.NewID(), StageID: stageID, Title: title, StartedAt: at.UTC(), NodeID: s.cfg.NodeID,
		LeaseUntil: s.cfg.Now().Add(s.cfg.Lease)}
	if err := os.MkdirAll(s.dirOf(r.ID), 0o750); err != nil {
		s.log.Warn("recording: cannot create the recording's directory; not recording", "err", err)
		return nil
	}
	if err := writeFileAtomic(filepath.Join(s.dirOf(r.ID), PlaylistName), render(nil, false)); err != nil {
		s.log.Warn("recording: cannot write the playlist; not recording", "err", err)
		return nil
	}
	if err := s.st.CreateRecording(ctx, r); err != nil {
		s.log.Warn("recording: cannot store the recording; not recording", "err", err)
		_ = os.RemoveAll(s.dirOf(r.ID))
		return nil
	}
	w := &writer{svc: s, rec: r, dir: s.dirOf(r.ID)}
	s.mu.Lock()
	s.writers[stageID] = w
	s.mu.Unlock()
	s.log.Info("recording started", "stage", stageID, "recording", r.ID)
	return w
}

// reopen continues the stage's last recording after a reconnect.
func (s *Service) reopen(ctx context.Context, prev *writer) *writer {
	r, err := s.st.Recording(ctx, prev.rec.ID)
	if err != nil {
		return nil
	}
	entries, err := s.loadEntries(r.ID)
	if err != nil {
		return nil
	}
	r.EndedAt, r.NodeID, r.LeaseUntil = nil, s.cfg.NodeID, s.cfg.Now().Add(s.cfg.Lease)
	if err := s.st.UpdateRecording(ctx, r); err != nil {
		return nil
	}
	w := &writer{svc: s, rec: r, dir: s.dirOf(r.ID), entries: entries, nextDisc: len(entries) > 0, thumbDone: true}
	_ = writeFileAtomic(filepath.Join(w.dir, PlaylistName), render(entries, false))
	s.mu.Lock()
	s.writers[r.StageID] = w
	delete(s.lastEnded, r.StageID)
	s.mu.Unlock()
	s.log.Info("recording continues after a reconnect", "stage", r.StageID, "recording", r.ID)
	return w
}

// writer is one open recording; it is the live.RecordingSink.
type writer struct {
	svc *Service
	rec *Recording
	dir string

	mu        sync.Mutex
	entries   []entry
	nextDisc  bool
	stopped   bool
	ended     bool
	thumbDone bool
}

// Segment links (or copies) a finished source segment into the recording.
func (w *writer) Segment(path string, seg hls.Segment) {
	s := w.svc
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped || w.ended {
		return
	}
	if ok, free := s.diskOK(); !ok {
		w.stopped = true
		s.markFull()
		s.log.Warn("recording: the disk is full; recording stops (the live stream goes on)", "recording", w.rec.ID,
			"free_bytes", free, "min_free_bytes", s.cfg.MinFreeBytes)
		return
	}
	name := fmt.Sprintf("seg-%05d.ts", len(w.entries))
	dst := filepath.Join(w.dir, name)
	if err := os.Link(path, dst); err != nil {
		if err := writeFileAtomic(dst, seg.Data); err != nil {
			w.stopped = true
			_ = os.Remove(dst)
			s.log.Warn("recording: cannot write a segment; recording stops (the live stream goes on)", "recording", w.rec.ID, "err", err)
			return
		}
	}
	w.entries = append(w.entries, entry{name: name, dur: seg.Duration, disc: w.nextDisc || seg.Discontinuity && len(w.entries) > 0})
	w.nextDisc = false
	w.rec.Duration += seg.Duration
	w.rec.Size += int64(len(seg.Data))
	if err := writeFileAtomic(filepath.Join(w.dir, PlaylistName), render(w.entries, false)); err != nil {
		s.log.Warn("recording: cannot write the playlist", "recording", w.rec.ID, "err", err)
	}
	if !w.thumbDone {
		w.thumbDone = true
		s.thumbs.Add(1)
		go func() {
			defer s.thumbs.Done()
			s.makeThumbnail(w.rec.ID, dst)
		}()
	}
}

// End finishes the recording: a VOD playlist, the totals, ready.
func (w *writer) End(at time.Time) {
	s := w.svc
	w.mu.Lock()
	if w.ended {
		w.mu.Unlock()
		return
	}
	w.ended = true
	entries := append([]entry(nil), w.entries...)
	w.mu.Unlock()
	if err := writeFileAtomic(filepath.Join(w.dir, PlaylistName), render(entries, true)); err != nil {
		s.log.Warn("recording: cannot finish the playlist", "recording", w.rec.ID, "err", err)
	}
	// Broadcasts end at shutdown too: recording the end keeps the life's
	// values but not its end, or the recording would stay open.
	ctx := context.WithoutCancel(s.cfg.Life)
	w.mu.Lock()
	end := at.UTC()
	w.rec.EndedAt = &end
	w.rec.Duration, w.rec.Size = s.measure(w.rec.ID, entries)
	w.mu.Unlock()
	w.save(ctx, false)
	s.mu.Lock()
	if s.writers[w.rec.StageID] == w {
		delete(s.writers, w.rec.StageID)
	}
	s.lastEnded[w.rec.StageID] = w
	s.mu.Unlock()
	s.log.Info("recording ready", "stage", w.rec.StageID, "recording", w.rec.ID, "duration", w.rec.Duration)
	w.mu.Lock()
	r := *w.rec
	w.mu.Unlock()
	s.notify(Event{Type: EventReady, Recording: r})
	s.offload(r.ID)
}

// save stores the recording's progress (and renews the lease). Title and
// pinned are the API's: they are re-read so an edit is never overwritten.
func (w *writer) save(ctx context.Context, onlyOpen bool) {
	s := w.svc
	cur, err := s.st.Recording(ctx, w.rec.ID)
	if err != nil {
		return
	}
	w.mu.Lock()
	if onlyOpen && w.ended {
		w.mu.Unlock()
		return
	}
	w.rec.Title, w.rec.Pinned = cur.Title, cur.Pinned
	w.rec.LeaseUntil = s.cfg.Now().Add(s.cfg.Lease)
	if !w.ended {
		w.rec.Duration, w.rec.Size = 0, 0
		for _, e := range w.entries {
			w.rec.Duration += e.dur
		}
		w.rec.Size = sizeOf(w.dir, w.entries)
	}
	r := *w.rec
	w.mu.Unlock()
	if err := s.st.UpdateRecording(ctx, &r); err != nil {
		s.log.Warn("recording: cannot store progress", "recording", r.ID, "err", err)
	}
}

func sizeOf(dir string, entries []entry) int64 {
	var n int64
	for _, e := range entries {
		if fi, err := os.Stat(filepath.Join(dir, e.name)); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// markFull notes that recording was refused or stopped for lack of space
// (the admin's notice).
func (s *Service) markFull() {
	now := s.cfg.Now().UTC()
	s.mu.Lock()
	s.lastFull = now
	s.mu.Unlock()
}

// diskOK reports whether the recordings disk has room (unknown: yes).
func (s *Service) diskOK() (bool, int64) {
	if s.cfg.MinFreeBytes <= 0 {
		return true, 0
	}
	free, ok := disk.Free(s.cfg.Dir)
	if !ok {
		return true, 0
	}
	return free >= s.cfg.MinFreeBytes, free
}
