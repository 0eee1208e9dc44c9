package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserVoice: two people join a community's voice channel; their
// browsers connect to each other over WebRTC (signalled through the
// Together gateway's VOICE_SIGNAL relay) and each receives the other's
// (fake) microphone.
func TestBrowserVoice(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	erin := newTab(t, browser, "erin")
	finn := newTab(t, browser, "finn")

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

	erin.do("join voice", chromedp.Click(chromedp.CSS(`[data-testid="voice-toggle"]`)))
	finn.waitFor("erin in the channel", `document.querySelector(".voice ul")?.textContent.includes("erin_web")`, 10*time.Second)
	finn.do("join voice", chromedp.Click(chromedp.CSS(`[data-testid="voice-toggle"]`)))
	for _, p := range []*page{erin, finn} {
		p.waitFor("a connected peer", `[...document.querySelectorAll('[data-testid="peer-state"]')].some(e => e.textContent === "connected")`, 20*time.Second)
		p.waitFor("the other's audio", `(() => { const a = document.querySelector('[data-testid="voice-audio"]'); return !!a && a.srcObject && a.srcObject.getAudioTracks().length > 0 && a.srcObject.getAudioTracks()[0].readyState === "live"; })()`, 10*time.Second)
	}
	erin.screenshot("voice")

	finn.do("leave voice", chromedp.Click(chromedp.CSS(`[data-testid="voice-toggle"]`)))
	erin.waitFor("finn gone", `!document.querySelector(".voice ul")?.textContent.includes("finn_web") && !document.querySelector('[data-testid="voice-audio"]')`, 10*time.Second)
}
