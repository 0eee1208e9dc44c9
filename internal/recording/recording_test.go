package recording_test

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/hls"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/rtmp"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// rig is a live service with RTMP ingest on loopback and a recorder.
type rig struct {
	db      *store.DB
	live    *live.Service
	rec     *recording.Service
	rtmpURL string
	dir     string
}

func needFFmpeg(t *testing.T) {
	t.Helper()
	for _, b := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skip(b + " not installed (.ci/run installs it)")
		}
	}
}

func newRig(t *testing.T, cfg recording.Config, wrap func(live.Recorder) live.Recorder) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	db := storetest.OpenSQLite(t)
	b := bus.NewLocal()
	t.Cleanup(func() { b.Close() })
	lv, err := live.New(ctx, live.Config{DataDir: t.TempDir(), DefaultStreamKey: "key1"}, db.Live(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := lv.SetVariants(ctx, lv.DefaultStageID(), []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}); err != nil {
		t.Fatal(err)
	}
	if err := lv.SetLatencyLevel(ctx, lv.DefaultStageID(), 0); err != nil { // 1 s segments
		t.Fatal(err)
	}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	cfg.DefaultEnabled = true
	cfg.Live = lv
	rs, err := recording.New(cfg, db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var r live.Recorder = rs
	if wrap != nil {
		r = wrap(rs)
	}
	lv.SetRecorder(r)
	srv, err := rtmp.NewServer(rtmp.Config{Addr: "127.0.0.1:0"}, lv, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = srv.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &rig{db: db, live: lv, rec: rs, rtmpURL: "rtmp://" + srv.Addr().String() + "/live/key1", dir: cfg.Dir}
}

// publish sends secs seconds of test video (1 s keyframe interval) and
// audio as fast as ffmpeg can; segments are cut on timestamps, not on the
// wall clock, so the recording is secs long.
func (r *rig) publish(t *testing.T, secs int, realtime bool) *exec.Cmd {
	t.Helper()
	args := []string{"-hide_banner", "-loglevel", "error"}
	if realtime {
		args = append(args, "-re")
	}
	args = append(args, "-f", "lavfi", "-i", "testsrc=size=160x90:rate=25", "-f", "lavfi", "-i", "sine=frequency=400:sample_rate=44100",
		"-t", strconv.Itoa(secs), "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
		"-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k", "-f", "flv", r.rtmpURL)
	cmd := exec.Command("ffmpeg", args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// waitFor polls state that an external process (ffmpeg) changes.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func probeDuration(t *testing.T, path string) float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v %s", path, err, out)
	}
	d, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		t.Fatalf("ffprobe %s duration %q", path, out)
	}
	return d
}

func finished(t *testing.T, rs *recording.Service, stage string) func() bool {
	return func() bool {
		list, err := rs.List(context.Background(), stage)
		return err == nil && len(list) == 1 && list[0].EndedAt != nil
	}
}

// TestRecordingOfABroadcast: 20 s published over RTMP become a finished
// recording whose VOD playlist and MP4 download ffprobe reads as 20 s
// (within one segment), with a thumbnail; a 5 s clip of it is 5 s within
// a keyframe interval.
func TestRecordingOfABroadcast(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	r := newRig(t, recording.Config{MaxClip: 10 * time.Second}, nil)
	ctx := context.Background()
	stage := r.live.DefaultStageID()
	if err := r.live.SetTitle(ctx, stage, "Friday night"); err != nil {
		t.Fatal(err)
	}
	const secs = 20
	if err := r.publish(t, secs, false).Wait(); err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	waitFor(t, "the recording to finish", finished(t, r.rec, stage))
	list, _ := r.rec.List(ctx, stage)
	rec := list[0]
	if rec.Title != "Friday night" || rec.Size == 0 || math.Abs(rec.Duration.Seconds()-secs) > 1.5 {
		t.Fatalf("recording: %+v", rec)
	}
	pl, err := r.rec.File(ctx, rec.ID, recording.PlaylistName)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := os.ReadFile(pl)
	if !strings.Contains(string(body), "#EXT-X-PLAYLIST-TYPE:VOD") || !strings.HasSuffix(string(body), "#EXT-X-ENDLIST\n") {
		t.Fatalf("playlist:\n%s", body)
	}
	if d := probeDuration(t, pl); math.Abs(d-secs) > 1.5 {
		t.Fatalf("ffprobe of the playlist: %.2f s, want %d s within a segment", d, secs)
	}
	f, err := r.rec.DownloadFile(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	mp4 := f.Name()
	f.Close()
	if d := probeDuration(t, mp4); math.Abs(d-secs) > 1.5 {
		t.Fatalf("ffprobe of the download: %.2f s, want %d s within a segment", d, secs)
	}
	waitFor(t, "the thumbnail", func() bool { _, err := r.rec.File(ctx, rec.ID, recording.ThumbnailName); return err == nil })

	for _, bad := range []struct {
		name       string
		start, end time.Duration
	}{{"reversed", 5 * time.Second, 2 * time.Second}, {"too long", 0, 11 * time.Second}, {"past the end", 30 * time.Second, 35 * time.Second}, {"negative", -time.Second, time.Second}} {
		if _, err := r.rec.MakeClip(ctx, rec.ID, bad.start, bad.end, "", ""); err == nil {
			t.Errorf("clip %s accepted", bad.name)
		}
	}
	c, err := r.rec.MakeClip(ctx, rec.ID, 6*time.Second, 11*time.Second, "the goal", "alice")
	if err != nil {
		t.Fatal(err)
	}
	cf, err := r.rec.ClipFile(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := probeDuration(t, cf); math.Abs(d-5) > 1.05 {
		t.Fatalf("clip: %.2f s, want 5 s within one keyframe interval (1 s)", d)
	}
	if clips, _ := r.rec.Clips(ctx, stage); len(clips) != 1 || clips[0].Title != "the goal" || clips[0].Size == 0 {
		t.Fatalf("clips: %+v", clips)
	}
}

// crashable forwards to the recorder until crashed, then drops every call,
// as a process killed mid-broadcast does: the playlist stays unfinished
// and the row open.
type crashable struct {
	live.Recorder
	crashed atomic.Bool
}

func (c *crashable) BroadcastStarted(stageID, bid, title string, at time.Time) live.RecordingSink {
	s := c.Recorder.BroadcastStarted(stageID, bid, title, at)
	if s == nil {
		return nil
	}
	return &crashSink{s: s, c: c}
}

type crashSink struct {
	s live.RecordingSink
	c *crashable
}

func (k *crashSink) Segment(p string, seg hls.Segment) {
	if !k.c.crashed.Load() {
		k.s.Segment(p, seg)
	}
}

func (k *crashSink) End(at time.Time) {
	if !k.c.crashed.Load() {
		k.s.End(at)
	}
}

// TestCrashLeavesAPlayableRecording: a node that stops mid-broadcast
// without closing its recording leaves it open; the node's restart closes
// it at the last complete segment and ffprobe plays it.
func TestCrashLeavesAPlayableRecording(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	var c *crashable
	dir := t.TempDir()
	r := newRig(t, recording.Config{Dir: dir, NodeID: "node-a"}, func(rec live.Recorder) live.Recorder {
		c = &crashable{Recorder: rec}
		return c
	})
	ctx := context.Background()
	stage := r.live.DefaultStageID()
	pub := r.publish(t, 60, true)
	t.Cleanup(func() { _ = pub.Process.Kill(); _ = pub.Wait() })
	var id string
	waitFor(t, "three recorded segments", func() bool {
		list, _ := r.rec.List(ctx, stage)
		if len(list) != 1 {
			return false
		}
		id = list[0].ID
		b, _ := os.ReadFile(filepath.Join(dir, id, recording.PlaylistName))
		return strings.Count(string(b), "#EXTINF") >= 3
	})
	c.crashed.Store(true)
	_ = pub.Process.Kill()
	_ = pub.Wait()
	if got, _ := r.rec.Get(ctx, id); got.EndedAt != nil {
		t.Fatal("the crashed recording was closed")
	}
	// The restarted node (same node id, same store and directory).
	again, err := recording.New(recording.Config{Dir: dir, NodeID: "node-a"}, r.db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	again.Recover(ctx)
	got, err := again.Get(ctx, id)
	if err != nil || got.EndedAt == nil || got.Duration < 3*time.Second || got.Size == 0 {
		t.Fatalf("after restart: %+v %v", got, err)
	}
	body, _ := os.ReadFile(filepath.Join(dir, id, recording.PlaylistName))
	if !strings.Contains(string(body), "#EXT-X-PLAYLIST-TYPE:VOD") || !strings.HasSuffix(string(body), "#EXT-X-ENDLIST\n") {
		t.Fatalf("playlist:\n%s", body)
	}
	if d := probeDuration(t, filepath.Join(dir, id, recording.PlaylistName)); math.Abs(d-got.Duration.Seconds()) > 1.05 {
		t.Fatalf("ffprobe %.2f s, recording says %s", d, got.Duration)
	}
}

// TestReconnectContinuesTheRecording: a publisher that comes back within
// the reconnect window continues the same recording, and a clip of the
// part after the reconnect (whose timestamps start again) has its video.
func TestReconnectContinuesTheRecording(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	r := newRig(t, recording.Config{ReconnectWindow: time.Hour, MaxClip: 10 * time.Second}, nil)
	ctx := context.Background()
	stage := r.live.DefaultStageID()
	for range 2 {
		if err := r.publish(t, 4, false).Wait(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the recording to finish", finished(t, r.rec, stage))
	}
	list, _ := r.rec.List(ctx, stage)
	if len(list) != 1 || math.Abs(list[0].Duration.Seconds()-8) > 2 {
		t.Fatalf("recordings: %+v", list)
	}
	b, _ := os.ReadFile(filepath.Join(r.dir, list[0].ID, recording.PlaylistName))
	if !strings.Contains(string(b), "#EXT-X-DISCONTINUITY") {
		t.Fatalf("no discontinuity at the reconnect:\n%s", b)
	}
	c, err := r.rec.MakeClip(ctx, list[0].ID, 5*time.Second, 7*time.Second, "after the reconnect", "bob")
	if err != nil {
		t.Fatal(err)
	}
	f, err := r.rec.ClipFile(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := probeDuration(t, f); math.Abs(d-2) > 1.05 {
		t.Fatalf("clip after the reconnect: %.2f s, want 2 s within one keyframe interval", d)
	}
}

// TestLiveClip: on a live stage that does not record, a clip of the last
// 3 s is cut from the segments the live origin keeps; 3 s within one
// keyframe interval.
func TestLiveClip(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	r := newRig(t, recording.Config{MaxClip: 10 * time.Second}, nil)
	ctx := context.Background()
	stage := r.live.DefaultStageID()
	off := false
	if err := r.rec.SetSettings(ctx, &recording.StageSettings{StageID: stage, Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.rec.MakeLiveClip(ctx, stage, 3*time.Second, "", "bob"); err == nil {
		t.Fatal("a clip of an offline stage")
	}
	pub := r.publish(t, 60, true)
	t.Cleanup(func() { _ = pub.Process.Kill(); _ = pub.Wait() })
	waitFor(t, "4 s of live segments", func() bool {
		segs, err := r.live.RecentSegments(stage)
		var d time.Duration
		for _, s := range segs {
			d += s.Duration
		}
		return err == nil && d >= 4*time.Second
	})
	if _, err := r.rec.MakeLiveClip(ctx, stage, 11*time.Second, "", "bob"); err == nil {
		t.Fatal("a clip longer than the maximum")
	}
	c, err := r.rec.MakeLiveClip(ctx, stage, 3*time.Second, "just now", "bob")
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := r.rec.List(ctx, stage); len(list) != 0 || c.RecordingID != "" {
		t.Fatalf("the stage recorded: %d recordings, clip of %q", len(list), c.RecordingID)
	}
	f, err := r.rec.ClipFile(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := probeDuration(t, f); math.Abs(d-3) > 1.05 {
		t.Fatalf("live clip: %.2f s, want 3 s within one keyframe interval", d)
	}
}
