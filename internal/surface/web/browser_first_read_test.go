package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// followInApp opens path from inside the app, as a link on the page does
// (the page and its sockets stay), through a link it puts in <main>.
func followInApp(p *page, path string) {
	p.t.Helper()
	eval[bool](p, "add a link to "+path, `(() => { document.getElementById("hop")?.remove(); const a = document.createElement("a"); a.href = `+jsString(path)+`; a.id = "hop"; a.textContent = "hop"; document.querySelector("main").prepend(a); return true; })()`)
	p.do("follow the link to "+path, chromedp.Click(chromedp.ID("hop")))
}

// liveThroughHeldRead holds p's first read of a list (GETs of a path
// ending in held, answered and kept from the app: holdAnswers) that open
// starts, posts "while the read was held" with post while the answer is
// held, and checks that the live message shows, that the answer brings
// the older "before the read" (posted by the caller), and that the live
// message is still there once the answer has been applied. shows is the
// page's test for a message's text.
func liveThroughHeldRead(t *testing.T, p *page, held string, open func(), post func(text string), shows func(text string) string) {
	t.Helper()
	const live, older = "while the read was held", "before the read"
	eval[bool](p, "hold the reads of "+held, `window.__holdAnswers(`+jsString(held)+`)`)
	open()
	p.waitFor("the first read answered, held", `window.__answersHeld > 0`, 20*time.Second)

	post(live)
	p.waitFor("the live message", shows(live), 20*time.Second)

	eval[bool](p, "release the read", `window.__releaseAnswers()`)
	p.waitFor("the held answer read", `window.__answersRead === window.__answersHeld`, 20*time.Second)
	p.waitFor("the older message from the read", shows(older), 20*time.Second)
	if !eval[bool](p, "look for the live message", `new Promise((r) => setTimeout(() => r(!!(`+shows(live)+`)), 0))`) {
		t.Fatalf("the live message is gone after the first read's answer; page text: %s", p.text())
	}
}

// TestBrowserFirstReadKeepsLiveMessages: a message that arrives live while
// a channel's first read of its messages is on its way (the read answered
// before it was posted) stays on the page when that answer lands. The
// answer replaced the list, so the message was gone until a reload (seen
// as a flake of TestBrowserReconnectRefreshesInPlace on a loaded machine).
func TestBrowserFirstReadKeepsLiveMessages(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c := newCommunity(t, base)
	c.post(t, c.alice, "before the read")

	bob := newTab(t, newBrowser(t), "bob")
	holdAnswers(bob)
	signIn(bob, base, c.bob, "/")
	liveThroughHeldRead(t, bob, "/channels/"+c.channel+"/messages",
		func() { followInApp(bob, c.channelPath()) },
		func(text string) { c.post(t, c.alice, text) },
		msgJS)
}

// TestBrowserDMFirstReadKeepsLiveMessages: the same for a direct
// conversation: a message that arrives live while its first read is on its
// way stays when the (older) answer lands.
func TestBrowserDMFirstReadKeepsLiveMessages(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c := newCommunity(t, base)
	var dm struct {
		ID string `json:"id"`
	}
	together(t, base, "POST", "/dm-channels", c.bob.Access, map[string]any{"user_id": c.alice.ID}, &dm)
	post := func(text string) {
		together(t, base, "POST", "/dm-channels/"+dm.ID+"/messages", c.alice.Access, map[string]string{"content": text}, nil)
	}
	post("before the read")

	bob := newTab(t, newBrowser(t), "bob")
	holdAnswers(bob)
	signIn(bob, base, c.bob, "/")
	liveThroughHeldRead(t, bob, "/dm-channels/"+dm.ID+"/messages",
		func() { followInApp(bob, "/dm/"+dm.ID) },
		post,
		func(text string) string {
			return `[...document.querySelectorAll('[data-testid="dm-message-body"]')].some(b => b.textContent === ` + jsString(text) + `)`
		})
}

// TestBrowserThreadFirstReadKeepsLiveReplies: the same for a thread's
// replies: one that arrives live while the thread's read is on its way
// stays when the (older) answer lands.
func TestBrowserThreadFirstReadKeepsLiveReplies(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c := newCommunity(t, base)
	id := c.post(t, c.alice, "a thread starts here")
	thread := "/channels/" + c.channel + "/messages/" + id + "/thread"
	post := func(text string) {
		together(t, base, "POST", thread, c.alice.Access, map[string]string{"content": text}, nil)
	}
	post("before the read")

	bob := newTab(t, newBrowser(t), "bob")
	holdAnswers(bob)
	signIn(bob, base, c.bob, c.channelPath())
	msg := `[...document.querySelectorAll('[data-testid="message"]')].find(m => m.dataset.id === ` + jsString(id) + `)`
	bob.waitFor("the message", `!!`+msg, 20*time.Second)
	liveThroughHeldRead(t, bob, thread,
		func() {
			eval[bool](bob, "open the thread", `(() => { `+msg+`.querySelector('button[aria-label="Open thread"]').click(); return true; })()`)
		},
		post,
		func(text string) string {
			return `[...document.querySelectorAll('[data-testid="thread-reply"]')].some(r => r.textContent.includes(` + jsString(text) + `))`
		})
}
