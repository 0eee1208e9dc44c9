package web_test

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestBrowserAdminWithoutAppSession: the admin signed in with Basic only
// (not to the app) sees no "Sign in / Sign up" in the header, and the
// Users tab says it needs the app's session instead of failing with a 404.
// Desktop and a 390×844 phone.
func TestBrowserAdminWithoutAppSession(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	auth := base64.StdEncoding.EncodeToString([]byte("admin:" + adminPassword))
	setHeader := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": "Basic " + auth}})
		return chromedp.Void{}, err
	}
	for _, vp := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		p := newTab(t, browser, "admin-"+vp.name)
		p.do("viewport", chromedp.EmulateViewport(vp.w, vp.h))
		p.do("open the users tab", setHeader, chromedp.Navigate(base+"/admin/users"))
		p.waitFor("the users tab explains the session", `!!document.querySelector('[data-testid="users-need-session"] a[href^="/login"]')`, 15*time.Second)
		p.waitFor("no error", `!document.querySelector('[role="alert"]')`, 5*time.Second)
		p.waitFor("no sign-up in the admin header", `![...document.querySelectorAll("header.top a")].some(a => a.textContent === "Sign up" || a.textContent === "Sign in")`, 5*time.Second)
		p.screenshot("admin-users-" + vp.name)
	}
}
