package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/watch"
)

// clip makes a short H.264 MP4 with ffmpeg and serves it over HTTP (with
// Range support, as a real file host would).
func clip(t *testing.T, seconds int) string {
	t.Helper()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("no ffmpeg")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "clip.mp4")
	cmd := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
		fmt.Sprintf("testsrc=size=320x180:rate=25:duration=%d", seconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25", "-movflags", "+faststart", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv.URL + "/clip.mp4"
}

// sample reads a tab's video position and the wall clock at that moment.
func sample(p *page) (pos float64, at time.Time, paused bool) {
	p.t.Helper()
	v := eval[[]float64](p, "read the player", `(() => { const v = document.querySelector('[data-testid="room-video"]'); return [v.currentTime, Date.now(), v.paused ? 1 : 0]; })()`)
	return v[0], time.UnixMilli(int64(v[1])), v[2] == 1
}

// gap is the distance between two players' positions at the same instant:
// each sample is carried to a common time at normal speed when playing.
func gap(a, b *page) (float64, float64, float64) {
	pa, ta, pausedA := sample(a)
	pb, tb, pausedB := sample(b)
	if !pausedA {
		pa += tb.Sub(ta).Seconds()
	}
	_ = pausedB
	return math.Abs(pa - pb), pa, pb
}

// inStep waits until the two players are within 250 ms of each other, then
// checks that they stay there for a few more samples.
func inStep(t *testing.T, a, b *page, what string) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		d, pa, pb := gap(a, b)
		if d < 0.25 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: players never came within 250 ms: %.3f vs %.3f (gap %.0f ms)\nmedia a: %s\nmedia b: %s", what, pa, pb, d*1000, a.media(), b.media())
		}
	}
	worst := 0.0
	for i := 0; i < 8; i++ {
		d, pa, pb := gap(a, b)
		if d >= 0.25 {
			t.Fatalf("%s: players drifted apart: %.3f vs %.3f (gap %.0f ms)", what, pa, pb, d*1000)
		}
		worst = max(worst, d)
	}
	t.Logf("%s: in step, worst gap %.0f ms over 8 samples", what, worst*1000)
}

// seek moves the room's seek slider as a user would (a change event).
func seek(p *page, to int) {
	p.t.Helper()
	eval[bool](p, fmt.Sprintf("seek to %d s", to), fmt.Sprintf(`(() => { const s = document.getElementById("seek"); s.value = "%d"; s.dispatchEvent(new Event("change", { bubbles: true })); return true; })()`, to))
}

// TestBrowserWatchRoomSync: two browser contexts in one watch room play the
// same file; after one of them pauses, and after one seeks, both players are
// within 250 ms of each other (and of the room clock).
func TestBrowserWatchRoomSync(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	url := clip(t, 40)
	a, base := startApp(t, nil)

	// Adding a loopback URL through the API is refused by the SSRF guard
	// (as it must be), so the room is stored with the clip already current,
	// the way a room restored from the database would be.
	state, _ := json.Marshal(map[string]any{
		"current":  watch.Video{Service: "direct", ID: url, Title: "clip.mp4", Length: 40, Mime: "video/mp4"},
		"position": 0, "playing": false, "speed": 1,
	})
	now := time.Now()
	if err := a.DB.Watch().CreateRoom(context.Background(), &watch.Record{Name: "browser-sync", Title: "Sync test",
		Visibility: watch.Public, QueueMode: watch.QueueManual, State: state, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}

	browser := newBrowser(t)
	ann := newTab(t, browser, "ann")
	ben := newTab(t, browser, "ben")
	for _, p := range []*page{ann, ben} {
		p.do("open the room", chromedp.Navigate(base+"/room/browser-sync"))
		p.waitFor("the room", `document.querySelector('[data-testid="room-title"]')?.textContent === "Sync test"`, 15*time.Second)
		p.waitFor("the clip loaded", `document.querySelector('[data-testid="room-video"]')?.readyState >= 1`, 20*time.Second)
	}

	ann.do("play", chromedp.Click(chromedp.CSS(`[data-testid="play-toggle"]`)))
	for _, p := range []*page{ann, ben} {
		p.waitFor("playback", `(() => { const v = document.querySelector('[data-testid="room-video"]'); return !v.paused && v.currentTime > 2; })()`, 20*time.Second)
	}
	inStep(t, ann, ben, "playing")

	ben.do("pause", chromedp.Click(chromedp.CSS(`[data-testid="play-toggle"]`)))
	for _, p := range []*page{ann, ben} {
		p.waitFor("paused", `document.querySelector('[data-testid="room-video"]').paused`, 10*time.Second)
	}
	inStep(t, ann, ben, "after ben paused")

	seek(ann, 20)
	for _, p := range []*page{ann, ben} {
		p.waitFor("the seek", `Math.abs(document.querySelector('[data-testid="room-video"]').currentTime - 20) < 0.3`, 10*time.Second)
	}
	inStep(t, ann, ben, "after ann seeked while paused")

	ann.do("play again", chromedp.Click(chromedp.CSS(`[data-testid="play-toggle"]`)))
	for _, p := range []*page{ann, ben} {
		p.waitFor("playback from 20 s", `(() => { const v = document.querySelector('[data-testid="room-video"]'); return !v.paused && v.currentTime > 21; })()`, 15*time.Second)
	}
	inStep(t, ann, ben, "playing after the seek")

	seek(ben, 5)
	for _, p := range []*page{ann, ben} {
		p.waitFor("the seek back", `(() => { const t = document.querySelector('[data-testid="room-video"]').currentTime; return t > 5 && t < 9; })()`, 10*time.Second)
	}
	inStep(t, ann, ben, "after ben seeked while playing")
	ann.screenshot("room")
}
