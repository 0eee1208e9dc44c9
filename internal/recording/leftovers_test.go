package recording_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestSweepLeftovers: a node killed while it cut clips leaves a partial
// MP4 (clips/<id>.mp4.tmp), an MP4 whose clip row was never written and a
// live clip's scratch directory, and the snapshot playlist a clip of a
// recording was being cut from (<recording>/clip-*.m3u8, left for good
// before this sweep took it); one killed while it remuxed a download, a
// partial MP4 in the recording's directory (download.mp4.tmp-*); a
// recording deleted through another node (or by retention, run by one node
// for the cluster) leaves its files on the node that made it. Nothing
// served them, but they held the disk (counting in the admin's usage) for
// good. Once older than a cut can run they are removed; stored clips,
// recordings and files still
// being written stay. The crash state is written directly.
func TestSweepLeftovers(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	db := storetest.OpenSQLite(t)
	dir := t.TempDir()
	svc, err := recording.New(recording.Config{Dir: dir, Now: func() time.Time { return now }}, db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const (
		kept    = "0190c4e0-0000-7000-8000-000000000001"
		orphan  = "0190c4e0-0000-7000-8000-000000000002"
		partial = "0190c4e0-0000-7000-8000-000000000003"
		young   = "0190c4e0-0000-7000-8000-000000000004"
		rec     = "0190c4e0-0000-7000-8000-000000000005"
		gone    = "0190c4e0-0000-7000-8000-000000000006"
		fresh   = "0190c4e0-0000-7000-8000-000000000007"
	)
	if err := db.Recordings().CreateRecording(ctx, &recording.Recording{ID: rec, StageID: "s1", StartedAt: now.Add(-2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := db.Recordings().CreateClip(ctx, &recording.Clip{ID: kept, StageID: "s1", Duration: time.Second, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	write := func(rel string, age time.Duration) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, 1000), 0o640); err != nil {
			t.Fatal(err)
		}
		at := now.Add(-age)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(filepath.Dir(p), at, at); err != nil {
			t.Fatal(err)
		}
	}
	write("clips/"+kept+".mp4", time.Hour)
	write("clips/"+orphan+".mp4", time.Hour)          // renamed, killed before the row
	write("clips/"+partial+".mp4.tmp", time.Hour)     // ffmpeg cut off
	write("clips/"+young+".mp4.tmp", time.Minute)     // a cut under way
	write("live-clip-123456/seg-00000.ts", time.Hour) // a live clip's scratch
	write(rec+"/seg-00000.ts", time.Hour)             // a recording's files
	write(rec+"/download.mp4", time.Hour)             // its MP4, made for a download
	write(rec+"/download.mp4.tmp-a", 2*time.Hour)     // a remux cut off
	write(rec+"/download.mp4.tmp-b", 20*time.Minute)  // a remux of a long recording under way
	write(rec+"/clip-a.m3u8", time.Hour)              // a clip's snapshot, its cut killed
	write(rec+"/clip-b.m3u8", time.Minute)            // a clip being cut
	write(gone+"/seg-00000.ts", time.Hour)            // deleted through another node
	write(fresh+"/seg-00000.ts", time.Minute)         // a recording starting (no row yet)
	before, err := svc.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := svc.SweepLeftovers(ctx); n != 6 {
		t.Errorf("removed %d, want 6", n)
	}
	var left []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			left = append(left, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(left)
	want := []string{rec + "/seg-00000.ts", rec + "/download.mp4", rec + "/download.mp4.tmp-b", rec + "/clip-b.m3u8", fresh + "/seg-00000.ts", "clips/" + kept + ".mp4", "clips/" + young + ".mp4.tmp"}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Fatalf("left %v, want %v", left, want)
	}
	after, err := svc.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before.UsedBytes-after.UsedBytes != 2000 {
		t.Errorf("usage %d -> %d: the leftovers' 2000 bytes should be gone", before.UsedBytes, after.UsedBytes)
	}
}
