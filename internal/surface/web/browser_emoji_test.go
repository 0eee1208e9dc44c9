package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserReactionEmoji: a reaction's emoji is drawn in colour from the
// app's own emoji font, on a machine that has no emoji font (the test
// browser's has none: without the app's font the glyph is an empty box), at
// desktop width and on a 390×844 phone.
func TestBrowserReactionEmoji(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	for _, vp := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		p := newTab(t, browser, "emoji-"+vp.name)
		p.do("viewport", chromedp.EmulateViewport(vp.w, vp.h))
		signUp(p, base, "emoji_"+vp.name, "")
		p.do("create a community",
			chromedp.WaitVisible(chromedp.ID("new-community")),
			chromedp.SendKeys(chromedp.ID("new-community"), "Emoji "+vp.name),
			chromedp.Click(chromedp.CSS(`form[aria-labelledby="create-title"] button[type="submit"]`)),
		)
		p.waitFor("the composer", `!!document.querySelector('[data-testid="composer"]')`, 15*time.Second)
		p.do("send a message", chromedp.SendKeys(chromedp.CSS(`[data-testid="composer"]`), "react to me\r"))
		msg := `[...document.querySelectorAll('[data-testid="message"]')].find(m => m.textContent.includes("react to me"))`
		p.waitFor("the message", `!!`+msg, 10*time.Second)
		eval[bool](p, "react with a thumbs-up", `(() => { const m = `+msg+`; m.querySelector("details.react").setAttribute("open", ""); m.querySelector('button[aria-label="React 👍"]').click(); return true; })()`)
		chip := msg + `.querySelector('.reactions .chip[aria-label="👍 1"]')`
		p.waitFor("the reaction chip", `!!`+chip, 10*time.Second)
		p.waitFor("the chip's font stack names the app's emoji font", `getComputedStyle(`+chip+`).fontFamily.includes("Hearth Emoji")`, 5*time.Second)
		// Showing the chip makes the browser fetch the font (its
		// unicode-range matches the emoji).
		p.waitFor("the emoji font loaded", `[...document.fonts].some(f => f.family.replace(/"/g, "") === "Hearth Emoji" && f.status === "loaded")`, 15*time.Second)
		// Drawn with that font alone, the emoji has coloured ink: a
		// missing glyph would be a black box or nothing.
		p.waitFor("a coloured thumbs-up", `(() => {
			const c = document.createElement("canvas"); c.width = c.height = 48;
			const x = c.getContext("2d"); x.font = '40px "Hearth Emoji"'; x.textBaseline = "top"; x.fillText("👍", 2, 2);
			const d = x.getImageData(0, 0, 48, 48).data; let ink = 0, colour = 0;
			for (let i = 0; i < d.length; i += 4) { if (d[i+3] > 0) { ink++; if (Math.max(d[i], d[i+1], d[i+2]) - Math.min(d[i], d[i+1], d[i+2]) > 60) colour++; } }
			return ink > 100 && colour > 50; })()`, 10*time.Second)
		p.waitFor("no horizontal overflow", `document.documentElement.scrollWidth <= window.innerWidth + 1`, 5*time.Second)
		p.screenshot("reaction-emoji-" + vp.name)
	}
}
