package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/config"
)

// TestBrowserVoice: two people join a community's voice channel on a
// server without a media plane; their browsers connect to each other over
// WebRTC (signalled through the Together gateway's VOICE_SIGNAL relay) and
// each receives the other's (fake) microphone.
func TestBrowserVoice(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, func(c *config.Config) { c.RTCUDPAddr = "" }) // no SFU: the mesh
	erin, finn := voiceChannelPair(t, base)

	clickVoiceToggle(erin, "join voice")
	finn.waitFor("erin in the channel", `document.querySelector(".voice ul")?.textContent.includes("erin_web")`, 10*time.Second)
	clickVoiceToggle(finn, "join voice")
	for _, p := range []*page{erin, finn} {
		p.waitFor("a connected peer", `[...document.querySelectorAll('[data-testid="peer-state"]')].some(e => e.textContent === "connected")`, 20*time.Second)
		p.waitFor("the other's audio", `(() => { const a = document.querySelector('[data-testid="voice-audio"]'); return !!a && a.srcObject && a.srcObject.getAudioTracks().length > 0 && a.srcObject.getAudioTracks()[0].readyState === "live"; })()`, 10*time.Second)
	}
	erin.screenshot("voice")

	finn.waitFor("finn's call settled", voiceLeaveReady, 10*time.Second)
	clickVoiceToggle(finn, "leave voice")
	erin.waitFor("finn gone", `!document.querySelector(".voice ul")?.textContent.includes("finn_web") && !document.querySelector('[data-testid="voice-audio"]')`, 10*time.Second)
}

// TestBrowserVoiceSFU: the same two people on a server running the SFU;
// both turn their (fake) cameras on, and each sees the other's video
// frames advancing in the grid and hears the other's microphone, all
// through the server.
func TestBrowserVoiceSFU(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil) // the test config has a media plane
	erin, finn := voiceChannelPair(t, base)

	clickVoiceToggle(erin, "join voice")
	erin.waitFor("the SFU controls", `!!document.querySelector('[data-testid="voice-camera"]')`, 15*time.Second)
	finn.waitFor("erin in the channel", `document.querySelector(".voice ul")?.textContent.includes("erin_web")`, 10*time.Second)
	clickVoiceToggle(finn, "join voice")
	finn.waitFor("the SFU controls", `!!document.querySelector('[data-testid="voice-camera"]')`, 15*time.Second)
	for _, p := range []*page{erin, finn} {
		p.do("turn the camera on", chromedp.Click(chromedp.CSS(`[data-testid="voice-camera"]`)))
	}
	for _, p := range []*page{erin, finn} {
		p.waitFor("the other's audio", `[...document.querySelectorAll('[data-testid="voice-audio"]')].some(a => a.srcObject && a.srcObject.getAudioTracks().some(t => t.readyState === "live"))`, 20*time.Second)
		// The count is the element's own: a tile re-rendered (a layer or
		// track change) starts again from 0, so the baseline follows the
		// element. The wait is long because two tabs decoding video on a
		// loaded 2-core CI machine can be slow to start; speed is no verdict.
		p.waitFor("the other's video frames advancing", `(() => {
			const v = document.querySelector('[data-testid="voice-video"]');
			if (!v || !v.getVideoPlaybackQuality) return false;
			if (window.__framesOf !== v) { window.__framesOf = v; window.__frames0 = undefined; }
			const n = v.getVideoPlaybackQuality().totalVideoFrames;
			if (window.__frames0 === undefined) { if (n > 0) window.__frames0 = n; return false; }
			return n > window.__frames0 + 5;
		})()`, 90*time.Second)
	}
	erin.screenshot("voice-sfu")
	finn.waitFor("finn's call settled", voiceLeaveReady, 10*time.Second)
	clickVoiceToggle(finn, "leave voice")
	erin.waitFor("finn's video gone", `!document.querySelector('[data-testid="voice-video"]')`, 15*time.Second)
}

// clickVoiceToggle clicks the voice channel's Join/Leave toggle.
func clickVoiceToggle(p *page, what string) {
	p.t.Helper()
	p.do(what, chromedp.Click(chromedp.CSS(`[data-testid="voice-toggle"]`)))
}

// joinSettled waits until p's join of the voice channel settles, and
// fails the test if it failed (an alert shows).
func joinSettled(t *testing.T, p *page, timeout time.Duration) {
	t.Helper()
	p.waitFor("the join settled", `(`+voiceLeaveReady+`) || !!document.querySelector('[role="alert"]')`, timeout)
	if msg := eval[string](p, "read the alert", `document.querySelector('[role="alert"]')?.textContent ?? ""`); msg != "" {
		t.Fatalf("the join failed: %s", msg)
	}
}

// voiceLeaveReady: the voice channel's toggle leaves the call when clicked
// (it is enabled, not settling a join, and we are in the call; a click on
// "Join voice" after the call ended under us would join again).
const voiceLeaveReady = `(() => { const b = document.querySelector('[data-testid="voice-toggle"]'); return !!b && !b.disabled && b.textContent.includes("Leave"); })()`

// voiceChannelPair: erin makes a community with a voice channel and
// invites finn; both end on the voice channel's page, sockets up.
func voiceChannelPair(t *testing.T, base string) (erin, finn *page) {
	t.Helper()
	browser := newBrowser(t)
	erin = newTab(t, browser, "erin")
	finn = newTab(t, browser, "finn")

	signUp(erin, base, "erin_web", "")
	erin.do("create a community",
		chromedp.WaitVisible(chromedp.ID("new-community")),
		chromedp.SendKeys(chromedp.ID("new-community"), "Band Practice"),
		chromedp.Click(chromedp.CSS(`form[aria-labelledby="create-title"] button[type="submit"]`)),
	)
	erin.waitFor("the text channel", `!!document.querySelector('[data-testid="composer"]')`, 15*time.Second)
	erin.do("name a voice channel", chromedp.SendKeys(chromedp.ID("ch-name"), "lounge"))
	eval[bool](erin, "choose the voice kind", `(() => { const k = document.getElementById("ch-kind"); k.value = "voice"; return k.dispatchEvent(new Event("change", { bubbles: true })); })()`)
	erin.do("add the voice channel", chromedp.Click(chromedp.CSS(`form.add button[type="submit"]`)))
	erin.waitFor("the voice channel", `!!document.querySelector('[data-testid="voice-toggle"]')`, 10*time.Second)
	voicePath := eval[string](erin, "read the voice channel path", `location.pathname`)
	erin.do("create an invite", chromedp.Click(chromedp.CSS(`.invite button`)))
	erin.waitFor("the invite link", `!!document.querySelector('[data-testid="invite-link"]')?.value`, 10*time.Second)
	link := eval[string](erin, "read the invite link", `document.querySelector('[data-testid="invite-link"]').value`)

	signUp(finn, base, "finn_web", "")
	finn.do("accept the invite",
		chromedp.Navigate(base+"/invite/"+link[strings.LastIndex(link, "/")+1:]),
		chromedp.WaitVisible(chromedp.CSS(`.card button.primary`)),
		chromedp.Click(chromedp.CSS(`.card button.primary`)),
	)
	finn.waitFor("the community", `!!document.querySelector('[data-testid="composer"]')`, 15*time.Second)
	finn.do("open the voice channel", chromedp.Navigate(base+voicePath))
	finn.waitFor("the voice channel", `!!document.querySelector('[data-testid="voice-toggle"]')`, 15*time.Second)
	for _, p := range []*page{erin, finn} {
		p.waitFor("the gateway socket", `!document.querySelector('[data-testid="reconnecting"]')`, 10*time.Second)
	}
	return erin, finn
}
