package web_test

import (
	"strconv"
	"testing"
	"time"

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
	a, base := startApp(t, func(c *config.Config) {
		c.RTMPAddr = "127.0.0.1:0"
		c.RTCUDPAddr = "127.0.0.1:0"
		c.DefaultStreamKey = "browser-test-key"
	})
	publish(t, "rtmp://127.0.0.1:"+strconv.Itoa(rtmpPort(a))+"/live/browser-test-key")
	waitOnline(t, base)
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
