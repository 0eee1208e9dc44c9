package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// TestBrowserAdminPhoneRowActions: on a 390×844 phone every admin tab's
// controls are on screen without sideways scrolling: the Users table
// stacks each account's cells with Disable beside the name (before, the
// table scrolled sideways in its box and Disable started off-screen), and
// the lists with long entries (webhooks, tokens) keep their buttons in the
// viewport. A table with no actions (video variants) may still scroll in
// its own box (TestBrowserPhoneLayout).
func TestBrowserAdminPhoneRowActions(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	long := "a_rather_long_user_name_1234567"
	register(t, base, long)
	register(t, base, "bob")
	hook := "https://hooks.example.com/" + strings.Repeat("deliveries/", 8) + "end"
	adminPost(t, base, "/api/admin/webhooks/create", map[string]any{"url": hook, "events": []string{"CHAT", "STREAM_STARTED", "STREAM_STOPPED", "USER_JOINED"}})
	adminPost(t, base, "/api/admin/accesstokens/create", map[string]any{"name": "a bot with quite a long display name", "scopes": []string{"CAN_SEND_SYSTEM_MESSAGES", "CAN_SEND_MESSAGES", "HAS_ADMIN_ACCESS"}})

	browser := newBrowser(t)
	p := newTab(t, browser, "admin-phone")
	p.do("viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	answerBasicPrompts(p, fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseProvideCredentials, Username: "admin", Password: adminPassword})
	p.do("open the users tab", chromedp.Navigate(base+"/admin/users"))
	p.waitFor("the accounts", `document.querySelectorAll('section.body table tbody tr').length === 3`, 30*time.Second)
	row := `[...document.querySelectorAll('section.body table tbody tr')].find(r => r.textContent.includes(` + jsString(long) + `))`
	p.waitFor("Disable on screen, beside the name", `(() => { const b = `+row+`.querySelector("button"); const r = b.getBoundingClientRect(), n = `+row+`.querySelector("td").getBoundingClientRect(); return r.left >= 0 && r.right <= window.innerWidth && Math.abs(r.top - n.top) < r.height; })()`, 10*time.Second)
	p.screenshot("users")

	onScreen := `(() => {
		const out = [...document.querySelectorAll("section.body button, section.body input, section.body select, section.body a")]
			.filter(e => e.getClientRects().length && !e.closest(".sr-only"))
			.filter(e => { const r = e.getBoundingClientRect(); return r.left < -1 || r.right > window.innerWidth + 1; });
		return out.length === 0 && document.documentElement.scrollWidth <= window.innerWidth + 1;
	})()`
	for _, s := range []struct{ section, ready string }{
		{"users", `document.querySelectorAll('section.body table tbody tr').length === 3`},
		{"overview", `!!document.querySelector('[data-testid="admin-online"]')`},
		{"video", `!!document.querySelector('[data-testid="variants"]')`},
		{"settings", `!!document.getElementById("set-name")`},
		{"chat", `document.querySelector("section.body h1")?.textContent.includes("Chat")`},
		{"emoji", `!!document.querySelector('[data-testid="admin-emoji"]')`},
		{"webhooks", `document.querySelector("section.body")?.textContent.includes("hooks.example.com")`},
		{"tokens", `document.querySelector("section.body")?.textContent.includes("quite a long display name")`},
		{"recordings", `!!document.querySelector('[data-testid="recording-usage"]')`},
		{"featured", `document.querySelector("section.body h1")?.textContent.includes("Featured")`},
	} {
		path := "/admin/" + s.section
		if s.section == "overview" {
			path = "/admin/"
		}
		eval[bool](p, "open "+s.section, `(() => { document.querySelector('nav.side a[href="`+path+`"]').click(); return true; })()`)
		p.waitFor(s.section+" loaded", `location.pathname === "`+path+`" && `+s.ready, 15*time.Second)
		p.waitFor(s.section+": every control on screen, no sideways scrolling", onScreen, 5*time.Second)
	}
}
