package owncast_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/identity/identitytest"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/rtmp"
	"github.com/hearth-community/hearth/internal/schedule"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/owncast"
)

// liveNode is a node with the live service, the RTMP listener and the
// Owncast surface's live routes on loopback (no chat).
type liveNode struct {
	url   string
	rtmp  string
	live  *live.Service
	bus   bus.Bus
	stage string
	id    *identity.Service
}

func newLiveNode(t *testing.T, variants []live.Variant, level int) *liveNode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db := storetest.OpenSQLite(t)
	b := bus.NewLocal()
	idn, err := identity.New(ctx, identity.Config{Argon2: identitytest.Argon2}, db.Identity(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := idn.EnsureAdmin(ctx, "admin", "abc123"); err != nil {
		t.Fatal(err)
	}
	svc, err := live.New(ctx, live.Config{DataDir: t.TempDir(), DefaultStreamKey: "abc123", ThumbnailEvery: time.Hour},
		db.Live(), b, discard())
	if err != nil {
		t.Fatal(err)
	}
	stage := svc.DefaultStageID()
	if variants != nil {
		if err := svc.SetVariants(ctx, stage, variants); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.SetLatencyLevel(ctx, stage, level); err != nil {
		t.Fatal(err)
	}
	rs, err := rtmp.NewServer(rtmp.Config{Addr: "127.0.0.1:0"}, svc, discard())
	if err != nil {
		t.Fatal(err)
	}
	sched, err := schedule.New(db.Schedule(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := owncast.New(owncast.Deps{Identity: idn, Live: svc, Log: discard(), Schedule: sched})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := httpserver.New(httpserver.Config{Addr: "127.0.0.1:0"}, discard())
	if err != nil {
		t.Fatal(err)
	}
	s.Register(srv)
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{srv.Run, rs.Run, svc.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run(ctx) }()
	}
	t.Cleanup(func() { cancel(); wg.Wait(); b.Close() })
	return &liveNode{url: srv.URL(), rtmp: rs.Addr().String(), live: svc, bus: b, stage: stage, id: idn}
}

func (n *liveNode) get(t *testing.T, path string, admin bool) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", n.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if admin {
		req.SetBasicAuth("admin", "abc123")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}

func (n *liveNode) status(t *testing.T) map[string]any {
	t.Helper()
	code, _, body := n.get(t, "/api/status", false)
	if code != 200 {
		t.Fatalf("/api/status: %d", code)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// eventually polls cond every 100 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(max(d, hangGuard)) // d is the usual time; only a hang fails
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func needFFmpeg(t *testing.T) {
	t.Helper()
	for _, b := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skip(b + " not installed (.ci/run installs it)")
		}
	}
}

// publish starts ffmpeg sending its 1280x720@60 H.264/AAC test pattern
// (Owncast's ocTestStream.sh) for secs seconds in real time.
func publish(t *testing.T, url string, secs int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=1280x720:rate=60", "-f", "lavfi", "-i", "sine=frequency=400:sample_rate=44100",
		"-t", strconv.Itoa(secs), "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "60", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "128k", "-f", "flv", url)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// TestLiveEndToEnd is the "done" check: ffmpeg publishes the 720p60
// test pattern; status goes online; the admin status reports the stream
// details; ffprobe plays the HLS; a second publisher and garbage are
// refused without disturbing it; stopping turns it offline and fires
// STREAM_STOPPED on the bus.
func TestLiveEndToEnd(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	n := newLiveNode(t, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}, 5)
	stopped := make(chan live.Event, 1)
	sub, err := n.bus.Subscribe(live.Topic(n.stage, live.EventStopped), func(m bus.Message) {
		var e live.Event
		if json.Unmarshal(m.Data, &e) == nil {
			stopped <- e
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	if n.status(t)["online"] != false {
		t.Fatal("online before publishing")
	}
	code, hdr, body := n.get(t, "/hls/0/stream.m3u8", false)
	if code != 200 || !strings.Contains(string(body), "offline.ts") {
		t.Fatalf("offline playlist: %d %s", code, body)
	}
	if code, hdr, _ := n.get(t, "/hls/0/offline.ts", false); code != 200 || hdr.Get("Content-Type") != "video/mp2t" {
		t.Fatalf("offline clip: %d %v", code, hdr)
	}
	_ = hdr

	cmd := publish(t, "rtmp://"+n.rtmp+"/live/abc123", 12)
	eventually(t, 20*time.Second, "online", func() bool { return n.status(t)["online"] == true })
	st := n.status(t)
	if st["status"] != "ok" || st["lastConnectTime"] == nil || st["versionNumber"] == nil {
		t.Fatalf("status: %v", st)
	}

	// Stream details from onMetaData (which follows the publish command).
	eventually(t, 10*time.Second, "stream details", func() bool {
		code, _, body = n.get(t, "/api/admin/status", true)
		return code == 200 && strings.Contains(string(body), `"videoCodec":"H.264"`)
	})
	var adm struct {
		Online      bool `json:"online"`
		Broadcaster struct {
			StreamDetails struct {
				Width      int     `json:"width"`
				Height     int     `json:"height"`
				Framerate  float64 `json:"framerate"`
				VideoCodec string  `json:"videoCodec"`
				AudioCodec string  `json:"audioCodec"`
			} `json:"streamDetails"`
		} `json:"broadcaster"`
		CurrentBroadcast struct {
			LatencyLevel struct{ Level int } `json:"latencyLevel"`
		} `json:"currentBroadcast"`
	}
	if err := json.Unmarshal(body, &adm); err != nil {
		t.Fatal(err)
	}
	d := adm.Broadcaster.StreamDetails
	if !adm.Online || d.Width != 1280 || d.Height != 720 || d.Framerate != 60 || d.VideoCodec != "H.264" || d.AudioCodec != "AAC" {
		t.Fatalf("admin status details: %s", body)
	}
	req, _ := http.NewRequest("GET", n.url+"/api/admin/status", nil)
	req.SetBasicAuth("admin", "wrong")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("admin status with a wrong password: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// A second publisher and garbage bytes are refused; the stream goes on.
	c, err := rtmp.Dial(context.Background(), n.rtmp)
	if err != nil {
		t.Fatal(err)
	}
	var re *rtmp.RefusedError
	if err := c.Publish("live", "abc123"); !errors.As(err, &re) {
		t.Fatalf("second publisher: %v", err)
	}
	c.Close()
	c2, err := rtmp.Dial(context.Background(), n.rtmp)
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Publish("live", "wrong"); !errors.As(err, &re) || !strings.Contains(re.Description, "invalid stream key") {
		t.Fatalf("wrong key: %v", err)
	}
	c2.Close()
	if g, err := net.Dial("tcp", n.rtmp); err == nil {
		_, _ = g.Write([]byte("\x03garbage that is not a handshake at all"))
		g.Close()
	}

	// HLS: wait for two segments, then check headers and play it.
	eventually(t, 20*time.Second, "two segments", func() bool {
		_, _, b := n.get(t, "/hls/0/stream.m3u8", false)
		return strings.Count(string(b), "#EXTINF") >= 2 && !strings.Contains(string(b), "offline.ts")
	})
	code, hdr, body = n.get(t, "/hls/stream.m3u8", false)
	if code != 200 || hdr.Get("Content-Type") != "application/x-mpegURL" || hdr.Get("Cache-Control") != "no-cache, no-store, must-revalidate" ||
		!strings.Contains(string(body), "RESOLUTION=1280x720") || !strings.Contains(string(body), "0/stream.m3u8") {
		t.Fatalf("master: %d %v %s", code, hdr, body)
	}
	_, _, media := n.get(t, "/hls/0/stream.m3u8", false)
	var seg string
	for _, l := range strings.Split(string(media), "\n") {
		if strings.HasSuffix(l, ".ts") {
			seg = l
		}
	}
	code, hdr, body = n.get(t, "/hls/0/"+seg, false)
	if code != 200 || hdr.Get("Content-Type") != "video/mp2t" || hdr.Get("Cache-Control") != "public, max-age=31557600" || len(body) < 1000 || body[0] != 0x47 {
		t.Fatalf("segment %s: %d %v (%d bytes)", seg, code, hdr, len(body))
	}
	for _, bad := range []string{"/hls/0/../../etc/passwd", "/hls/0/stream-x-1.ts", "/hls/7/stream.m3u8", "/hls/0/stream.mp4"} {
		if code, _, _ := n.get(t, bad, false); code != 404 {
			t.Fatalf("%s: %d, want 404", bad, code)
		}
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "compact",
		n.url+"/hls/stream.m3u8").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "codec_name=h264|width=1280|height=720") || !strings.Contains(string(out), "codec_name=aac") {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	if v := n.status(t)["viewerCount"]; v == nil || v.(float64) < 1 {
		t.Fatalf("viewer not counted: %v", v)
	}

	// Stop the publisher.
	_ = cmd.Process.Kill()
	select {
	case e := <-stopped:
		if e.Kind != live.EventStopped || !e.DefaultStage || e.EndedAt == nil {
			t.Fatalf("stopped event: %+v", e)
		}
	case <-time.After(hangGuard):
		t.Fatal("no STREAM_STOPPED event")
	}
	st = n.status(t)
	if st["online"] != false || st["lastDisconnectTime"] == nil {
		t.Fatalf("after stop: %v", st)
	}
	// The stopped event goes out on the disconnect itself, before the
	// pipeline drains; the offline clip follows the drain.
	if !n.live.WaitOffline(n.stage, hangGuard) {
		t.Fatal("broadcast did not end")
	}
	_, _, media = n.get(t, "/hls/0/stream.m3u8", false)
	if !strings.Contains(string(media), "#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\noffline.ts") {
		t.Fatalf("offline clip not appended:\n%s", media)
	}
}

// TestLiveTranscodeS3Thumbnails runs a passthrough and a transcoded 360p
// variant with S3 offload to an in-process S3 fake: segments and playlists
// land in the bucket, the master playlist points there, the transcoded
// rendition plays from the bucket, and thumbnails are made.
func TestLiveTranscodeS3Thumbnails(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	n := newLiveNode(t, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true},
		{VideoBitrate: 400, ScaledHeight: 360, Framerate: 30, CPUUsageLevel: 0, AudioPassthrough: true}}, 0)
	backend := s3mem.New()
	if err := backend.CreateBucket("media"); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer s3srv.Close()
	code, body := n.post(t, "/api/admin/config/s3", `{"value":{"enabled":true,"endpoint":"`+s3srv.URL+`","accessKey":"k","secret":"s",`+
		`"bucket":"media","region":"us-east-1","pathPrefix":"live","forcePathStyle":true}}`)
	if code != 200 {
		t.Fatalf("s3 setting: %d %v", code, body)
	}
	publish(t, "rtmp://"+n.rtmp+"/live/abc123", 8)
	base := s3srv.URL + "/media/live/hls/"
	eventually(t, 30*time.Second, "transcoded segments in the bucket", func() bool {
		obj, err := backend.GetObject("media", "live/hls/1/stream.m3u8", nil)
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(obj.Contents)
		return strings.Count(string(b), "#EXTINF") >= 2
	})
	_, _, master := n.get(t, "/hls/stream.m3u8", false)
	if !strings.Contains(string(master), base+"0/stream.m3u8") || !strings.Contains(string(master), base+"1/stream.m3u8") ||
		!strings.Contains(string(master), "RESOLUTION=1280x720") || !strings.Contains(string(master), "RESOLUTION=640x360") {
		t.Fatalf("master does not point at the bucket:\n%s", master)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "compact",
		base+"1/stream.m3u8").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "codec_name=h264|width=640|height=360") {
		t.Fatalf("ffprobe of the bucket's transcoded rendition: %v\n%s", err, out)
	}
	for _, tc := range []struct{ path, ctype, magic string }{{"/thumbnail.jpg", "image/jpeg", "\xff\xd8"}, {"/preview.gif", "image/gif", "GIF8"}} {
		eventually(t, 20*time.Second, tc.path, func() bool {
			code, hdr, b := n.get(t, tc.path, false)
			return code == 200 && hdr.Get("Content-Type") == tc.ctype && strings.HasPrefix(string(b), tc.magic)
		})
	}
}
