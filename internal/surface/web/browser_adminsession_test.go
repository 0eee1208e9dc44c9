package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// TestBrowserAdminWithoutAppSession: the admin who signs in at the
// browser's Basic prompt only (not to the app) gets the app's session from
// it: the Users tab works with no second sign-in, the header shows the
// admin signed in and offers no "Sign in / Sign up". Desktop and a 390×844
// phone.
func TestBrowserAdminWithoutAppSession(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	for _, vp := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		p := newTab(t, browser, "admin-"+vp.name)
		p.do("viewport", chromedp.EmulateViewport(vp.w, vp.h))
		answerBasicPrompts(p, fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseProvideCredentials, Username: "admin", Password: adminPassword})
		p.do("open the users tab", chromedp.Navigate(base+"/admin/users"))
		p.waitFor("the users, with no second sign-in", `!!document.querySelector('[data-testid="set-password"]')`, 30*time.Second)
		p.waitFor("no error", `!document.querySelector('[role="alert"]')`, 5*time.Second)
		p.waitFor("signed in to the app as the admin", `document.querySelector('[data-testid="me-link"]')?.textContent.includes("admin")`, 30*time.Second)
		p.waitFor("no sign-up in the admin header", `![...document.querySelectorAll("header.top a")].some(a => a.textContent === "Sign up" || a.textContent === "Sign in")`, 5*time.Second)
		p.screenshot("admin-users-" + vp.name)
	}
}
