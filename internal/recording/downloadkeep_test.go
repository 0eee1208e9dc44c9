package recording_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestSweepDownloads: a recording's download MP4 takes about the
// recording's size again and was kept until the recording went, outside
// the stage's maxBytes, so anyone who may download a stage's recordings
// could double the disk they use. A node now removes the MP4s nobody
// downloaded for DownloadKeep (a download notes it at most once a minute,
// in a file, not the database), and keeps a stage's recordings and MP4s
// within its maxBytes by removing MP4s, least recently served first,
// pinned recordings' too, before retention would delete any recording. A
// download reading a removed MP4 reads it to its end, and the next
// download makes it again; an MP4 made before the notes were kept gets
// DownloadKeep from the first sweep; other stages and MP4s being read
// stay. On every engine (limits and sizes come from the store). The
// ffmpeg is a stand-in that writes 400 bytes, so no media is needed.
func TestSweepDownloads(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			sweepDownloads(t, eng.Open(t))
		})
	}
}

func sweepDownloads(t *testing.T, db *store.DB) {
	dir := t.TempDir()
	script := filepath.Join(dir, "ffmpeg")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nmktemp "+dir+"/started.XXXXXX >/dev/null\n"+
		"for a; do out=$a; done\nhead -c 400 /dev/zero | tr '\\0' x > \"$out\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	started := func() int {
		m, _ := filepath.Glob(filepath.Join(dir, "started.*"))
		return len(m)
	}
	var clock atomic.Int64
	t0 := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)
	clock.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	at := func(d time.Duration) { clock.Store(t0.Add(d).UnixNano()) }
	recs := filepath.Join(dir, "recordings")
	rs, err := recording.New(recording.Config{Dir: recs, FFmpeg: func() string { return script }, Now: now}, db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	newRecording := func(stage string, size int64, pinned bool) string {
		end := t0.Add(-time.Hour)
		rec := &recording.Recording{ID: identity.NewID(), StageID: stage, StartedAt: end.Add(-time.Hour), EndedAt: &end,
			Size: size, Pinned: pinned}
		if err := db.Recordings().CreateRecording(ctx, rec); err != nil {
			t.Fatal(err)
		}
		recDir := filepath.Join(recs, rec.ID)
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
	mp4 := func(id string) string { return filepath.Join(recs, id, "download.mp4") }
	has := func(id string) bool { _, err := os.Stat(mp4(id)); return err == nil }
	download := func(id string) string {
		t.Helper()
		f, err := rs.DownloadFile(ctx, id)
		if err != nil {
			t.Fatalf("download of %s: %v", id, err)
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil || len(b) != 400 {
			t.Fatalf("download of %s: %d bytes, %v", id, len(b), err)
		}
		return string(b)
	}

	// Not downloaded for DownloadKeep (24 h): removed. Downloaded since:
	// kept.
	old, recent, legacy := newRecording("s1", 1000, false), newRecording("s1", 1000, false), newRecording("s1", 1000, false)
	download(old)
	// A download of it still under way when its MP4 is removed (below).
	reading, err := rs.DownloadFile(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	defer reading.Close()
	download(recent)
	// An MP4 made before downloads were noted: no note beside it.
	pl, err := os.Stat(filepath.Join(recs, legacy, recording.PlaylistName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mp4(legacy), make([]byte, 400), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(mp4(legacy), pl.ModTime(), pl.ModTime()); err != nil {
		t.Fatal(err)
	}
	at(time.Hour)
	if n := rs.SweepDownloads(ctx); n != 0 || !has(old) || !has(recent) || !has(legacy) {
		t.Fatalf("a sweep an hour on removed %d (old %v, recent %v, legacy %v), want none", n, has(old), has(recent), has(legacy))
	}
	// The note is written once a minute at most: a player's range
	// requests do not each write.
	note := filepath.Join(recs, recent, "download.mp4.served")
	noted := func() time.Time {
		fi, err := os.Stat(note)
		if err != nil {
			t.Fatal(err)
		}
		return fi.ModTime().UTC()
	}
	at(23 * time.Hour)
	download(recent)
	at(23*time.Hour + 30*time.Second)
	download(recent)
	if got := noted(); !got.Equal(t0.Add(23 * time.Hour)) {
		t.Fatalf("noted at %v, want the first of two downloads 30 s apart (%v)", got, t0.Add(23*time.Hour))
	}
	at(23*time.Hour + 61*time.Second)
	download(recent)
	if got := noted(); !got.Equal(t0.Add(23*time.Hour + 61*time.Second)) {
		t.Fatalf("noted at %v, want the download a minute later", got)
	}
	at(25 * time.Hour)
	if n := rs.SweepDownloads(ctx); n != 1 || has(old) || !has(recent) || !has(legacy) {
		t.Fatalf("a sweep 25 h on removed %d (old %v, recent %v, legacy %v), want the old one", n, has(old), has(recent), has(legacy))
	}
	// The download under way since t0 reads the removed MP4 to its end.
	if b, err := io.ReadAll(reading); err != nil || len(b) != 400 {
		t.Fatalf("the download reading the removed MP4: %d bytes, %v", len(b), err)
	}
	before := started()
	download(old)
	if started() != before+1 || !has(old) {
		t.Fatalf("the next download of a removed MP4: %d ffmpeg runs, want one more (%d)", started(), before+1)
	}
	at(26 * time.Hour)
	if n := rs.SweepDownloads(ctx); n != 1 || has(legacy) || !has(old) || !has(recent) {
		t.Fatalf("24 h after the first sweep saw it, the unnoted MP4: removed %d, left %v", n, has(legacy))
	}

	// A stage with maxBytes: its recordings (unpinned) and its MP4s
	// (pinned recordings' too) fit in it once the least recently served
	// MP4s are gone; retention then deletes no recording.
	first, second, pinned := newRecording("s2", 1000, false), newRecording("s2", 1000, false), newRecording("s2", 5000, true)
	other := newRecording("s3", 1000, false)
	download(pinned)
	at(26*time.Hour + 2*time.Minute)
	download(first)
	at(26*time.Hour + 4*time.Minute)
	download(second)
	download(other)
	for _, set := range []recording.StageSettings{{StageID: "s2", MaxBytes: 2500}, {StageID: "s3", MaxBytes: 1000}} {
		if err := rs.SetSettings(ctx, &set); err != nil {
			t.Fatal(err)
		}
	}
	// 2000 + 3 × 400 > 2500: the pinned one's MP4 goes, then first's;
	// and s3's, as its recordings alone fill its maxBytes.
	if n := rs.SweepDownloads(ctx); n != 3 || has(pinned) || has(first) || !has(second) {
		t.Fatalf("over maxBytes: removed %d (pinned %v, first %v, second %v), want pinned's and first's", n, has(pinned), has(first), has(second))
	}
	if has(other) || !has(old) || !has(recent) {
		t.Fatalf("an MP4 past its stage's maxBytes stayed (%v), or one of a stage without a limit went", has(other))
	}
	if gone := rs.ApplyRetention(ctx); len(gone) != 0 {
		t.Fatalf("retention deleted %v: the MP4s should have made the room", gone)
	}
	if n := rs.SweepDownloads(ctx); n != 0 || !has(second) {
		t.Fatalf("a stage within maxBytes: removed %d", n)
	}
	if !bytes.Equal([]byte(download(first)), bytes.Repeat([]byte("x"), 400)) {
		t.Fatal("the MP4 made again differs")
	}
}
