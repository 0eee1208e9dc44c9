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

// gap is the distance between two players' positions at the same instant
// (each sample is carried to a common time at normal speed when playing),
// and whether both players are paused, both playing, or neither.
func gap(a, b *page) (d, pa, pb float64, pausedA, pausedB bool) {
	pa, ta, pausedA := sample(a)
	pb, tb, pausedB := sample(b)
	if !pausedA {
		pa += tb.Sub(ta).Seconds()
	}
	return math.Abs(pa - pb), pa, pb, pausedA, pausedB
}

// converged is how close two players must come to count as in step.
const converged = 0.25

// inStep waits until the two players agree: both in the wanted play state
// and within 250 ms of each other for three samples in a row. It fails only
// when they never get there within hangGuard: a loaded machine may take
// longer to converge, or see one sample apart while a tab is starved, and
// neither decides the verdict. How close they stay is measured afterwards
// (8 samples, logged for docs/performance.md), not asserted.
func inStep(t *testing.T, a, b *page, what string, paused bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for run := 0; run < 3; {
		d, pa, pb, pausedA, pausedB := gap(a, b)
		if d < converged && pausedA == paused && pausedB == paused {
			run++
			continue
		}
		run = 0
		if time.Now().After(deadline) {
			t.Fatalf("%s: players never converged in %v: %.3f (paused %v) vs %.3f (paused %v), gap %.0f ms, want paused %v\nmedia a: %s\nmedia b: %s",
				what, hangGuard, pa, pausedA, pb, pausedB, d*1000, paused, a.media(), b.media())
		}
	}
	worst := 0.0
	for range 8 {
		d, _, _, _, _ := gap(a, b)
		worst = max(worst, d)
	}
	t.Logf("%s: in step; worst gap over the next 8 samples %.0f ms (a measurement, not a verdict)", what, worst*1000)
}

// seek moves the room's seek slider as a user would (a change event).
func seek(p *page, to int) {
	p.t.Helper()
	eval[bool](p, fmt.Sprintf("seek to %d s", to), fmt.Sprintf(`(() => { const s = document.getElementById("seek"); s.value = "%d"; s.dispatchEvent(new Event("change", { bubbles: true })); return true; })()`, to))
}

// TestBrowserWatchRoomSync: two browser contexts in one watch room play the
// same file; after play, a pause by one, and a seek by either (paused and
// playing), both players converge to the same play state and within 250 ms
// of each other. How close they stay is logged, not asserted.
func TestBrowserWatchRoomSync(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	url := clip(t, 60)
	a, base := startApp(t, nil)

	// Adding a loopback URL through the API is refused by the SSRF guard
	// (as it must be), so the room is stored with the clip already current,
	// the way a room restored from the database would be.
	state, _ := json.Marshal(map[string]any{
		"current":  watch.Video{Service: "direct", ID: url, Title: "clip.mp4", Length: 60, Mime: "video/mp4"},
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
	inStep(t, ann, ben, "playing", false)

	ben.do("pause", chromedp.Click(chromedp.CSS(`[data-testid="play-toggle"]`)))
	for _, p := range []*page{ann, ben} {
		p.waitFor("paused", `document.querySelector('[data-testid="room-video"]').paused`, 10*time.Second)
	}
	inStep(t, ann, ben, "after ben paused", true)

	seek(ann, 20)
	for _, p := range []*page{ann, ben} {
		p.waitFor("the seek", `Math.abs(document.querySelector('[data-testid="room-video"]').currentTime - 20) < 0.3`, 10*time.Second)
	}
	inStep(t, ann, ben, "after ann seeked while paused", true)

	ann.do("play again", chromedp.Click(chromedp.CSS(`[data-testid="play-toggle"]`)))
	for _, p := range []*page{ann, ben} {
		p.waitFor("playback from 20 s", `(() => { const v = document.querySelector('[data-testid="room-video"]'); return !v.paused && v.currentTime > 21; })()`, 15*time.Second)
	}
	inStep(t, ann, ben, "playing after the seek", false)

	seek(ben, 5)
	for _, p := range []*page{ann, ben} {
		// Both were past 21 s: below 20 s is the seek, however late a
		// loaded machine polls (a narrow window could be played through).
		p.waitFor("the seek back", `document.querySelector('[data-testid="room-video"]').currentTime < 20`, 10*time.Second)
	}
	inStep(t, ann, ben, "after ben seeked while playing", false)
	ann.screenshot("room")
}
