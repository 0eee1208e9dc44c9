package transcode

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type tag struct {
	typ  byte
	ts   uint32
	data []byte
}

func needFFmpeg(t testing.TB) {
	t.Helper()
	for _, b := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skip(b + " not installed (.ci/run installs it)")
		}
	}
}

// testFLV has ffmpeg write secs seconds of its test pattern as FLV and
// returns the tags.
func testFLV(t testing.TB, secs, fps int, size string) []tag {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.flv")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size="+size+":rate="+strconv.Itoa(fps),
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", strconv.Itoa(secs), "-c:v", "libx264", "-preset", "ultrafast",
		"-g", strconv.Itoa(fps), "-bf", "2", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseFLV(t, b)
}

func parseFLV(t testing.TB, b []byte) []tag {
	t.Helper()
	if len(b) < 13 || string(b[:3]) != "FLV" {
		t.Fatal("not an FLV file")
	}
	b = b[9+4:]
	var tags []tag
	for len(b) >= 11 {
		n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		ts := uint32(b[4])<<16 | uint32(b[5])<<8 | uint32(b[6]) | uint32(b[7])<<24
		if len(b) < 11+n+4 {
			break
		}
		tags = append(tags, tag{typ: b[0], ts: ts, data: b[11 : 11+n]})
		b = b[11+n+4:]
	}
	return tags
}

func probe(t testing.TB, path string, entries string) string {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_entries", entries, "-of", "compact", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v %s", err, out)
	}
	return string(out)
}

// TestRemuxerIsPlayable remuxes ffmpeg's FLV (H.264 with B-frames, AAC) to
// MPEG-TS in Go and has ffprobe decode every frame.
func TestRemuxerIsPlayable(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	tags := testFLV(t, 3, 30, "640x360")
	var buf bytes.Buffer
	r := NewRemuxer(&buf)
	for _, tg := range tags {
		var err error
		switch tg.typ {
		case flvTagVideo:
			err = r.Video(tg.ts, tg.data)
		case flvTagAudio:
			err = r.Audio(tg.ts, tg.data)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if buf.Len()%tsPacketSize != 0 || buf.Bytes()[0] != 0x47 {
		t.Fatalf("output is not whole TS packets (%d bytes)", buf.Len())
	}
	path := filepath.Join(t.TempDir(), "out.ts")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out := probe(t, path, "stream=codec_name,width,height,nb_read_frames")
	if !strings.Contains(out, "codec_name=h264|width=640|height=360|nb_read_frames=90") || !strings.Contains(out, "codec_name=aac") {
		t.Fatalf("ffprobe:\n%s", out)
	}
}

func TestRemuxerRefusesOtherCodecs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		video bool
		tag   []byte
	}{
		{"VP6 video", true, []byte{0x14, 0, 0}},
		{"enhanced RTMP HEVC", true, []byte{0x90, 'h', 'v', 'c', '1'}},
		{"MP3 audio", false, []byte{0x2f, 0xff}},
		{"truncated AVC", true, []byte{0x17, 0}},
		{"bad AVC config", true, []byte{0x17, 0, 0, 0, 0, 9, 9}},
	}
	for _, tc := range cases {
		r := NewRemuxer(&bytes.Buffer{})
		var err error
		if tc.video {
			err = r.Video(0, tc.tag)
		} else {
			err = r.Audio(0, tc.tag)
		}
		if err == nil {
			t.Fatalf("%s: accepted", tc.name)
		}
	}
}

func TestFFmpegArgs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		codec   string
		vs      []Variant
		want    [][]string // sub-sequences that must appear
		notWant []string
	}{
		{"default x264 variant", "", []Variant{{VideoBitrate: 1200, Framerate: 24, CPUUsageLevel: 2, AudioPassthrough: true}},
			[][]string{{"-c:v", "libx264"}, {"-b:v", "1200k"}, {"-g", "72"}, {"-preset", "veryfast"}, {"-c:a", "copy"}, {"pipe:3"}}, []string{"-vf"}},
		{"scaled with audio", "libx264", []Variant{{VideoBitrate: 800, ScaledHeight: 480, Framerate: 30, AudioBitrate: 96, CPUUsageLevel: 0}},
			[][]string{{"-vf", "scale=-2:480"}, {"-c:a", "aac", "-b:a", "96k"}, {"-preset", "ultrafast"}, {"-g", "90"}}, nil},
		{"video copy, audio transcoded", "libx264", []Variant{{VideoPassthrough: true, AudioBitrate: 64}},
			[][]string{{"-c:v", "copy"}, {"-c:a", "aac", "-b:a", "64k"}}, []string{"-preset"}},
		{"odd sizes are made even", "libx264", []Variant{{VideoBitrate: 500, ScaledWidth: 301, ScaledHeight: 1}},
			[][]string{{"-vf", "scale=300:-2"}}, nil},
		{"two variants use two pipes", "h264_nvenc", []Variant{{VideoBitrate: 3000}, {VideoBitrate: 1000}},
			[][]string{{"pipe:3"}, {"pipe:4"}, {"-c:v", "h264_nvenc"}}, []string{"-x264-params"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args, err := FFmpegArgs(tc.codec, 3, tc.vs)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				found := false
				for i := range args {
					if i+len(w) <= len(args) && slices.Equal(args[i:i+len(w)], w) {
						found = true
					}
				}
				if !found {
					t.Fatalf("%v missing from %v", w, args)
				}
			}
			for _, nw := range tc.notWant {
				if slices.Contains(args, nw) {
					t.Fatalf("%s present in %v", nw, args)
				}
			}
		})
	}
	if _, err := FFmpegArgs("libx264", 3, nil); err == nil {
		t.Fatal("no variants accepted")
	}
}

// collector is a transcode.Output that keeps everything.
type collector struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	discs []int // buffer length at each discontinuity
}

func (c *collector) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *collector) Discontinuity() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.discs = append(c.discs, c.buf.Len())
}

func (c *collector) state() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Len(), len(c.discs)
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(max(d, hangGuard)) // d is the usual time; only a hang fails
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPipelineRestartsFFmpeg transcodes with a real ffmpeg child, kills it
// mid-stream, and checks that it is restarted (with a discontinuity) and
// that output continues; Close ends the child.
func TestPipelineRestartsFFmpeg(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	tags := testFLV(t, 2, 25, "320x180")
	out := &collector{}
	pids := make(chan int, 4)
	restarts := make(chan error, 4)
	p, err := Start(context.Background(), Config{FFmpegPath: "ffmpeg", SegmentSeconds: 1,
		Variants: []Variant{{VideoBitrate: 300, Framerate: 25, ScaledHeight: 144, CPUUsageLevel: 0, AudioPassthrough: true}},
		Outputs:  []Output{out}, MinBackoff: 10 * time.Millisecond,
		OnStart: func(pid int) { pids <- pid }, OnRestart: func(err error) { restarts <- err }})
	if err != nil {
		t.Fatal(err)
	}
	feed := func(offset uint32) {
		for _, tg := range tags {
			if tg.typ == flvTagVideo {
				p.Video(tg.ts+offset, tg.data)
			} else if tg.typ == flvTagAudio {
				p.Audio(tg.ts+offset, tg.data)
			}
		}
	}
	first := <-pids
	feed(0)
	waitFor(t, 20*time.Second, "first output", func() bool { n, _ := out.state(); return n > 10*tsPacketSize })
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-restarts:
	case <-time.After(hangGuard):
		t.Fatal("ffmpeg was not restarted")
	}
	second := <-pids
	if second == first {
		t.Fatal("same pid after restart")
	}
	before, _ := out.state()
	feed(2000)
	feed(4000)
	waitFor(t, 20*time.Second, "output after the restart", func() bool {
		n, d := out.state()
		return d >= 1 && n > before+10*tsPacketSize
	})
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(hangGuard):
		t.Fatal("Close did not return")
	}
	if err := syscall.Kill(second, 0); err == nil {
		t.Fatal("ffmpeg still running after Close")
	}
}

func BenchmarkRemuxer(b *testing.B) {
	needFFmpeg(b)
	tags := testFLV(b, 4, 60, "1280x720")
	total := 0
	for _, tg := range tags {
		total += len(tg.data)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := NewRemuxer(io.Discard)
		for _, tg := range tags {
			if tg.typ == flvTagVideo {
				_ = r.Video(tg.ts, tg.data)
			} else if tg.typ == flvTagAudio {
				_ = r.Audio(tg.ts, tg.data)
			}
		}
	}
}

// TestPipelineGivesUp: an encoder that dies at once every time (here
// /bin/false in place of ffmpeg) is not restarted forever.
func TestPipelineGivesUp(t *testing.T) {
	t.Parallel()
	falseBin, err := exec.LookPath("false")
	if err != nil {
		t.Skip("no false(1)")
	}
	starts := make(chan int, 16)
	p, err := Start(context.Background(), Config{FFmpegPath: falseBin, SegmentSeconds: 1, Variants: []Variant{{VideoBitrate: 300}},
		Outputs: []Output{&collector{}}, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		OnStart: func(int) { starts <- 1 }})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(hangGuard):
		t.Fatal("pipeline kept restarting a failing encoder")
	}
	if n := len(starts); n != maxQuickFailures {
		t.Fatalf("%d starts, want %d", n, maxQuickFailures)
	}
	p.Video(0, []byte{0x17, 0, 0, 0, 0}) // ignored, no panic
	p.Close()
}
