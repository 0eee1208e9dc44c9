package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserMarkdown: a community message typed in Markdown shows as
// formatted text (bold, code, fence, quote, list, link), raw HTML in it stays
// text, at desktop width and on a 390×844 phone.
func TestBrowserMarkdown(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	for _, vp := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		p := newTab(t, browser, "md-"+vp.name)
		p.do("viewport", chromedp.EmulateViewport(vp.w, vp.h))
		signUp(p, base, "md_"+vp.name, "")
		p.do("create a community",
			chromedp.WaitVisible(chromedp.ID("new-community")),
			chromedp.SendKeys(chromedp.ID("new-community"), "Markdown "+vp.name),
			chromedp.Click(chromedp.CSS(`form[aria-labelledby="create-title"] button[type="submit"]`)),
		)
		p.waitFor("the composer", `!!document.querySelector('[data-testid="composer"]')`, 15*time.Second)
		msg := "**bold** `code` ~~gone~~ [link](https://example.com) <img src=x onerror=alert(1)>\n```\nfenced <b>\n```\n> quoted\n- one\n- two"
		eval[bool](p, "type the message", `(() => { const c = document.querySelector('[data-testid="composer"]'); c.value = `+jsString(msg)+`; c.dispatchEvent(new Event("input", {bubbles: true})); return true; })()`)
		p.do("send", chromedp.Click(chromedp.CSS(`.composer button[type="submit"]`)))
		body := `[...document.querySelectorAll('[data-testid="message-body"]')].at(-1)`
		p.waitFor("the formatted message", `(() => { const b = `+body+`; return !!b && b.querySelector("strong")?.textContent === "bold" && b.querySelector("p code")?.textContent === "code" && b.querySelector("del")?.textContent === "gone" && b.querySelector("pre code")?.textContent === "fenced <b>" && b.querySelector("blockquote")?.textContent === "quoted" && b.querySelectorAll("ul li").length === 2; })()`, 10*time.Second)
		p.waitFor("the link, without the closing bracket", `(() => { const a = `+body+`.querySelector("a"); return a.getAttribute("href") === "https://example.com" && a.textContent === "link" && a.rel.includes("noopener"); })()`, 5*time.Second)
		p.waitFor("raw HTML as text", `(() => { const b = `+body+`; return !b.querySelector("img") && b.textContent.includes("<img src=x onerror=alert(1)>"); })()`, 5*time.Second)
		// Controls are drawn (SVG), not emoji that need an emoji font.
		p.waitFor("SVG icons on the controls", `!!document.querySelector('[data-testid="pins-toggle"] svg[data-icon="pin"]') && !!document.querySelector('label.attach svg[data-icon="attach"]') && !/\p{Extended_Pictographic}/u.test(document.querySelector('[data-testid="pins-toggle"]').textContent + document.querySelector('label.attach').textContent)`, 5*time.Second)
		p.waitFor("a drawn channel-kind icon", `!!document.querySelector('svg[data-icon="hash"]')`, 5*time.Second)
		// A reply: its tools, shown on focus, do not cover the line that
		// says what it answers. (Headless Chromium reports no hover, so
		// this checks the touch layout; the floating desktop toolbar's
		// placement is CSS that this test does not reach.)
		eval[bool](p, "reply to it", `(() => { const m = [...document.querySelectorAll('[data-testid="message"]')].at(-1); m.querySelector('button[aria-label="Reply"]').click(); return true; })()`)
		p.do("type the reply", chromedp.SendKeys(chromedp.CSS(`[data-testid="composer"]`), "agreed\r"))
		reply := `[...document.querySelectorAll('[data-testid="message"]')].find(m => m.querySelector(".reply") && m.textContent.includes("agreed"))`
		p.waitFor("the reply", `!!`+reply, 10*time.Second)
		p.waitFor("tools beside the author line, not over the reply line", `(() => { const m = `+reply+`; const b = m.querySelector('button[aria-label="Reply"]'); b.focus(); const t = b.parentElement.getBoundingClientRect(), r = m.querySelector(".reply").getBoundingClientRect(); return getComputedStyle(b.parentElement).opacity === "1" && (t.top >= r.bottom - 1 || t.bottom <= r.top + 1); })()`, 5*time.Second)
		p.waitFor("no horizontal overflow", `document.documentElement.scrollWidth <= window.innerWidth + 1`, 5*time.Second)
		p.screenshot("markdown-" + vp.name)
	}
}
