package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserMembersPanelCloses: below 900 px the member list opens over
// the conversation from the bar's Members button, and lies over that very
// button; it has its own close button (as the channel list does), which
// hands focus back to the Members button. It had none: once opened, the
// list stayed until the page was left.
func TestBrowserMembersPanelCloses(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	owner := register(t, base, "lister")
	var s, ch struct {
		ID string `json:"id"`
	}
	together(t, base, "POST", "/servers", owner.Access, map[string]any{"name": "Roster"}, &s)
	together(t, base, "POST", "/servers/"+s.ID+"/channels", owner.Access, map[string]any{"name": "general", "type": "text"}, &ch)

	for _, vp := range []struct {
		name string
		w, h int64
	}{{"phone", 375, 740}, {"tablet", 800, 900}} {
		p := newTab(t, browser, "members-"+vp.name)
		p.do("viewport", chromedp.EmulateViewport(vp.w, vp.h, chromedp.EmulateMobile))
		signIn(p, base, owner, "/c/"+s.ID+"/"+ch.ID)
		p.waitFor("the Members button", `!!document.querySelector('[data-testid="members-toggle"]')?.offsetParent`, 10*time.Second)
		p.do("open the member list", chromedp.Click(chromedp.CSS(`[data-testid="members-toggle"]`)))
		p.waitFor("the member list open", `(() => { const m = document.querySelector('aside.members.open'); return !!m && getComputedStyle(m).display !== "none"; })() && document.querySelector('[data-testid="member-count"]')?.textContent.trim() === "1 member"`, 10*time.Second)
		p.waitFor("a close button in view", `(() => { const b = document.querySelector('[data-testid="members-close"]'); if (!b || getComputedStyle(b).display === "none") return false; const r = b.getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth && document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === b; })()`, 5*time.Second)
		p.screenshot("members-open-" + vp.name)
		p.do("close the member list", chromedp.Click(chromedp.CSS(`[data-testid="members-close"]`)))
		p.waitFor("the member list closed, focus on its button", `!document.querySelector('aside.members.open') && getComputedStyle(document.querySelector('aside.members')).display === "none" && document.activeElement === document.querySelector('[data-testid="members-toggle"]')`, 5*time.Second)
	}
}
