package web_test

import (
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/config"
)

// TestBrowserSignOutAfterExpiry: signing out of a tab whose access token
// has expired (15 minutes idle by default) still ends the session on the
// server: the refresh token this browser forgets no longer renews. The
// sign-out sent the expired token as it was, the server answered 401 and
// the refresh token stayed good for days. Ending the session also signs
// the watch-room token out, without the OTT logout the page used to send
// after it (answered 400 "Not logged in.", a console error on every
// sign-out).
func TestBrowserSignOutAfterExpiry(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, func(c *config.Config) { c.AccessTokenTTL = 2 * time.Second })
	a := register(t, base, "leaver")
	p := newTab(t, newBrowser(t), "leaver")
	signIn(p, base, a, "/rooms")
	p.waitFor("the watch-room token signed in as the account", `await fetch("/api/user", {headers: {Authorization: "Bearer " + localStorage.getItem("ott_token")}}).then(r => r.json()).then(u => u.loggedIn === true)`, 15*time.Second)
	p.waitFor("the tab's access token expired", `await fetch("/users/@me", {headers: {Authorization: "Bearer " + localStorage.getItem("together_access_token")}}).then(r => r.status === 401)`, 15*time.Second)

	refresh := eval[string](p, "sign out", `(() => {
		const r = localStorage.getItem("together_refresh_token");
		[...document.querySelectorAll("button")].find(b => b.textContent.trim() === "Sign out").click();
		return r;
	})()`)
	p.waitFor("signed out", `!localStorage.getItem("together_refresh_token") && !!document.querySelector('a[href="/login"]')`, 15*time.Second)
	// One try: a refresh token used again soon after its rotation answers
	// the same new pair (a retry), so polling would rotate it away.
	if status := eval[int](p, "renew with the forgotten refresh token", `fetch("/auth/refresh", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({refresh_token: `+jsString(refresh)+`})}).then(r => r.status)`); status != 401 {
		t.Errorf("the refresh token of the signed-out session renewed: HTTP %d, want 401", status)
	}
	p.waitFor("the watch-room token a guest again", `await fetch("/api/user", {headers: {Authorization: "Bearer " + localStorage.getItem("ott_token")}}).then(r => r.json()).then(u => u.loggedIn === false)`, 15*time.Second)
	if bad := eval[string](p, "failed sign-out requests", `performance.getEntriesByType("resource").filter(e => e.name.includes("/api/user/logout") && e.responseStatus >= 400).map(e => e.name + " " + e.responseStatus).join(", ")`); bad != "" {
		t.Errorf("sign-out sent a request the server refused: %s", bad)
	}
}
