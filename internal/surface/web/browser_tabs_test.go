package web_test

import (
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserTwoTabsRefresh: two tabs of one browser (shared localStorage)
// both find their access token expired and refresh at the same moment; the
// session survives in both (one rotation shared between the tabs, and the
// server's grace for a repeat), and the stored refresh token still works.
// Desktop and a 390×844 phone.
func TestBrowserTwoTabsRefresh(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	a := newTab(t, browser, "tab-a")
	signUp(a, base, "two_tabs", "")
	// A second tab in the same browser context.
	bctx, cancel := chromedp.NewContext(a.ctx)
	t.Cleanup(cancel)
	// Open it now, on a context without a deadline (as newTab does).
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("open the second tab: %v", err)
	}
	b := &page{t: t, name: "tab-b", ctx: bctx, logs: a.logs}
	b.do("phone viewport", chromedp.EmulateViewport(390, 844))
	b.do("open the app", chromedp.Navigate(base+"/"))
	b.waitFor("signed in in the second tab", `document.querySelector('[data-testid="me-link"]')?.textContent.includes("two_tabs")`, 15*time.Second)
	first := eval[string](a, "read the refresh token", `localStorage.getItem("together_refresh_token")`)

	// Expire the access token for both tabs, then load both at once.
	eval[bool](a, "break the access token", `(localStorage.setItem("together_access_token", "expired"), true)`)
	var wg sync.WaitGroup
	for _, p := range []*page{a, b} {
		wg.Go(func() { p.do("reload", chromedp.Reload()) })
	}
	wg.Wait()
	for _, p := range []*page{a, b} {
		p.waitFor("still signed in after the refresh", `document.querySelector('[data-testid="me-link"]')?.textContent.includes("two_tabs")`, 15*time.Second)
	}
	a.waitFor("the token rotated", `localStorage.getItem("together_refresh_token") !== `+jsString(first), 10*time.Second)
	status := eval[float64](a, "the stored refresh token works", `fetch("/auth/refresh", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({refresh_token: localStorage.getItem("together_refresh_token")})}).then(async r => { if (r.ok) { const j = await r.json(); localStorage.setItem("together_access_token", j.access_token); localStorage.setItem("together_refresh_token", j.refresh_token); } return r.status; })`)
	if status != 200 {
		t.Fatalf("refresh with the stored token after two tabs refreshed: HTTP %v, want 200 (the session was revoked)", status)
	}
	b.waitFor("no horizontal overflow", `document.documentElement.scrollWidth <= window.innerWidth + 1`, 5*time.Second)
}
