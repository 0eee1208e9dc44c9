package web_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/config"
)

// TestBrowserLiveWebRTC: with the WebRTC media plane on, the /live page
// plays the stage over WHEP (the <video> plays a MediaStream, not HLS) and
// its clock advances. ffmpeg publishes over RTMP, so this is the H.264
// packetized from FLV and the AAC transcoded to Opus.
func TestBrowserLiveWebRTC(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	base := liveOverWebRTC(t)
	viewer := newTab(t, newBrowser(t), "webrtc-viewer")
	viewer.do("open the stage", chromedp.Navigate(base+"/live"))
	viewer.waitFor("video playing over WebRTC", `(() => { const v = document.querySelector('[data-testid="stage-video"]'); return v && v.srcObject instanceof MediaStream && v.readyState >= 2 && v.currentTime > 0.5 && !v.paused; })()`, 45*time.Second)
	t0 := eval[float64](viewer, "read the clock", `document.querySelector('[data-testid="stage-video"]').currentTime`)
	viewer.waitFor("the clock advancing", `document.querySelector('[data-testid="stage-video"]').currentTime > `+strconv.FormatFloat(t0+1, 'f', 3, 64), 20*time.Second)
	if eval[bool](viewer, "still WebRTC", `document.querySelector('[data-testid="stage-video"]').srcObject instanceof MediaStream`) != true {
		t.Fatal("the player fell back to HLS")
	}
	viewer.screenshot("live-webrtc")
}

// liveOverWebRTC starts an app with the WebRTC media plane on and ffmpeg
// publishing to its default stage over RTMP, and returns once the stage is
// online.
func liveOverWebRTC(t *testing.T) (base string) {
	t.Helper()
	a, base := startApp(t, func(c *config.Config) {
		c.RTMPAddr = "127.0.0.1:0"
		c.RTCUDPAddr = "127.0.0.1:0"
		c.DefaultStreamKey = "browser-test-key"
	})
	publish(t, "rtmp://127.0.0.1:"+strconv.Itoa(rtmpPort(a))+"/live/browser-test-key")
	waitOnline(t, base)
	return base
}

// TestMeasureWebRTCLatency is a measurement, not a check (it asserts
// nothing about time): HEARTH_MEASURE_WEBRTC=1 go test -run
// TestMeasureWebRTCLatency -v ./internal/surface/web/. ffmpeg publishes
// 320x240@25 over RTMP (x264 zerolatency, 1 s keyframes, AAC); headless
// Chromium plays /live over WHEP; for 150 frames, requestVideoFrameCallback
// reports when each frame's last packet arrived (receiveTime) and when it
// is shown (expectedDisplayTime). The difference is the browser's share
// (jitter buffer, decode, render); the server forwards each frame in the
// ingest call that received it and loopback adds ~0.1 ms.
func TestMeasureWebRTCLatency(t *testing.T) {
	if os.Getenv("HEARTH_MEASURE_WEBRTC") == "" {
		t.Skip("a measurement: set HEARTH_MEASURE_WEBRTC=1")
	}
	needBrowser(t)
	a, base := startApp(t, func(c *config.Config) {
		c.RTMPAddr = "127.0.0.1:0"
		c.DefaultStreamKey = "browser-test-key"
	})
	publish(t, "rtmp://127.0.0.1:"+strconv.Itoa(rtmpPort(a))+"/live/browser-test-key")
	waitOnline(t, base)
	viewer := newTab(t, newBrowser(t), "webrtc-latency")
	viewer.do("open the stage", chromedp.Navigate(base+"/live"))
	viewer.waitFor("video playing over WebRTC", `(() => { const v = document.querySelector('[data-testid="stage-video"]'); return v && v.srcObject instanceof MediaStream && v.currentTime > 3; })()`, 60*time.Second)
	js := `new Promise(res => {
		const v = document.querySelector('[data-testid="stage-video"]'); const out = [];
		const f = (now, m) => { if (m.receiveTime) out.push(m.expectedDisplayTime - m.receiveTime);
			if (out.length < 150) v.requestVideoFrameCallback(f); else res(out); };
		v.requestVideoFrameCallback(f); })`
	ms := evalWithin[[]float64](viewer, "sample frames", js, 60*time.Second)
	slices.Sort(ms)
	t.Logf("receive → display over %d frames: min %.1f ms, median %.1f ms, p90 %.1f ms, max %.1f ms",
		len(ms), ms[0], ms[len(ms)/2], ms[len(ms)*9/10], ms[len(ms)-1])
	stats := evalWithin[map[string]float64](viewer, "read the jitter buffer", `(async () => {
		const v = document.querySelector('[data-testid="stage-video"]'); return {frames: v.getVideoPlaybackQuality().totalVideoFrames, dropped: v.getVideoPlaybackQuality().droppedVideoFrames}; })()`, 30*time.Second)
	t.Logf("frames %v, dropped %v", stats["frames"], stats["dropped"])
}

// TestBrowserLiveFallsBackWhenTheOfferHangs: a WHEP offer that gets no
// answer (here held by the browser's request interception, as a proxy
// that never answers would) is given up and the stage plays over HLS.
// Before, the page waited on the offer for ever with nothing playing.
func TestBrowserLiveFallsBackWhenTheOfferHangs(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	base := liveOverWebRTC(t)
	viewer := newTab(t, newBrowser(t), "viewer")
	// Paused requests wait until continued; none is.
	viewer.do("hold the WHEP offers", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/api/whep/*"}}})
		return chromedp.Void{}, err
	})
	viewer.do("open the stage", chromedp.Navigate(base+"/live"))
	viewer.waitFor("video playing over HLS", `(() => { const v = document.querySelector('[data-testid="stage-video"]'); return v && !v.srcObject && v.readyState >= 2 && v.currentTime > 0.5; })()`, 60*time.Second)
}
