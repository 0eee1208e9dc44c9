package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// signUp creates an account through the sign-up page.
func signUp(p *page, base, user, next string) {
	p.t.Helper()
	url := base + "/signup"
	if next != "" {
		url += "?next=" + next
	}
	p.do("open sign-up",
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("su-username")),
		chromedp.SendKeys(chromedp.ID("su-username"), user),
		chromedp.SendKeys(chromedp.ID("su-password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
	)
	p.waitFor("signed in as "+user, `document.querySelector('[data-testid="me-link"]')?.textContent.includes(`+jsString(user)+`)`, 15*time.Second)
}

// TestBrowserCommunityChat: sign up → create a community → a second person
// (another browser context) joins with an invite → a message posted by one
// appears live for the other, over the Together gateway.
func TestBrowserCommunityChat(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	alice := newTab(t, browser, "alice")
	bob := newTab(t, browser, "bob")

	alice.do("open the landing page", chromedp.Navigate(base+"/"))
	alice.waitFor("the landing page", `document.querySelector("h1")?.textContent.includes("hearth")`, 15*time.Second)
	alice.screenshot("landing")
	alice.do("open sign-up", chromedp.Navigate(base+"/signup"), chromedp.WaitVisible(chromedp.ID("su-username")))
	alice.screenshot("signup")
	signUp(alice, base, "alice_web", "")
	alice.do("create a community",
		chromedp.WaitVisible(chromedp.ID("new-community")),
		chromedp.SendKeys(chromedp.ID("new-community"), "Book Club"),
		chromedp.Click(chromedp.CSS(`form[aria-labelledby="create-title"] button[type="submit"]`)),
	)
	alice.waitFor("the community's text channel", `location.pathname.split("/").length === 4 && !!document.querySelector('[data-testid="composer"]')`, 15*time.Second)
	alice.waitFor("the community name", `document.querySelector('[data-testid="community-name"]')?.textContent === "Book Club"`, 10*time.Second)
	channelPath := eval[string](alice, "read the channel path", `location.pathname`)

	alice.do("create an invite", chromedp.Click(chromedp.CSS(`.invite button`)))
	alice.waitFor("the invite link", `!!document.querySelector('[data-testid="invite-link"]')?.value`, 10*time.Second)
	link := eval[string](alice, "read the invite link", `document.querySelector('[data-testid="invite-link"]').value`)
	code := link[strings.LastIndex(link, "/")+1:]
	if code == "" {
		t.Fatalf("invite link %q has no code", link)
	}

	signUp(bob, base, "bob_web", "")
	bob.do("accept the invite",
		chromedp.Navigate(base+"/invite/"+code),
		chromedp.WaitVisible(chromedp.CSS(`.card button.primary`)),
		chromedp.Click(chromedp.CSS(`.card button.primary`)),
	)
	bob.waitFor("the same channel", `location.pathname === `+jsString(channelPath)+` && !!document.querySelector('[data-testid="composer"]')`, 15*time.Second)
	// Bob's gateway socket must be open before Alice posts (no resume).
	bob.waitFor("the gateway socket", `!document.querySelector('[data-testid="reconnecting"]')`, 10*time.Second)

	msg := "Chapter three tonight? @bob_web"
	alice.do("post a message",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="composer"]`), msg),
		chromedp.Click(chromedp.CSS(`.composer button[type="submit"]`)),
	)
	alice.waitFor("her own message", `[...document.querySelectorAll('[data-testid="message-body"]')].some(e => e.textContent === `+jsString(msg)+`)`, 10*time.Second)
	bob.waitFor("alice's message, live", `[...document.querySelectorAll('[data-testid="message-body"]')].some(e => e.textContent === `+jsString(msg)+`)`, 10*time.Second)
	// The author is resolved from the member list, and the mention is marked.
	bob.waitFor("author and mention", `[...document.querySelectorAll('[data-testid="message"]')].some(m => m.textContent.includes("alice_web") && m.classList.contains("mention"))`, 10*time.Second)

	// And back: Bob replies, Alice sees it without reloading.
	reply := "Yes! I'll bring snacks."
	bob.do("reply",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="composer"]`), reply),
		chromedp.Click(chromedp.CSS(`.composer button[type="submit"]`)),
	)
	alice.waitFor("bob's reply, live", `[...document.querySelectorAll('[data-testid="message-body"]')].some(e => e.textContent === `+jsString(reply)+`)`, 10*time.Second)
	// Bob was not a member when Alice's page loaded: his name is resolved
	// by refetching the member list, and he shows up in it.
	alice.waitFor("bob's name on his reply", `[...document.querySelectorAll('[data-testid="message"]')].some(m => m.textContent.includes("bob_web") && m.textContent.includes(`+jsString(reply)+`))`, 10*time.Second)
	alice.waitFor("bob in the member list", `document.querySelector('aside.members')?.textContent.includes("bob_web")`, 10*time.Second)
	// Replies, by keyboard: the message's Reply button is reachable (it is
	// revealed on focus), Enter on it starts a reply, Enter in the composer
	// sends it, and Bob sees what it answers.
	replyButton := `[...document.querySelectorAll('[data-testid="message"]')].find(m => m.textContent.includes(` + jsString(reply) + `)).querySelector('button[aria-label="Reply"]')`
	eval[bool](alice, "focus Reply", `(() => { const b = `+replyButton+`; b.focus(); return document.activeElement === b; })()`)
	alice.waitFor("the tools shown on focus", `getComputedStyle(`+replyButton+`.parentElement).opacity === "1"`, 5*time.Second)
	alice.do("press Enter on Reply", chromedp.KeyEvent("\r"))
	alice.waitFor("replying", `document.querySelector(".replying")?.textContent.includes("bob_web")`, 5*time.Second)
	alice.do("type the reply and press Enter", chromedp.SendKeys(chromedp.CSS(`[data-testid="composer"]`), "Perfect, see you then\r"))
	bob.waitFor("the reply, marked as one", `[...document.querySelectorAll('[data-testid="message"]')].some(m => m.textContent.includes("Perfect, see you then") && m.querySelector(".reply")?.textContent.includes(`+jsString(reply)+`))`, 10*time.Second)

	alice.screenshot("community")

	// Search: results come from the server with the match highlighted.
	alice.do("search",
		chromedp.SendKeys(chromedp.ID("search-q"), "snacks\r"),
	)
	alice.waitFor("a highlighted hit", `[...document.querySelectorAll('[data-testid="search-hit"] mark')].some(m => m.textContent.toLowerCase() === "snacks")`, 10*time.Second)

	// Reactions: Alice reacts to Bob's reply and Bob sees the count live.
	eval[bool](alice, "react", `(() => { const m = [...document.querySelectorAll('[data-testid="message"]')].find(m => m.textContent.includes(`+jsString(reply)+`)); m.querySelector("details.react").open = true; m.querySelector('button[aria-label="React 👍"]').click(); return true; })()`)
	bob.waitFor("the reaction, live", `[...document.querySelectorAll('[data-testid="message"]')].some(m => m.textContent.includes(`+jsString(reply)+`) && [...m.querySelectorAll(".chip")].some(c => c.textContent.includes("👍 1")))`, 10*time.Second)

	// Mention suggestions: "@ali" offers alice_web; Tab completes it.
	bob.do("start a mention", chromedp.SendKeys(chromedp.CSS(`[data-testid="composer"]`), "thanks @ali"))
	bob.waitFor("the suggestion", `document.querySelector('#mention-list [aria-selected="true"]')?.textContent === "@alice_web"`, 10*time.Second)
	bob.do("complete it", chromedp.SendKeys(chromedp.CSS(`[data-testid="composer"]`), "\t"))
	bob.waitFor("the completed mention", `document.querySelector('[data-testid="composer"]').value === "thanks @alice_web "`, 10*time.Second)
	bob.do("send it", chromedp.Click(chromedp.CSS(`.composer button[type="submit"]`)))
	alice.waitFor("mentioned by bob", `[...document.querySelectorAll('[data-testid="message"].mention')].some(m => m.textContent.includes("thanks @alice_web"))`, 10*time.Second)

	// Phone width: the same page fits the screen (no sideways scrolling),
	// the channel list folds behind a button, and the composer still works.
	bob.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	bob.waitFor("no horizontal overflow", `document.documentElement.scrollWidth <= window.innerWidth + 1`, 10*time.Second)
	bob.waitFor("channel list folded", `getComputedStyle(document.querySelector("aside.channels")).display === "none"`, 10*time.Second)
	phone := "Typed on a phone"
	bob.do("post from the phone",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="composer"]`), phone),
		chromedp.Click(chromedp.CSS(`.composer button[type="submit"]`)),
	)
	alice.waitFor("the phone message", `[...document.querySelectorAll('[data-testid="message-body"]')].some(e => e.textContent === `+jsString(phone)+`)`, 10*time.Second)
	bob.do("open the channel list", chromedp.Click(chromedp.CSS(`button[aria-label="Show channels"]`)))
	bob.waitFor("channel list shown", `getComputedStyle(document.querySelector("aside.channels")).display !== "none"`, 10*time.Second)
	bob.screenshot("phone")

	// Typing: Bob types without sending; Alice sees him typing.
	bob.do("type without sending", chromedp.SendKeys(chromedp.CSS(`[data-testid="composer"]`), "hmm"))
	alice.waitFor("bob is typing", `document.querySelector(".typing")?.textContent.includes("bob_web is typing")`, 10*time.Second)
	eval[bool](bob, "clear the draft", `(() => { const c = document.querySelector('[data-testid="composer"]'); c.value = ""; c.dispatchEvent(new Event("input", { bubbles: true })); return true; })()`)

	// Unread: Alice adds a second channel; Bob (after reloading, as Together
	// sends no channel events) posts there; Alice, still in #general, sees
	// it marked unread, and the mark clears when she opens it.
	alice.do("add a channel",
		chromedp.SendKeys(chromedp.ID("ch-name"), "off-topic"),
		chromedp.Click(chromedp.CSS(`form.add button[type="submit"]`)),
	)
	alice.waitFor("the new channel", `document.querySelector('[data-testid="community-name"]') && location.pathname !== `+jsString(channelPath), 10*time.Second)
	offTopic := eval[string](alice, "read the new channel path", `location.pathname`)
	alice.do("back to general", chromedp.Click(chromedp.CSS(`aside.channels a[href=`+jsString(channelPath)+`]`)))
	alice.waitFor("general again", `location.pathname === `+jsString(channelPath)+` && !!document.querySelector('[data-testid="composer"]')`, 10*time.Second)
	bob.do("open off-topic", chromedp.Navigate(base+offTopic))
	bob.waitFor("off-topic", `location.pathname === `+jsString(offTopic)+` && !!document.querySelector('[data-testid="composer"]')`, 15*time.Second)
	bob.waitFor("the gateway socket", `!document.querySelector('[data-testid="reconnecting"]')`, 10*time.Second)
	bob.do("post in off-topic",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="composer"]`), "anyone here?"),
		chromedp.Click(chromedp.CSS(`.composer button[type="submit"]`)),
	)
	alice.waitFor("off-topic marked unread", `document.querySelector('aside.channels a[href=`+jsString(offTopic)+`]')?.classList.contains("unread")`, 10*time.Second)
	alice.do("open off-topic", chromedp.Click(chromedp.CSS(`aside.channels a[href=`+jsString(offTopic)+`]`)))
	alice.waitFor("the unread mark gone", `location.pathname === `+jsString(offTopic)+` && !document.querySelector('aside.channels a.unread')`, 10*time.Second)
	alice.do("back to general again", chromedp.Click(chromedp.CSS(`aside.channels a[href=`+jsString(channelPath)+`]`)))
	alice.waitFor("general once more", `location.pathname === `+jsString(channelPath)+` && [...document.querySelectorAll('[data-testid="message-body"]')].length >= 2`, 10*time.Second)

	// A watch channel opens the community's watch room (created on first use).
	alice.do("name a watch channel", chromedp.SendKeys(chromedp.ID("ch-name"), "movie-night"))
	eval[bool](alice, "choose the watch kind", `(() => { const k = document.getElementById("ch-kind"); k.value = "watch"; return k.dispatchEvent(new Event("change", { bubbles: true })); })()`)
	alice.do("add the watch channel", chromedp.Click(chromedp.CSS(`form.add button[type="submit"]`)))
	alice.waitFor("the watch room in the channel", `document.querySelector('[data-testid="room-title"]')?.textContent === "movie-night" && !!document.querySelector('[data-testid="play-toggle"]')`, 45*time.Second)

	// The same account in a watch room: signing in to Hearth also signed
	// this browser's watch-room token in, so the room knows Alice by name.
	alice.do("open the profile", chromedp.Navigate(base+"/me"), chromedp.WaitVisible(chromedp.ID("pf-bio")),
		chromedp.SendKeys(chromedp.ID("pf-pronouns"), "she/her"),
		chromedp.SendKeys(chromedp.ID("pf-bio"), "Reads too many books."),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)))
	alice.waitFor("the profile saved", `document.querySelector('[role="status"]')?.textContent === "Saved."`, 10*time.Second)
	alice.screenshot("profile")
	alice.do("open the watch rooms",
		chromedp.Navigate(base+"/rooms"),
		chromedp.WaitVisible(chromedp.CSS(`form[aria-labelledby="new-room"] button.primary`)),
	)
	alice.screenshot("rooms")
	alice.do("open a quick watch room",
		chromedp.Click(chromedp.CSS(`form[aria-labelledby="new-room"] button.primary`)),
	)
	alice.waitFor("alice in the room by name", `[...document.querySelectorAll(".people li")].some(li => li.textContent.includes("alice_web") && li.textContent.includes("(you)"))`, 15*time.Second)

	// Signing out ends the session on the server: the old refresh token no
	// longer works.
	refresh := eval[string](alice, "read the refresh token", `localStorage.getItem("together_refresh_token")`)
	alice.do("sign out", chromedp.Click(chromedp.CSS(`header.top nav button`)))
	alice.waitFor("signed out", `!document.querySelector('[data-testid="me-link"]') && localStorage.getItem("together_refresh_token") === null`, 10*time.Second)
	status := eval[float64](alice, "reuse the old refresh token", `fetch("/auth/refresh", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({refresh_token: `+jsString(refresh)+`})}).then(r => r.status)`)
	if status != 401 {
		t.Fatalf("refresh after sign-out: HTTP %v, want 401", status)
	}
}
