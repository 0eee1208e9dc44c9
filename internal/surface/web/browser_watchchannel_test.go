package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserWatchChannelAfterStoredSignIn: a browser that becomes signed in
// only from stored tokens (no sign-in form: here a second browser whose
// storage holds an expired access token and a live refresh token, as after
// a reload the next day) still opens a community's watch channel. Its
// watch-room token is a fresh guest's, so the app must link it to the
// account; before, the room (hidden from non-members) answered 404 and the
// app's fallback then failed with "Creating the room failed: The room … is
// taken".
func TestBrowserWatchChannelAfterStoredSignIn(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	alice := newTab(t, browser, "alice")
	signUp(alice, base, "wc_alice", "")
	alice.do("create a community",
		chromedp.WaitVisible(chromedp.ID("new-community")),
		chromedp.SendKeys(chromedp.ID("new-community"), "Film Club"),
		chromedp.Click(chromedp.CSS(`form[aria-labelledby="create-title"] button[type="submit"]`)),
	)
	alice.waitFor("the community's text channel", `location.pathname.split("/").length === 4 && !!document.querySelector('[data-testid="composer"]')`, 15*time.Second)
	alice.do("name a watch channel", chromedp.SendKeys(chromedp.ID("ch-name"), "movie-night"))
	eval[bool](alice, "choose the watch kind", `(() => { const k = document.getElementById("ch-kind"); k.value = "watch"; return k.dispatchEvent(new Event("change", { bubbles: true })); })()`)
	alice.do("add the watch channel", chromedp.Click(chromedp.CSS(`form.add button[type="submit"]`)))
	alice.waitFor("the watch room in the channel", `document.querySelector('[data-testid="room-title"]')?.textContent === "movie-night" && !!document.querySelector('[data-testid="play-toggle"]')`, 15*time.Second)
	channel := eval[string](alice, "read the watch channel's path", `location.pathname`)

	// Another browser (its own storage, so its own guest watch-room token)
	// gets Alice's tokens without the sign-in form, stores them with the
	// access token spoiled (so restoring refreshes first), and reloads.
	other := newTab(t, browser, "alice-elsewhere")
	other.do("open hearth", chromedp.Navigate(base+"/"))
	other.waitFor("the landing page", `!!document.querySelector("h1")`, 15*time.Second)
	ok := eval[bool](other, "store tokens from a sign-in by the API", `fetch("/auth/login", {method: "POST", headers: {"Content-Type": "application/json"},
		body: JSON.stringify({username: "wc_alice", password: "correct horse battery"})})
		.then(r => r.json()).then(b => { localStorage.setItem("together_access_token", b.access_token + "x"); localStorage.setItem("together_refresh_token", b.refresh_token); return !!b.refresh_token; })`)
	if !ok {
		t.Fatal("no tokens from /auth/login")
	}
	other.do("reload into the watch channel", chromedp.Navigate(base+channel))
	other.waitFor("signed in from the stored tokens", `document.querySelector('[data-testid="me-link"]')?.textContent.includes("wc_alice")`, 15*time.Second)
	other.waitFor("the watch room or an error", `(document.querySelector('[data-testid="room-title"]')?.textContent === "movie-night" && !!document.querySelector('[data-testid="play-toggle"]')) || document.body.innerText.includes("is taken") || document.body.innerText.includes(" failed: ")`, 15*time.Second)
	if txt := other.text(); strings.Contains(txt, "is taken") || strings.Contains(txt, " failed: ") {
		t.Fatalf("the watch channel did not open:\n%s", txt)
	}
	other.waitFor("the queue and the player's controls", `!!document.querySelector('[data-testid="play-toggle"]') && !!document.querySelector('[data-testid="queue"]') && !!document.querySelector('[data-testid="add-video"]')`, 15*time.Second)
	// The room knows this browser as Alice, not as a guest.
	other.waitFor("alice in the room by name", `[...document.querySelectorAll(".people li")].some(li => li.textContent.includes("wc_alice") && li.textContent.includes("(you)"))`, 15*time.Second)
}
