package recording_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestClipFromASegmentStartHasVideo: a clip starting at (or just after)
// a segment's start, the usual live clip of the last n seconds, was cut
// with an ffmpeg seek to 0 into the segments, and ffmpeg's HLS demuxer
// drops a stream whose first packet comes after the seek target: segments
// whose audio starts a few ms before their video (as an encoder's or the
// transcoder's often do) gave a clip without the first segment's video,
// or with no video at all. The segments
// here are ffmpeg's own HLS output, whose audio leads by 21 ms.
func TestClipFromASegmentStartHasVideo(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	db := storetest.OpenSQLite(t)
	dir := t.TempDir()
	rs, err := recording.New(recording.Config{Dir: dir, MaxClip: 10 * time.Second}, db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := &recording.Recording{ID: identity.NewID(), StageID: "s1", StartedAt: time.Now().Add(-time.Hour).UTC()}
	rd := filepath.Join(dir, r.ID)
	if err := os.MkdirAll(rd, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x90:rate=24",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "9", "-c:v", "libx264", "-preset", "ultrafast",
		"-g", "72", "-keyint_min", "72", "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "hls", "-hls_time", "3",
		"-hls_list_size", "0", "-hls_segment_filename", filepath.Join(rd, "seg-%05d.ts"), filepath.Join(rd, "ffmpeg.m3u8")).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	pl := "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:3\n#EXT-X-MEDIA-SEQUENCE:0\n"
	for i := range 3 {
		pl += "#EXTINF:3.000,\nseg-0000" + string(rune('0'+i)) + ".ts\n"
	}
	if err := os.WriteFile(filepath.Join(rd, recording.PlaylistName), []byte(pl+"#EXT-X-ENDLIST\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	end := r.StartedAt.Add(9 * time.Second)
	r.EndedAt, r.Duration = &end, 9*time.Second
	if err := db.Recordings().CreateRecording(ctx, r); err != nil {
		t.Fatal(err)
	}
	for _, start := range []time.Duration{0, 10 * time.Millisecond, 3 * time.Second} {
		c, err := rs.MakeClip(ctx, r.ID, start, start+4*time.Second, "", "bob")
		if err != nil {
			t.Fatal(err)
		}
		f, err := rs.ClipFile(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "stream=duration", "-of", "csv=p=0", f).CombinedOutput()
		if err != nil {
			t.Fatalf("ffprobe: %v %s", err, out)
		}
		// 4 s of video, starting at most 1 s early.
		if d, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err != nil || d < 3.9 || d > 5.1 {
			t.Errorf("a clip from %s has %q s of video, want 4", start, out)
		}
	}
}
