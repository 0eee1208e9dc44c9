package owncast_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/live"
)

// playerPage plays the master playlist with hls.js (default settings, as
// Hearth's web UI uses it) and exposes the instance.
const playerPage = `<!doctype html><video id="v" muted autoplay playsinline></video>
<script src="/hls.min.js"></script>
<script>
const v = document.getElementById("v");
const q = new URLSearchParams(location.search);
const h = new Hls(q.get("catchup") ? {maxLiveSyncPlaybackRate: 1.5} : {});
h.loadSource(q.get("src"));
h.attachMedia(v);
v.play().catch(() => {});
window.h = h;
</script>`

// BenchmarkLivePlayerLatency measures what a viewer sees: headless
// Chromium plays the stream with hls.js, and the delay is now minus the
// wall-clock time of the frame on screen (hls.js's playingDate, from
// EXT-X-PROGRAM-DATE-TIME, which Hearth stamps when the frame reached
// the segmenter — for passthrough, when it entered RTMP). The encoder's
// own delay is not included. Needs chromium and web/node_modules (npm ci).
// Run with -benchtime=1x.
func BenchmarkLivePlayerLatency(b *testing.B) {
	needBenchFFmpeg(b)
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		b.Skip("chromium not installed")
	}
	hlsJS, err := os.ReadFile(filepath.Join("..", "..", "..", "web", "node_modules", "hls.js", "dist", "hls.min.js"))
	if err != nil {
		b.Skip("web/node_modules/hls.js missing (run npm ci in web/)")
	}
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hls.min.js" {
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = w.Write(hlsJS)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(playerPage))
	}))
	defer page.Close()
	type run struct {
		name    string
		level   int
		catchup bool
	}
	var runs []run
	for level := 0; level <= 5; level++ {
		runs = append(runs, run{fmt.Sprintf("passthrough/level%d", level), level, false})
	}
	// hls.js may also speed playback up to reach its target latency.
	runs = append(runs, run{"passthrough-catchup1.5x/level5", 5, true})
	for _, rn := range runs {
		b.Run(rn.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				lat := playerLatency(b, chromium, page.URL, rn.level, rn.catchup)
				sort.Float64s(lat)
				b.Logf("delays %v", lat)
				b.ReportMetric(lat[len(lat)/2], "s-median-on-screen")
			}
		})
	}
}

func playerLatency(b *testing.B, chromium, pageURL string, level int, catchup bool) []float64 {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, rs, srv, stop := benchLiveNode(b, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}, level, nil)
	defer stop()
	pub := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=400:sample_rate=44100",
		"-t", "90", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-f", "flv", "rtmp://"+rs.Addr().String()+"/live/abc123")
	if err := pub.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = pub.Process.Kill(); _ = pub.Wait() }()
	// Let the playlist fill as it would for a viewer arriving mid-stream.
	lv, _ := live.LatencyLevelFor(level)
	time.Sleep(time.Duration(lv.SecondsPerSegment*4+2) * time.Second) // waiting on an external encoder, not a goroutine

	actx, cancelA := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(chromium), chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true), chromedp.Flag("mute-audio", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"), chromedp.UserDataDir(b.TempDir()))
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	src := srv.URL() + "/hls/stream.m3u8"
	q := "/?src=" + src
	if catchup {
		q += "&catchup=1"
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(pageURL+q)); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if time.Now().After(deadline) {
			b.Fatal("the player never started")
		}
		time.Sleep(250 * time.Millisecond)
		if playing, _ := chromedp.Run(bctx, chromedp.Evaluate[bool](`v.currentTime > 1 && !!h.playingDate`)); playing {
			break
		}
	}
	time.Sleep(3 * time.Second) // let it settle into its live position
	var out []float64
	for i := 0; i < 20; i++ {
		if ms, err := chromedp.Run(bctx, chromedp.Evaluate[float64](`Date.now() - h.playingDate.getTime()`)); err == nil {
			if i == 0 || i == 19 {
				st, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify({t: v.currentTime, buf: v.buffered.length ? v.buffered.end(v.buffered.length-1) : 0, lat: h.latency, target: h.targetLatency, dropped: v.getVideoPlaybackQuality().droppedVideoFrames, total: v.getVideoPlaybackQuality().totalVideoFrames})`))
				b.Logf("player state: %s", st)
			}
			out = append(out, float64(int(ms))/1000)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(out) == 0 {
		b.Fatal("no samples")
	}
	return out
}
