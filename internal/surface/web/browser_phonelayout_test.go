package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserPhoneLayout: on a 390×844 phone the admin's video variants
// table stays inside the viewport (it scrolls in its own box instead of
// being clipped or widening the page), and a community of one says
// "1 member", not "1 members", and a reply's hover tools do not cover
// the line quoting what it answers. Desktop too.
func TestBrowserPhoneLayout(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	solo := register(t, base, "solo")
	var s, ch struct {
		ID string `json:"id"`
	}
	together(t, base, "POST", "/servers", solo.Access, map[string]any{"name": "Hermitage"}, &s)
	together(t, base, "POST", "/servers/"+s.ID+"/channels", solo.Access, map[string]any{"name": "general", "type": "text"}, &ch)
	// A reply to a long message: on a phone its quoted line would wrap to a
	// second line, under the hover tools; it stays one line instead.
	var parent struct {
		ID string `json:"id"`
	}
	together(t, base, "POST", "/channels/"+ch.ID+"/messages", solo.Access, map[string]any{"content": "a long first message that quotes far wider than a phone column can hold on one line"}, &parent)
	together(t, base, "POST", "/channels/"+ch.ID+"/messages", solo.Access, map[string]any{"content": "agreed", "reply_to": parent.ID}, nil)

	for _, vp := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		p := newTab(t, browser, "layout-"+vp.name)
		p.do("viewport", chromedp.EmulateViewport(vp.w, vp.h, chromedp.EmulateMobile))
		p.do("open the video tab", adminBasicAuth, chromedp.Navigate(base+"/admin/video"))
		p.waitFor("the variants table", `!!document.querySelector('[data-testid="variants"] table tbody tr')`, 15*time.Second)
		p.waitFor("the variants box inside the viewport",
			`(() => { const r = document.querySelector('[data-testid="variants"]').getBoundingClientRect(); return r.left >= 0 && r.right <= window.innerWidth; })()`, 5*time.Second)
		p.waitFor("every column reachable: the table fits or its box scrolls sideways",
			`(() => { const b = document.querySelector('[data-testid="variants"]'); return b.scrollWidth <= b.clientWidth || getComputedStyle(b).overflowX === "auto"; })()`, 5*time.Second)
		p.waitFor("the page no wider than the viewport", `document.documentElement.scrollWidth <= window.innerWidth`, 5*time.Second)
		p.screenshot("admin-variants-" + vp.name)

		q := newTab(t, browser, "members-"+vp.name)
		q.do("viewport", chromedp.EmulateViewport(vp.w, vp.h, chromedp.EmulateMobile))
		signIn(q, base, solo, "/c/"+s.ID+"/"+ch.ID)
		q.waitFor(`"1 member"`, `document.querySelector('aside.members [data-testid="member-count"]')?.textContent.trim() === "1 member"`, 10*time.Second)
		reply := `[...document.querySelectorAll('[data-testid="message"]')].find(m => m.querySelector(".reply"))`
		q.waitFor("the reply", `!!`+reply, 10*time.Second)
		q.waitFor("the reply's tools below its quoted line, which stays one line",
			`(() => { const m = `+reply+`; const b = m.querySelector('button[aria-label="Reply"]'); b.focus(); const t = b.parentElement.getBoundingClientRect(), r = m.querySelector(".reply").getBoundingClientRect(); return r.height < 1.6 * parseFloat(getComputedStyle(m.querySelector(".reply")).lineHeight) && (t.top >= r.bottom - 1 || t.bottom <= r.top + 1); })()`, 5*time.Second)
		q.waitFor("the channel's start line centred", `(() => { const e = document.querySelector('[data-testid="empty-state"]'); return !!e && getComputedStyle(e).textAlign === "center"; })()`, 10*time.Second)
		q.screenshot("members-" + vp.name)
	}
}
