package recording_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestDownloadsShareBoundedJobSlots: a download's MP4 is remuxed by an
// ffmpeg and a public stage's recordings need no account, so remuxes share
// the node's job slots. With one slot held by the remux of one recording,
// a download of another waits JobWait and is refused as unavailable with a
// Retry-After, starting no ffmpeg, while a second download of the same
// recording waits for that remux instead of starting its own; once it
// ends, both get the same file, the slot serves the other recording, and
// later downloads open the kept files with no ffmpeg at all. The ffmpeg
// here is a stand-in script that records each start, runs until the test
// lets it finish and writes its output file (its last argument), so which
// call holds the slot is never a matter of timing.
func TestDownloadsShareBoundedJobSlots(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := filepath.Join(dir, "ffmpeg")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nmktemp "+dir+"/started.XXXXXX >/dev/null\n"+
		"while [ ! -e "+dir+"/release ]; do sleep 0.02; done\nfor a; do out=$a; done\necho \"mp4 of $3\" > \"$out\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	started := func() int {
		m, _ := filepath.Glob(filepath.Join(dir, "started.*"))
		return len(m)
	}
	db := storetest.OpenSQLite(t)
	rs, err := recording.New(recording.Config{Dir: filepath.Join(dir, "recordings"), MaxJobs: 1, JobWait: 50 * time.Millisecond,
		FFmpeg: func() string { return script }}, db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now().UTC()
	// Two finished recordings of one segment each on disk: a recording
	// without one is refused before any ffmpeg starts.
	newRecording := func() string {
		rec := &recording.Recording{ID: identity.NewID(), StageID: "s1", StartedAt: now.Add(-time.Minute), EndedAt: &now}
		if err := db.Recordings().CreateRecording(ctx, rec); err != nil {
			t.Fatal(err)
		}
		recDir := filepath.Join(dir, "recordings", rec.ID)
		if err := os.MkdirAll(recDir, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(recDir, recording.PlaylistName), []byte("#EXTM3U\n#EXTINF:2.0,\nseg-00000.ts\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(recDir, "seg-00000.ts"), []byte("not really a segment"), 0o600); err != nil {
			t.Fatal(err)
		}
		return rec.ID
	}
	one, other := newRecording(), newRecording()
	download := func(id string) (string, error) {
		f, err := rs.DownloadFile(ctx, id)
		if err != nil {
			return "", err
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		return string(b), err
	}
	type result struct {
		body string
		err  error
	}
	first, again := make(chan result, 1), make(chan result, 1)
	go func() { b, err := download(one); first <- result{b, err} }()
	waitFor(t, "the first download's ffmpeg to start", func() bool { return started() == 1 })
	release := func() {
		if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o600); err != nil && !os.IsExist(err) {
			t.Error(err)
		}
	}
	t.Cleanup(release) // no stand-in ffmpeg outlives the test
	go func() { b, err := download(one); again <- result{b, err} }()
	_, err2 := download(other)
	var fe *fault.Error
	if !errors.As(err2, &fe) || fe.Kind != fault.Unavailable || fe.RetryAfter <= 0 {
		t.Fatalf("another recording's download while the slot is held: %v, want unavailable with a Retry-After", err2)
	}
	if n := started(); n != 1 {
		t.Fatalf("%d ffmpeg processes started while the only slot was held, want 1", n)
	}
	release()
	r1, r2 := <-first, <-again
	if r1.err != nil || r2.err != nil || !strings.HasPrefix(r1.body, "mp4 of") || r1.body != r2.body {
		t.Fatalf("the two downloads of one recording: %+v %+v", r1, r2)
	}
	if b, err := download(other); err != nil || !strings.HasPrefix(b, "mp4 of") {
		t.Fatalf("a download after the slot came back: %q %v", b, err)
	}
	if n := started(); n != 2 {
		t.Fatalf("%d ffmpeg processes started, want 2 (one per recording)", n)
	}
	for _, id := range []string{one, other, one} {
		if b, err := download(id); err != nil || !strings.HasPrefix(b, "mp4 of") {
			t.Fatalf("a later download of %s: %q %v", id, b, err)
		}
	}
	if n := started(); n != 2 {
		t.Fatalf("%d ffmpeg processes started, want 2: a made MP4 is kept", n)
	}
	// A recording continued after a reconnect has a new playlist: its MP4
	// is made again, from it.
	pl := filepath.Join(dir, "recordings", one, recording.PlaylistName)
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(pl, later, later); err != nil {
		t.Fatal(err)
	}
	if b, err := download(one); err != nil || !strings.HasPrefix(b, "mp4 of") || started() != 3 {
		t.Fatalf("a download after the playlist changed: %q %v, %d ffmpeg processes (want 3)", b, err, started())
	}
	// The disk usage counts the kept MP4s.
	u, err := rs.Usage(ctx)
	if err != nil || u.UsedBytes != 2*int64(len(r1.body)) {
		t.Fatalf("usage: %+v %v, want the two MP4s' %d bytes", u, err, 2*len(r1.body))
	}
}

// TestClipsBoundedPerAccount: a clip is a file kept until someone deletes
// it, so one account cuts at most ClipsPerHour an hour (429 with a
// Retry-After past it, cutting nothing) while another still may; and no
// clip is cut while the recordings disk is below MinFreeBytes. The budget
// is the cluster's, kept in the store: a second node sharing the database
// (and, here, the recording's files) refuses the clip the first one spent.
// On every engine. The ffmpeg is a stand-in that writes its output file,
// so no media is needed.
func TestClipsBoundedPerAccount(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			clipsBoundedPerAccount(t, eng.Open(t))
		})
	}
}

func clipsBoundedPerAccount(t *testing.T, db *store.DB) {
	dir := t.TempDir()
	script := filepath.Join(dir, "ffmpeg")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nmktemp "+dir+"/started.XXXXXX >/dev/null\nfor a; do last=$a; done\necho clip > \"$last\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	started := func() int {
		m, _ := filepath.Glob(filepath.Join(dir, "started.*"))
		return len(m)
	}
	frozen := time.Now() // no refill
	cfg := recording.Config{Dir: filepath.Join(dir, "recordings"), NodeID: "a", ClipsPerHour: 2, Now: func() time.Time { return frozen },
		FFmpeg: func() string { return script }}
	rs, err := recording.New(cfg, db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfgB := cfg
	cfgB.NodeID = "b"
	nodeB, err := recording.New(cfgB, db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := frozen.UTC()
	rec := &recording.Recording{ID: identity.NewID(), StageID: "s1", StartedAt: now.Add(-time.Minute), EndedAt: &now}
	if err := db.Recordings().CreateRecording(ctx, rec); err != nil {
		t.Fatal(err)
	}
	rd := filepath.Join(cfg.Dir, rec.ID)
	if err := os.MkdirAll(rd, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rd, "seg-00000.ts"), []byte("segment"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rd, recording.PlaylistName), []byte("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\nseg-00000.ts\n#EXT-X-ENDLIST\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	clip := func(by string) error {
		_, err := rs.MakeClip(ctx, rec.ID, time.Second, 3*time.Second, "", by)
		return err
	}
	for i := range 2 {
		if err := clip("alice"); err != nil {
			t.Fatalf("clip %d: %v", i, err)
		}
	}
	var fe *fault.Error
	if err := clip("alice"); !errors.As(err, &fe) || fe.Kind != fault.RateLimited || fe.RetryAfter <= 0 {
		t.Fatalf("alice's third clip within the hour: %v, want rate limited with a Retry-After", err)
	}
	if _, err := nodeB.MakeClip(ctx, rec.ID, time.Second, 3*time.Second, "", "alice"); !errors.As(err, &fe) || fe.Kind != fault.RateLimited {
		t.Fatalf("alice's third clip, cut on another node: %v, want rate limited", err)
	}
	if n := started(); n != 2 {
		t.Fatalf("%d ffmpeg runs, want 2: a refused clip must cut nothing", n)
	}
	if err := clip("bob"); err != nil {
		t.Fatalf("bob's first clip: %v", err)
	}
	if clips, err := rs.Clips(ctx, "s1"); err != nil || len(clips) != 3 {
		t.Fatalf("clips: %d %v, want 3", len(clips), err)
	}

	// A disk below MinFreeBytes (more than any disk holds) takes no clip.
	cfg.MinFreeBytes = 1 << 62
	full, err := recording.New(cfg, db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := full.MakeClip(ctx, rec.ID, time.Second, 3*time.Second, "", "carol"); fault.KindOf(err) != fault.Unavailable {
		t.Fatalf("a clip on a full disk: %v, want unavailable", err)
	}
	if n := started(); n != 3 {
		t.Fatalf("%d ffmpeg runs, want 3: a clip on a full disk must cut nothing", n)
	}
}

// TestJobSlotsPerCaller: one caller (the address its surface names) holds
// at most JobsPerCaller of the node's ffmpeg slots: with two remuxes of its
// own running, its download of a third recording is refused at once as
// unavailable, starting no ffmpeg, while another caller's starts. Before
// the share, one address's downloads of many long recordings side by side
// held every slot, and every other download and clip waited out JobWait
// and was refused.
func TestJobSlotsPerCaller(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := filepath.Join(dir, "ffmpeg")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nmktemp "+dir+"/started.XXXXXX >/dev/null\n"+
		"while [ ! -e "+dir+"/release ]; do sleep 0.02; done\nfor a; do out=$a; done\necho \"mp4 of $3\" > \"$out\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	started := func() int {
		m, _ := filepath.Glob(filepath.Join(dir, "started.*"))
		return len(m)
	}
	var pending []<-chan error
	t.Cleanup(func() { // no stand-in, nor a remux, outlives the test
		_ = os.WriteFile(filepath.Join(dir, "release"), nil, 0o600)
		for _, p := range pending {
			<-p
		}
	})
	db := storetest.OpenSQLite(t)
	rs, err := recording.New(recording.Config{Dir: filepath.Join(dir, "recordings"), MaxJobs: 4, JobWait: time.Hour,
		FFmpeg: func() string { return script }}, db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now().UTC()
	newRecording := func() string {
		rec := &recording.Recording{ID: identity.NewID(), StageID: "s1", StartedAt: now.Add(-time.Minute), EndedAt: &now}
		if err := db.Recordings().CreateRecording(ctx, rec); err != nil {
			t.Fatal(err)
		}
		recDir := filepath.Join(dir, "recordings", rec.ID)
		if err := os.MkdirAll(recDir, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(recDir, recording.PlaylistName), []byte("#EXTM3U\n#EXTINF:2.0,\nseg-00000.ts\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(recDir, "seg-00000.ts"), []byte("not really a segment"), 0o600); err != nil {
			t.Fatal(err)
		}
		return rec.ID
	}
	attacker := ratelimit.WithTurnKey(ctx, "addr 203.0.113.7")
	download := func(ctx context.Context, id string) <-chan error {
		out := make(chan error, 1)
		go func() {
			f, err := rs.DownloadFile(ctx, id)
			if err == nil {
				f.Close()
			}
			out <- err
		}()
		pending = append(pending, out)
		return out
	}
	download(attacker, newRecording())
	download(attacker, newRecording())
	waitFor(t, "the address's two remuxes to start", func() bool { return started() == 2 })
	third := download(attacker, newRecording())
	pending = pending[:len(pending)-1] // read here
	var err3 error
	waitFor(t, "the address's third download to be answered or start an ffmpeg", func() bool {
		select {
		case err3 = <-third:
			return true
		default:
			return started() > 2
		}
	})
	if started() > 2 {
		pending = append(pending, third)
	}
	var fe *fault.Error
	if !errors.As(err3, &fe) || fe.Kind != fault.Unavailable || fe.RetryAfter <= 0 || started() != 2 {
		t.Fatalf("the address's third download: %v, %d ffmpeg processes; want unavailable with a Retry-After, 2", err3, started())
	}
	download(ratelimit.WithTurnKey(ctx, "addr 198.51.100.9"), newRecording())
	waitFor(t, "another address's remux to start", func() bool { return started() == 3 })
}
