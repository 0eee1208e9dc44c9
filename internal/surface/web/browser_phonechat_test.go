package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// inputOnScreen is true when the input that sel finds lies wholly inside the
// viewport with the page unscrolled.
func inputOnScreen(sel string) string {
	return `(() => {
	const i = document.querySelector(` + jsString(sel) + `);
	if (!i || document.querySelector("main").scrollTop !== 0 || window.scrollY !== 0) return false;
	const r = i.getBoundingClientRect();
	return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0 && r.right <= window.innerWidth;
})()`
}

// TestBrowserPhoneChatOnScreen: on a 390×844 phone the chat input of /live and
// of a community's stage channel is on screen when the page opens, without
// scrolling (it used to sit below the fold under a fixed-height chat box).
func TestBrowserPhoneChatOnScreen(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c := newCommunity(t, base)
	browser := newBrowser(t)
	p := newTab(t, browser, "phone-chat")
	p.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))

	p.do("open /live", chromedp.Navigate(base+"/live"))
	p.waitFor("the stage chat input", `!!document.querySelector('[data-testid="stage-chat-input"]')`, 15*time.Second)
	p.waitFor("/live's chat input on screen", inputOnScreen(`[data-testid="stage-chat-input"]`), 10*time.Second)
	p.waitFor("no horizontal overflow on /live", `document.documentElement.scrollWidth <= window.innerWidth + 1`, 5*time.Second)
	p.screenshot("phone-live-chat")

	signIn(p, base, c.alice, c.channelPath())
	p.waitFor("the channel list toggle", `!!document.querySelector('button[aria-label="Show channels"]')`, 10*time.Second)
	eval[bool](p, "open the channel list", `(() => { document.querySelector('button[aria-label="Show channels"]').click(); return true; })()`)
	p.waitFor("the add-channel form", `!!document.getElementById("ch-kind")`, 10*time.Second)
	eval[bool](p, "choose the stage kind", `(() => { const s = document.getElementById("ch-kind"); s.value = "stage"; s.dispatchEvent(new Event("change", { bubbles: true })); return true; })()`)
	p.do("add a stage channel",
		chromedp.SendKeys(chromedp.ID("ch-name"), "Concerts"),
		chromedp.Click(chromedp.CSS(`form.add button[type="submit"]`)),
	)
	p.waitFor("the stage channel", `document.querySelector('[data-testid="stage-title"]')?.textContent.toLowerCase() === "concerts"`, 15*time.Second)
	p.waitFor("the channel's chat composer", `!!document.querySelector('[data-testid="composer"]')`, 15*time.Second)
	p.waitFor("the stage channel's chat composer on screen", inputOnScreen(`[data-testid="composer"]`), 10*time.Second)
	p.waitFor("no horizontal overflow in the stage channel", `document.documentElement.scrollWidth <= window.innerWidth + 1`, 5*time.Second)
	p.screenshot("phone-stage-channel-chat")
}
