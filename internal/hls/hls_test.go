package hls

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

func needFFmpeg(t testing.TB) {
	t.Helper()
	for _, b := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skip(b + " not installed (.ci/run installs it)")
		}
	}
}

// testTS has ffmpeg write secs seconds of MPEG-TS with a keyframe every
// gop frames at fps.
func testTS(t testing.TB, secs, fps, gop int, audio bool) []byte {
	t.Helper()
	args := []string{"-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=" + strconv.Itoa(fps)}
	if audio {
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-c:a", "aac")
	}
	args = append(args, "-t", strconv.Itoa(secs), "-c:v", "libx264", "-preset", "ultrafast", "-g", strconv.Itoa(gop),
		"-keyint_min", strconv.Itoa(gop), "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-f", "mpegts", "pipe:1")
	out, err := exec.Command("ffmpeg", args...).Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	return out
}

func TestSegmenterCutsAtKeyframes(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	cases := []struct {
		name        string
		fps, gop    int
		target      time.Duration
		wantSegs    int
		wantSeconds float64
	}{
		{"1 s keyframes, 2 s target", 30, 30, 2 * time.Second, 3, 2},
		{"1 s keyframes, 1 s target", 25, 25, time.Second, 6, 1},
		{"keyframes every 1.5 s, 3 s target", 20, 30, 3 * time.Second, 2, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := testTS(t, 6, tc.fps, tc.gop, true)
			var segs []Segment
			s := &Segmenter{Target: tc.target, PartTarget: 200 * time.Millisecond, Emit: func(sg Segment) { segs = append(segs, sg) }}
			// Feed in odd-sized writes, as a pipe delivers.
			rng := rand.New(rand.NewPCG(1, 2))
			for b := ts; len(b) > 0; {
				n := min(len(b), 1+rng.IntN(5000))
				if _, err := s.Write(b[:n]); err != nil {
					t.Fatal(err)
				}
				b = b[n:]
			}
			s.Flush()
			full := 0
			for i, sg := range segs[:len(segs)-1] {
				if d := sg.Duration.Seconds(); d < tc.wantSeconds-0.01 || d > tc.wantSeconds+0.01 {
					t.Fatalf("segment %d lasts %.3f s, want %.1f", i, d, tc.wantSeconds)
				}
				full++
			}
			if full+1 < tc.wantSegs {
				t.Fatalf("%d segments, want about %d", len(segs), tc.wantSegs)
			}
			// Each segment decodes on its own (tables first, keyframe first);
			// ffprobe checks the first two and the last.
			dir := t.TempDir()
			for i, sg := range segs {
				if len(sg.Data)%tsPacket != 0 || sg.Data[0] != 0x47 || len(sg.Parts) == 0 || !sg.Parts[0].Independent {
					t.Fatalf("segment %d malformed (%d bytes, %d parts)", i, len(sg.Data), len(sg.Parts))
				}
				if i >= 2 && i != len(segs)-1 {
					continue
				}
				p := filepath.Join(dir, strconv.Itoa(i)+".ts")
				if err := os.WriteFile(p, sg.Data, 0o600); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=key_frame",
					"-read_intervals", "%+#1", "-of", "csv=p=0", p).CombinedOutput()
				if err != nil || !strings.HasPrefix(strings.TrimSpace(string(out)), "1") {
					t.Fatalf("segment %d does not start with a decodable keyframe: %v %q", i, err, out)
				}
			}
		})
	}
}

func TestSegmenterSurvivesGarbage(t *testing.T) {
	t.Parallel()
	var n int
	s := &Segmenter{Target: time.Second, Emit: func(Segment) { n++ }}
	junk := make([]byte, 50000)
	for i := range junk {
		junk[i] = byte(i * 31)
	}
	if _, err := s.Write(junk); err != nil {
		t.Fatal(err)
	}
	s.Discontinuity()
	s.Flush()
	if n != 0 {
		t.Fatalf("garbage produced %d segments", n)
	}
}

func TestVariantPlaylistAndCleanup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o, err := NewOrigin(OriginConfig{Dir: dir, KeepExtra: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(o.Master()), "0/stream.m3u8") {
		t.Fatalf("offline master: %s", o.Master())
	}
	o.SetStartOffset(-2 * time.Second)
	segs, err := o.Begin([]VariantSpec{{Bandwidth: 1000, Width: 640, Height: 360}}, time.Second, 3)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := o.Variant(0)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 8; i++ {
		seg := Segment{Data: bytes.Repeat([]byte{0x47}, tsPacket*10), Duration: 1001 * time.Millisecond, Start: start.Add(time.Duration(i) * time.Second),
			Discontinuity: i == 5}
		v.Add(seg)
	}
	_ = segs
	pl := string(v.Playlist())
	for _, want := range []string{"#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:1", "#EXT-X-MEDIA-SEQUENCE:5", "#EXT-X-INDEPENDENT-SEGMENTS",
		"#EXT-X-START:TIME-OFFSET=-2.000", "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:05.000Z\n#EXTINF:1.001,\nstream-",
		"-7.ts"} {
		if !strings.Contains(pl, want) {
			t.Fatalf("playlist lacks %q:\n%s", want, pl)
		}
	}
	if strings.Count(pl, "#EXTINF") != 3 {
		t.Fatalf("want 3 segments listed:\n%s", pl)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "0", "stream-*.ts"))
	if len(files) != 5 { // 3 listed + 2 kept
		t.Fatalf("%d segment files on disk, want 5", len(files))
	}
	if _, ok := v.SegmentPath(filepath.Base(files[0])); !ok {
		t.Fatal("kept segment not servable")
	}
	for _, bad := range []string{"../x", "stream-../../a.ts", "stream.m3u8", "stream-zz-0.ts"} {
		if _, ok := v.SegmentPath(bad); ok {
			t.Fatalf("%q servable", bad)
		}
	}
	m := string(o.Master())
	if !strings.Contains(m, "RESOLUTION=640x360") || !strings.Contains(m, "BANDWIDTH=") {
		t.Fatalf("master: %s", m)
	}
	o.End()
	if pl := string(v.Playlist()); !strings.HasSuffix(pl, "#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\noffline.ts\n#EXT-X-ENDLIST\n") {
		t.Fatalf("offline playlist:\n%s", pl)
	}
}

// TestS3Offload uploads segments and playlists to an in-process S3 fake
// and checks keys, content types and the rewritten master playlist.
func TestS3Offload(t *testing.T) {
	t.Parallel()
	backend := s3mem.New()
	if err := backend.CreateBucket("media"); err != nil {
		t.Fatal(err)
	}
	// The bucket fails every third request: uploads must be retried.
	fake := gofakes3.New(backend).Server()
	var calls, failed atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%3 == 0 {
			failed.Add(1)
			http.Error(w, "<Error><Code>InternalError</Code></Error>", http.StatusInternalServerError)
			return
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	cfg := S3Config{Enabled: true, Endpoint: srv.URL, AccessKey: "k", Secret: "s", Bucket: "media", Region: "us-east-1",
		PathPrefix: "/show/", ForcePathStyle: true, ACL: "public-read"}
	up, err := NewUploader(cfg, "hls/", nil)
	if err != nil {
		t.Fatal(err)
	}
	up.wait = 5 * time.Millisecond // first retry delay (250 ms in production)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = up.Run(ctx) }()
	o, err := NewOrigin(OriginConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	o.SetUploader(up, cfg.BaseURL())
	if _, err := o.Begin([]VariantSpec{{Bandwidth: 1000}}, time.Second, 2); err != nil {
		t.Fatal(err)
	}
	v, _ := o.Variant(0)
	for i := 0; i < 15; i++ {
		v.Add(Segment{Data: bytes.Repeat([]byte{0x47}, tsPacket), Duration: time.Second, Start: time.Now()})
	}
	deadline := time.Now().Add(hangGuard)
	for !up.Idle() {
		if time.Now().After(deadline) {
			t.Fatal("uploads did not finish")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if done, gaveUp := up.Stats(); gaveUp != 0 || done < 30 || failed.Load() == 0 {
		t.Fatalf("uploads: %d done, %d given up, %d failed requests", done, gaveUp, failed.Load())
	}
	get := func(key string) (*gofakes3.Object, error) { return backend.GetObject("media", key, nil) }
	obj, err := get("show/hls/0/stream.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(obj.Contents)
	if !strings.Contains(string(body), "-14.ts") || obj.Metadata["Content-Type"] != PlaylistContentType {
		t.Fatalf("playlist object: %v\n%s", obj.Metadata, body)
	}
	if seg, err := get("show/hls/0/" + lastName(string(body))); err != nil || seg.Metadata["Content-Type"] != SegmentContentType {
		t.Fatalf("segment object: %v %v", err, seg)
	}
	// Old segments were deleted remotely (2 listed + 10 kept).
	if _, err := get("show/hls/0/" + strings.Replace(lastName(string(body)), "-14.ts", "-0.ts", 1)); err == nil {
		t.Fatal("old segment still in the bucket")
	}
	master, err := get("show/hls/stream.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(master.Contents)
	if !strings.Contains(string(mb), srv.URL+"/media/show/hls/0/stream.m3u8") || !strings.Contains(string(o.Master()), srv.URL+"/media/show/hls/0/stream.m3u8") {
		t.Fatalf("master not rewritten to the bucket:\n%s", mb)
	}
}

func lastName(pl string) string {
	var last string
	for _, l := range strings.Split(pl, "\n") {
		if strings.HasSuffix(l, ".ts") {
			last = l
		}
	}
	return last
}

func TestS3ConfigValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		c  S3Config
		ok bool
	}{
		{S3Config{}, true},
		{S3Config{Enabled: true, Endpoint: "s3.example.com", Bucket: "b"}, true},
		{S3Config{Enabled: true, Bucket: "b"}, false},
		{S3Config{Enabled: true, Endpoint: "ftp://x", Bucket: "b"}, false},
		{S3Config{Enabled: true, Endpoint: "https://x", Bucket: "b", ServingEndpoint: "javascript:x"}, false},
	}
	for i, tc := range cases {
		if err := tc.c.Validate(); (err == nil) != tc.ok {
			t.Fatalf("case %d: %v", i, err)
		}
	}
}

func BenchmarkSegmenter(b *testing.B) {
	needFFmpeg(b)
	ts := testTS(b, 10, 30, 30, true)
	b.SetBytes(int64(len(ts)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := &Segmenter{Target: time.Second, PartTarget: 200 * time.Millisecond, Emit: func(Segment) {}}
		for p := ts; len(p) > 0; {
			n := min(len(p), 65536)
			_, _ = s.Write(p[:n])
			p = p[n:]
		}
		s.Flush()
	}
}

func TestPartNames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		ok       bool
		id       string
		seq, idx int
	}{
		{"stream-ab12-7.3.ts", true, "ab12", 7, 3},
		{"stream-ab12-7.ts", false, "", 0, 0},
		{"stream-ab12-7.3.4.ts", false, "", 0, 0},
		{"stream-ab12--1.0.ts", false, "", 0, 0},
		{"stream-ab12-x.0.ts", false, "", 0, 0},
		{"../stream-a-1.0.ts", false, "", 0, 0},
		{"stream-a-1.0.mp4", false, "", 0, 0},
	}
	for _, c := range cases {
		id, seq, idx, ok := parsePartName(c.name)
		if ok != c.ok || (ok && (id != c.id || seq != c.seq || idx != c.idx)) {
			t.Fatalf("%s: %q %d %d %v", c.name, id, seq, idx, ok)
		}
	}
}

// TestOfflineClipNotCopiedPerStage: a new origin (every stage channel has
// one, and a member may make hundreds) lists the offline clip but writes no
// copy of it (34 KiB each, 6.5 GB for one account's 100,000 stage
// channels), and removes a copy an earlier version left; the clip is
// served from OfflineClip.
func TestOfflineClipNotCopiedPerStage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "0"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "0", OfflineName), OfflineClip, 0o640); err != nil {
		t.Fatal(err)
	}
	o, err := NewOrigin(OriginConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	v, ok := o.Variant(0)
	if !ok || !strings.Contains(string(v.Playlist()), OfflineName) {
		t.Fatal("the offline playlist does not list the clip")
	}
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Fatalf("files in a new stage's directory: %v, want none", files)
	}
	if _, ok := v.SegmentPath(OfflineName); ok {
		t.Fatal("the offline clip has a file path")
	}
}
