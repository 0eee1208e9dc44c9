package web_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/config"
)

// TestBrowserReconnect: the server goes away under an open channel; the
// page says it is reconnecting, and when the server is back (same port,
// same data) the gateway reconnects by itself and live messages flow again.
func TestBrowserReconnect(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	// The first node binds a port the OS picks; the restarted one binds the
	// same number again (that is the scenario under test).
	cfg := testAppConfig(t, nil)
	a, stop := runApp(t, cfg)
	base := a.HTTP.URL()
	cfg.Addr = strings.TrimPrefix(base, "http://")
	browser := newBrowser(t)
	p := newTab(t, browser, "carol")

	signUp(p, base, "carol_web", "")
	p.do("create a community",
		chromedp.WaitVisible(chromedp.ID("new-community")),
		chromedp.SendKeys(chromedp.ID("new-community"), "Night Owls"),
		chromedp.Click(chromedp.CSS(`form[aria-labelledby="create-title"] button[type="submit"]`)),
	)
	p.waitFor("the text channel", `!!document.querySelector('[data-testid="composer"]')`, 15*time.Second)
	p.waitFor("no reconnecting banner", `!document.querySelector('[data-testid="reconnecting"]')`, 10*time.Second)
	// The socket is open (no banner shows while the first one connects).
	before := readies(p)

	stop()
	p.waitFor("the reconnecting banner", `document.querySelector('[data-testid="reconnecting"]')?.textContent.includes("Reconnecting")`, 15*time.Second)

	_, stop2 := runApp(t, cfg)
	t.Cleanup(stop2)
	// Backoff waits at most 30 s between attempts; "Retry now" skips it,
	// but the page must also get there on its own.
	p.waitFor("reconnected", `!document.querySelector('[data-testid="reconnecting"]') && window.__readies > `+strconv.Itoa(before), 40*time.Second)

	// A message posted by another client reaches the page only through the
	// (re)connected gateway.
	channel := eval[string](p, "read the channel id", `location.pathname.split("/")[3]`)
	token := eval[string](p, "read the access token", `localStorage.getItem("together_access_token")`)
	body := `{"content":"still here after the restart"}`
	req, err := http.NewRequest("POST", base+"/channels/"+channel+"/messages", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("post a message: HTTP %d", res.StatusCode)
	}
	p.waitFor("the message, live", `[...document.querySelectorAll('[data-testid="message-body"]')].some(e => e.textContent === "still here after the restart")`, 10*time.Second)
	if strings.Contains(p.text(), "failed") {
		t.Fatalf("the page shows an error after reconnecting: %s", p.text())
	}
}

// TestBrowserRefreshOn401: with access tokens that live 2 s, an action after
// expiry still works: the app gets a 401, rotates the refresh token once via
// /auth/refresh, and retries.
func TestBrowserRefreshOn401(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, func(c *config.Config) { c.AccessTokenTTL = 2 * time.Second })
	p := newTab(t, newBrowser(t), "dave")
	signUp(p, base, "dave_web", "")
	access := eval[string](p, "read the access token", `localStorage.getItem("together_access_token")`)
	refresh := eval[string](p, "read the refresh token", `localStorage.getItem("together_refresh_token")`)
	// Wait for the token's own expiry (its exp claim), not a fixed time.
	p.waitFor("the access token to expire", `Date.now() / 1000 > JSON.parse(atob(localStorage.getItem("together_access_token").split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).exp + 1`, 10*time.Second)

	p.do("create a community with the expired token",
		chromedp.WaitVisible(chromedp.ID("new-community")),
		chromedp.SendKeys(chromedp.ID("new-community"), "Late Shift"),
		chromedp.Click(chromedp.CSS(`form[aria-labelledby="create-title"] button[type="submit"]`)),
	)
	p.waitFor("the community", `document.querySelector('[data-testid="community-name"]')?.textContent === "Late Shift"`, 15*time.Second)
	if got := eval[string](p, "read the access token", `localStorage.getItem("together_access_token")`); got == access {
		t.Fatal("the access token was not renewed")
	}
	if got := eval[string](p, "read the refresh token", `localStorage.getItem("together_refresh_token")`); got == refresh {
		t.Fatal("the refresh token was not rotated")
	}
}

// reconnectHeld drops p's gateway socket (holdGatewaySocket) once it has
// had its READY and lets it back with the app's reads of path held
// (holdReads), and returns when the new socket's READY is in; readsHeld is
// the count of held reads before.
func reconnectHeld(p *page, path string) (readsHeld int) {
	p.t.Helper()
	before := readies(p)
	eval[bool](p, "hold the reads of "+path, `window.__holdReads(`+jsString(path)+`)`)
	readsHeld = eval[int](p, "count the reads held", `window.__readsHeld`)
	eval[bool](p, "drop the gateway socket", `window.__holdWS()`)
	p.waitFor("the socket down", `!!document.querySelector('[data-testid="reconnecting"]')`, 20*time.Second)
	eval[bool](p, "let the socket back", `window.__releaseWS()`)
	p.waitFor("the new socket's READY", `window.__readies > `+strconv.Itoa(before), 40*time.Second)
	return readsHeld
}

// TestBrowserReconnectRefreshesInPlace: after the gateway socket comes
// back, the home page and a community's page read their lists again with
// no "Loading" row above what they show. Before, the row showed while the
// read was on its way and pushed the page down under the pointer: a click
// on "Join voice" just after a reconnect landed beside the button and did
// nothing.
func TestBrowserReconnectRefreshesInPlace(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	base, c, p := bobHeld(t)
	holdReads(p)

	// reload reconnects with the reads of path held, waits for the page's
	// reload to ask for it, and checks that no "Loading" row shows while
	// it is held.
	reload := func(path, loading string) {
		t.Helper()
		held := reconnectHeld(p, path)
		p.waitFor("the reload held", `window.__readsHeld > `+strconv.Itoa(held), 20*time.Second)
		if text := p.text(); strings.Contains(text, loading) {
			t.Fatalf("%q shows over the page while it reloads: %s", loading, text)
		}
		done := eval[int](p, "count the reads done", `window.__readsDone`)
		eval[bool](p, "release the reads", `window.__releaseReads()`)
		p.waitFor("the reload read", `window.__readsDone > `+strconv.Itoa(done), 20*time.Second)
	}

	signIn(p, base, c.bob, "/")
	p.waitFor("bob's communities", `document.body.innerText.includes("Garden")`, 20*time.Second)
	reload("/servers", "Loading your communities")

	// The community is read once per load: a message arriving live takes
	// no read of it. (A load that started itself again, for ever, read it
	// some 60 times a second.)
	channels := "/servers/" + c.server + "/channels"
	readOnce := func(msg string) {
		t.Helper()
		eval[bool](p, "hold the community's reads", `window.__holdReads(`+jsString(channels)+`)`)
		held := eval[int](p, "count the reads held", `window.__readsHeld`)
		c.post(t, c.alice, msg)
		p.waitFor("alice's message, live", msgJS(msg), 20*time.Second)
		if n := eval[int](p, "count the reads held", `window.__readsHeld`); n != held {
			t.Fatalf("the community was read %d more times with nothing to reload it", n-held)
		}
		eval[bool](p, "release the reads", `window.__releaseReads()`)
	}
	p.do("open the Garden", chromedp.Navigate(base+c.channelPath()))
	p.waitFor("the text channel", `!!document.querySelector('[data-testid="composer"]')`, 20*time.Second)
	p.waitFor("the gateway's READY", `window.__readies > 0`, 30*time.Second) // messages reach the page from then on
	readOnce("after the first load")
	reload(channels, "Loading the community")
	if !eval[bool](p, "look for the composer", `!!document.querySelector('[data-testid="composer"]')`) {
		t.Fatalf("the channel is gone after the reload: %s", p.text())
	}
	readOnce("after the reload")

	// The channel's own reload keeps its messages and the start-of-channel
	// line while its read is on its way (before, the line went and the
	// list shifted under the pointer).
	messages := "/channels/" + c.channel + "/messages"
	held := reconnectHeld(p, messages)
	p.waitFor("the channel's reload held", `window.__readsHeld > `+strconv.Itoa(held), 20*time.Second)
	if text := p.text(); !strings.Contains(text, "This is the start of #general") || !strings.Contains(text, "after the reload") {
		t.Fatalf("the channel's messages went while it reloads: %s", text)
	}
	eval[bool](p, "release the reads", `window.__releaseReads()`)
}

// TestBrowserAdminReconnectKeepsTheForm: the admin's section is not loaded
// again when the gateway's READY renews the session's user (each socket's
// READY does). Before, every READY reloaded the section with a "Loading"
// row above it and cleared its notice: a Save clicked as the socket came
// back landed beside the button, or its "saved" went away at once.
func TestBrowserAdminReconnectKeepsTheForm(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, func(c *config.Config) { c.Recording = true })
	var r struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	together(t, base, "POST", "/auth/login", "", map[string]string{"username": "admin", "password": adminPassword}, &r)
	admin := account{Name: "admin", Access: r.Access, Refresh: r.Refresh}
	p := newTab(t, newBrowser(t), "admin")
	holdGatewaySocket(p)
	holdReads(p)
	signIn(p, base, admin, "/")
	eval[bool](p, "open the recordings tab in-app", `(history.pushState(null, "", "/admin/recordings"), dispatchEvent(new PopStateEvent("popstate")), true)`)
	p.waitFor("the retention form", `!!document.querySelector('[data-testid="retention-form"]')`, 20*time.Second)

	held := reconnectHeld(p, "/api/recording-usage")
	// Whatever the READY started has run by the next task.
	if eval[bool](p, "look for a reload", `new Promise((r) => setTimeout(() => r(window.__readsHeld > `+strconv.Itoa(held)+` || /Loading/.test(document.querySelector("section.body")?.innerText ?? "")), 0))`) {
		t.Fatalf("the section reloaded on the READY: %s", p.text())
	}
	eval[bool](p, "release the reads", `window.__releaseReads()`)
	p.do("set a count limit", chromedp.SendKeys(chromedp.ID("rec-count"), "3"),
		chromedp.Click(chromedp.CSS(`[data-testid="retention-form"] button[type="submit"]`)))
	p.waitFor("saved", `document.querySelector('[role="status"].ok')?.textContent === "Recording settings saved."`, 20*time.Second)
}
