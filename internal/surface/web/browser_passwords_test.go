package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

var viewports = []struct {
	name string
	w, h int64
}{{"desktop", 1280, 800}, {"phone", 390, 844}}

// fill sets an input's or select's value the way typing or choosing does
// (Svelte's bind:value listens to input and change).
func fill(p *page, sel, value string) {
	p.t.Helper()
	p.waitFor("the field "+sel, `!!document.querySelector(`+jsString(sel)+`)`, 30*time.Second)
	eval[bool](p, "fill "+sel, `(() => { const e = document.querySelector(`+jsString(sel)+`); e.value = `+jsString(value)+`;
		e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`)
}

// loginStatus is the HTTP status of Together's sign-in with name/password.
func loginStatus(t *testing.T, base, name, password string) int {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"username": name, "password": password})
	res, err := http.Post(base+"/auth/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	return res.StatusCode
}

func adminAccount(t *testing.T, base, password string) account {
	t.Helper()
	var r struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
		User    struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	together(t, base, "POST", "/auth/login", "", map[string]string{"username": "admin", "password": password}, &r)
	return account{ID: r.User.ID, Name: "admin", Access: r.Access, Refresh: r.Refresh}
}

// TestBrowserAdminOneSignIn: the instance admin signed in to the app opens
// /admin/ (a full page load, no Basic credentials anywhere) and every tab
// works on that session: the overview (Owncast's admin API), the Users tab
// (Together's), setting another account's password, and changing the
// admin password itself, after which the admin stays signed in. Desktop
// and a 390×844 phone.
func TestBrowserAdminOneSignIn(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	register(t, base, "bob")
	adminPass := adminPassword
	for i, vp := range viewports {
		p := newTab(t, browser, "admin-"+vp.name)
		p.do("viewport", chromedp.EmulateViewport(vp.w, vp.h))
		signIn(p, base, adminAccount(t, base, adminPass), "/")
		p.waitFor("the Admin link", `!!document.querySelector('nav a[href="/admin/"]')`, 30*time.Second)
		p.do("open the admin", chromedp.Navigate(base+"/admin/"))
		p.waitFor("the overview, on the app's session", `!!document.querySelector('[data-testid="admin-online"]')`, 30*time.Second)
		p.waitFor("no admin sign-in form", `!document.querySelector("#adm-pass")`, 5*time.Second)
		p.waitFor("no sign-up in the admin header", `![...document.querySelectorAll("header.top a")].some(a => a.textContent === "Sign up" || a.textContent === "Sign in")`, 5*time.Second)

		p.do("open the users tab", chromedp.Navigate(base+"/admin/users"))
		p.waitFor("the users, on the app's session", `!!document.querySelector('[data-testid="set-password"] option[value]:not([value=""])')`, 30*time.Second)
		p.waitFor("no error", `!document.querySelector('[role="alert"]')`, 5*time.Second)
		bobPass := "bob-password-" + vp.name
		eval[bool](p, "choose bob", `(() => { const s = document.querySelector("#pw-user"); s.value = [...s.options].find(o => o.textContent === "bob").value; s.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`)
		fill(p, "#pw-set-new", bobPass)
		p.do("set bob's password", chromedp.Click(chromedp.CSS(`[data-testid="set-password"] button[type="submit"]`)))
		p.waitFor("the password was set", `document.querySelector('p[role="status"]')?.textContent.includes("Password set for bob")`, 30*time.Second)
		if code := loginStatus(t, base, "bob", bobPass); code != 200 {
			t.Fatalf("%s: bob signs in with the password the admin set: %d", vp.name, code)
		}

		next := "admin-password-" + vp.name + "-" + string(rune('a'+i))
		fill(p, "#admin-pw-current", adminPass)
		fill(p, "#admin-pw-new", next)
		fill(p, "#admin-pw-again", next)
		p.do("change the admin password", chromedp.Click(chromedp.CSS(`[data-testid="password-form"] button[type="submit"]`)))
		p.waitFor("the admin password changed", `!!document.querySelector('[data-testid="password-changed"]')`, 30*time.Second)
		if code := loginStatus(t, base, "admin", adminPass); code != 401 {
			t.Fatalf("%s: the old admin password still signs in: %d", vp.name, code)
		}
		adminPass = next
		// Still signed in, and the admin still opens on the new session.
		p.do("reload the admin", chromedp.Navigate(base+"/admin/users"))
		p.waitFor("the users again after the change", `!!document.querySelector('[data-testid="set-password"] option[value]:not([value=""])')`, 30*time.Second)
		p.waitFor("still signed in", `document.querySelector('[data-testid="me-link"]')?.textContent.includes("admin")`, 30*time.Second)
		p.waitFor("no horizontal overflow", `document.documentElement.scrollWidth <= window.innerWidth + 1`, 5*time.Second)
		p.screenshot("admin-users-" + vp.name)
	}
	if code := loginStatus(t, base, "admin", adminPass); code != 200 {
		t.Fatalf("the admin signs in with the new password: %d", code)
	}
}

// TestBrowserChangePassword: a user changes their own password in the
// app's settings (/me): a wrong current password is refused and leaves
// them signed in; the right one changes it, they stay signed in (a reload
// too), the old password no longer signs in and the new one does.
// Desktop and a 390×844 phone.
func TestBrowserChangePassword(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	for _, vp := range viewports {
		name := "pw_" + vp.name
		a := register(t, base, name)
		p := newTab(t, browser, "user-"+vp.name)
		p.do("viewport", chromedp.EmulateViewport(vp.w, vp.h))
		signIn(p, base, a, "/me")
		fill(p, "#pw-current", "not my password")
		fill(p, "#pw-new", "a brand new password")
		fill(p, "#pw-again", "a brand new password")
		p.do("submit with a wrong current password", chromedp.Click(chromedp.CSS(`[data-testid="password-form"] button[type="submit"]`)))
		p.waitFor("the refusal", `document.querySelector('[data-testid="password-form"] [role="alert"]')?.textContent.includes("Current password is incorrect")`, 30*time.Second)
		p.waitFor("still signed in", `document.querySelector('[data-testid="me-link"]')?.textContent.includes(`+jsString(name)+`)`, 5*time.Second)

		fill(p, "#pw-current", "correct horse battery")
		p.do("submit", chromedp.Click(chromedp.CSS(`[data-testid="password-form"] button[type="submit"]`)))
		p.waitFor("changed", `!!document.querySelector('[data-testid="password-changed"]')`, 30*time.Second)
		p.do("reload", chromedp.Reload())
		p.waitFor("still signed in after a reload", `document.querySelector('[data-testid="me-link"]')?.textContent.includes(`+jsString(name)+`)`, 30*time.Second)
		if code := loginStatus(t, base, name, "correct horse battery"); code != 401 {
			t.Fatalf("%s: the old password still signs in: %d", vp.name, code)
		}
		if code := loginStatus(t, base, name, "a brand new password"); code != 200 {
			t.Fatalf("%s: the new password does not sign in: %d", vp.name, code)
		}
		p.waitFor("no horizontal overflow", `document.documentElement.scrollWidth <= window.innerWidth + 1`, 5*time.Second)
		p.screenshot("settings-" + vp.name)
	}
}

// TestBrowserChannelTitle: a channel's name in the header shows whole on a
// 390×844 phone (it was cut to three letters by the search box) and on the
// desktop, with a topic set.
func TestBrowserChannelTitle(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	c := newCommunity(t, base)
	var ch struct {
		ID string `json:"id"`
	}
	together(t, base, "POST", "/servers/"+c.server+"/channels", c.alice.Access, map[string]any{"name": "announcements", "type": "text", "topic": "News from the garden committee"}, &ch)
	for _, vp := range viewports {
		p := newTab(t, browser, "title-"+vp.name)
		p.do("viewport", chromedp.EmulateViewport(vp.w, vp.h, chromedp.EmulateMobile))
		signIn(p, base, c.alice, "/c/"+c.server+"/"+ch.ID)
		p.waitFor("the channel title", `document.querySelector('[data-testid="channel-title"]')?.textContent.includes("announcements")`, 30*time.Second)
		p.waitFor("the name is not cut", `(() => { const h = document.querySelector('[data-testid="channel-title"]');
			const r = document.createRange(); r.selectNodeContents(h); const name = [...h.childNodes].find(n => n.nodeType === 3 && n.textContent.includes("announcements"));
			const nr = document.createRange(); nr.selectNodeContents(name); return nr.getBoundingClientRect().right <= h.getBoundingClientRect().right + 1; })()`, 30*time.Second)
		p.waitFor("no horizontal overflow", `document.documentElement.scrollWidth <= window.innerWidth + 1`, 5*time.Second)
		p.screenshot("channel-title-" + vp.name)
	}
}

// TestBrowserAdminSignInFromThe401: a browser with no session and no Basic
// credentials opening /admin/ gets the 401 page, whose link signs in to the
// app; signed in as the instance admin, the admin opens on that session
// (and opens again on a fresh page load, with no Basic credentials).
// Desktop and a 390×844 phone.
func TestBrowserAdminSignInFromThe401(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	for _, vp := range viewports {
		p := newTab(t, browser, "admin401-"+vp.name)
		p.do("viewport", chromedp.EmulateViewport(vp.w, vp.h))
		cancelBasicPrompts(p)
		p.do("open the admin", chromedp.Navigate(base+"/admin/"))
		p.waitFor("the 401 page's sign-in link", `!!document.querySelector('a[href="/login?next=%2Fadmin%2F"]')`, 30*time.Second)
		p.do("follow it", chromedp.Click(chromedp.CSS(`a[href="/login?next=%2Fadmin%2F"]`)))
		fill(p, "#login-username", "admin")
		fill(p, "#login-password", adminPassword)
		p.do("sign in", chromedp.Click(chromedp.CSS(`form button[type="submit"]`)))
		p.waitFor("the admin overview on the app's session", `!!document.querySelector('[data-testid="admin-online"]')`, 30*time.Second)
		p.do("load the admin afresh", chromedp.Navigate(base+"/admin/users"))
		p.waitFor("the users tab", `!!document.querySelector('[data-testid="set-password"]')`, 30*time.Second)
		p.waitFor("no horizontal overflow", `document.documentElement.scrollWidth <= window.innerWidth + 1`, 5*time.Second)
	}
}

// cancelBasicPrompts answers every Basic challenge of the admin pages in
// p as a person cancelling the browser's prompt does (headless Chromium
// otherwise fails the load), so the 401 page shows.
func cancelBasicPrompts(p *page) {
	p.t.Helper()
	answerBasicPrompts(p, fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseCancelAuth})
}

// answerBasicPrompts answers every Basic challenge under an admin path
// (the pages and /api/admin/) in p as a person at the browser's prompt
// does: cancel, or user name and password.
func answerBasicPrompts(p *page, answer fetch.AuthChallengeResponse) {
	p.t.Helper()
	events := make(chan any, 64)
	if err := chromedp.Listen(p.ctx, func(ev any) {
		switch ev.(type) {
		case *fetch.EventRequestPaused, *fetch.EventAuthRequired:
			select {
			case events <- ev:
			default:
			}
		}
	}); err != nil {
		p.t.Fatalf("listen: %v", err)
	}
	go func() {
		for ev := range events {
			var act chromedp.Action[chromedp.Void]
			switch e := ev.(type) {
			case *fetch.EventRequestPaused:
				act = chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
					_, err := cdp.Call(ctx, tg, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID})
					return chromedp.Void{}, err
				})
			case *fetch.EventAuthRequired:
				act = chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
					_, err := cdp.Call(ctx, tg, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{RequestID: e.RequestID,
						AuthChallengeResponse: &answer})
					return chromedp.Void{}, err
				})
			}
			_ = chromedp.Do(p.ctx, act) // the tab may be closing
		}
	}()
	on := true
	p.do("intercept the admin pages' challenges", chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{HandleAuthRequests: &on,
			Patterns: []*fetch.RequestPattern{{URLPattern: "*/admin/*"}}})
		return chromedp.Void{}, err
	}))
}

// TestBrowserSignInStaysOnThisSite: a sign-in link's next parameter that
// the URL parser reads as another host (a backslash, a tab after the first
// slash) leaves the browser on this site once signed in.
func TestBrowserSignInStaysOnThisSite(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	for i, next := range []string{"/%5Cevil.invalid/x", "/%09/evil.invalid/x"} {
		p := newTab(t, browser, fmt.Sprintf("next-%d", i))
		p.do("open the sign-in page", chromedp.Navigate(base+"/login?next="+next))
		eval[bool](p, "forget any session", `localStorage.clear(), true`)
		p.do("reload", chromedp.Navigate(base+"/login?next="+next))
		fill(p, "#login-username", "admin")
		fill(p, "#login-password", adminPassword)
		p.do("sign in", chromedp.Click(chromedp.CSS(`form button[type="submit"]`)))
		p.waitFor("home, on this site", fmt.Sprintf(`location.origin === %q && location.pathname === "/" && !!document.querySelector('[data-testid="me-link"]')`, base), 30*time.Second)
	}
}
