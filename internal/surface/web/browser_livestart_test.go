package web_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/config"
)

// TestBrowserLiveStartAndEnd: a viewer waits on /live while the streamer
// starts: the page goes LIVE and plays without ever saying the stream is
// unreachable (before the first segment it says "starting"); when the
// streamer stops, the page goes back to OFFLINE by itself. Desktop and a
// 390×844 phone watch together.
func TestBrowserLiveStartAndEnd(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("no ffmpeg")
	}
	a, base := startApp(t, func(c *config.Config) {
		c.RTMPAddr = "127.0.0.1:0"
		c.DefaultStreamKey = "start-key"
	})
	browser := newBrowser(t)
	var tabs []*page
	for _, vp := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		p := newTab(t, browser, "live-"+vp.name)
		p.do("viewport", chromedp.EmulateViewport(vp.w, vp.h))
		p.do("open the stage", chromedp.Navigate(base+"/live"))
		p.waitFor("the offline state", `document.querySelector('[data-testid="stage-state"]')?.textContent === "OFFLINE"`, 15*time.Second)
		// Record every alert the page shows from here on.
		eval[bool](p, "watch alerts", `(() => { window.__alerts = []; new MutationObserver(() => { for (const a of document.querySelectorAll('[role="alert"]')) window.__alerts.push(a.textContent); }).observe(document.body, {subtree: true, childList: true, characterData: true}); return true; })()`)
		tabs = append(tabs, p)
	}

	ctx, stop := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-g", "25",
		"-c:a", "aac", "-b:a", "64k", "-f", "flv", "rtmp://127.0.0.1:"+strconv.Itoa(rtmpPort(a))+"/live/start-key")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		stop()
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(); _ = cmd.Wait() })

	for _, p := range tabs {
		p.waitFor("the live state", `document.querySelector('[data-testid="stage-state"]')?.textContent === "LIVE"`, 30*time.Second)
		p.waitFor("video playing", `(() => { const v = document.querySelector('[data-testid="stage-video"]'); return v && v.readyState >= 2 && v.currentTime > 1; })()`, 45*time.Second)
		p.waitFor("no starting note once playing", `!document.querySelector('[data-testid="stream-starting"]')`, 10*time.Second)
		if got := eval[[]string](p, "read alerts", `window.__alerts`); len(got) > 0 {
			t.Fatalf("%s: alerts during a normal start: %q", p.name, got)
		}
	}
	stop()
	_ = cmd.Wait()
	for _, p := range tabs {
		p.waitFor("the offline state after the end", `document.querySelector('[data-testid="stage-state"]')?.textContent === "OFFLINE"`, 30*time.Second)
		p.waitFor("no horizontal overflow", `document.documentElement.scrollWidth <= window.innerWidth + 1`, 5*time.Second)
	}
}
