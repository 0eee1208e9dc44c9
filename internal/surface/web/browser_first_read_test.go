package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserFirstReadKeepsLiveMessages: a message that arrives live while
// a channel's first read of its messages is on its way (the read answered
// before it was posted) stays on the page when that answer lands. The
// answer replaced the list, so the message was gone until a reload (seen
// as a flake of TestBrowserReconnectRefreshesInPlace on a loaded machine).
func TestBrowserFirstReadKeepsLiveMessages(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	c := newCommunity(t, base)
	c.post(t, c.alice, "before the read")

	bob := newTab(t, browser, "bob")
	holdAnswers(bob)
	signIn(bob, base, c.bob, "/")
	eval[bool](bob, "hold the channel's message reads", `window.__holdAnswers(`+jsString("/channels/"+c.channel+"/messages")+`)`)
	eval[bool](bob, "add a link to the channel", `(() => { const a = document.createElement("a"); a.href = `+jsString(c.channelPath())+`; a.id = "hop"; a.textContent = "hop"; document.querySelector("main").prepend(a); return true; })()`)
	bob.do("open the channel", chromedp.Click(chromedp.ID("hop")))
	bob.waitFor("the first read answered, held", `window.__answersHeld > 0`, 20*time.Second)

	c.post(t, c.alice, "while the read was held")
	bob.waitFor("the live message", msgJS("while the read was held"), 20*time.Second)

	eval[bool](bob, "release the read", `window.__releaseAnswers()`)
	bob.waitFor("the held answer read", `window.__answersRead === window.__answersHeld`, 20*time.Second)
	bob.waitFor("the older message from the read", msgJS("before the read"), 20*time.Second)
	if !eval[bool](bob, "look for the live message", `new Promise((r) => setTimeout(() => r(!!`+msgJS("while the read was held")+`), 0))`) {
		t.Fatalf("the live message is gone after the first read's answer; page text: %s", bob.text())
	}
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
	together(t, base, "POST", "/dm-channels/"+dm.ID+"/messages", c.alice.Access, map[string]string{"content": "before the read"}, nil)
	body := func(text string) string {
		return `[...document.querySelectorAll('[data-testid="dm-message-body"]')].some(b => b.textContent === ` + jsString(text) + `)`
	}

	bob := newTab(t, newBrowser(t), "bob")
	holdAnswers(bob)
	signIn(bob, base, c.bob, "/")
	eval[bool](bob, "hold the conversation's reads", `window.__holdAnswers(`+jsString("/dm-channels/"+dm.ID+"/messages")+`)`)
	eval[bool](bob, "add a link to the conversation", `(() => { const a = document.createElement("a"); a.href = "/dm/`+dm.ID+`"; a.id = "hop"; a.textContent = "hop"; document.querySelector("main").prepend(a); return true; })()`)
	bob.do("open the conversation", chromedp.Click(chromedp.ID("hop")))
	bob.waitFor("the first read answered, held", `window.__answersHeld > 0`, 20*time.Second)

	together(t, base, "POST", "/dm-channels/"+dm.ID+"/messages", c.alice.Access, map[string]string{"content": "while the read was held"}, nil)
	bob.waitFor("the live message", body("while the read was held"), 20*time.Second)

	eval[bool](bob, "release the read", `window.__releaseAnswers()`)
	bob.waitFor("the held answer read", `window.__answersRead === window.__answersHeld`, 20*time.Second)
	bob.waitFor("the older message from the read", body("before the read"), 20*time.Second)
	if !eval[bool](bob, "look for the live message", `new Promise((r) => setTimeout(() => r(`+body("while the read was held")+`), 0))`) {
		t.Fatalf("the live message is gone after the first read's answer; page text: %s", bob.text())
	}
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
	together(t, base, "POST", thread, c.alice.Access, map[string]string{"content": "before the read"}, nil)
	reply := func(text string) string {
		return `[...document.querySelectorAll('[data-testid="thread-reply"]')].some(r => r.textContent.includes(` + jsString(text) + `))`
	}

	bob := newTab(t, newBrowser(t), "bob")
	holdAnswers(bob)
	signIn(bob, base, c.bob, c.channelPath())
	msg := `[...document.querySelectorAll('[data-testid="message"]')].find(m => m.dataset.id === ` + jsString(id) + `)`
	bob.waitFor("the message", `!!`+msg, 20*time.Second)
	eval[bool](bob, "hold the thread's reads", `window.__holdAnswers(`+jsString(thread)+`)`)
	eval[bool](bob, "open the thread", `(() => { `+msg+`.querySelector('button[aria-label="Open thread"]').click(); return true; })()`)
	bob.waitFor("the thread's read answered, held", `window.__answersHeld > 0`, 20*time.Second)

	together(t, base, "POST", thread, c.alice.Access, map[string]string{"content": "while the read was held"}, nil)
	bob.waitFor("the live reply", reply("while the read was held"), 20*time.Second)

	eval[bool](bob, "release the read", `window.__releaseAnswers()`)
	bob.waitFor("the held answer read", `window.__answersRead === window.__answersHeld`, 20*time.Second)
	bob.waitFor("the older reply from the read", reply("before the read"), 20*time.Second)
	if !eval[bool](bob, "look for the live reply", `new Promise((r) => setTimeout(() => r(`+reply("while the read was held")+`), 0))`) {
		t.Fatalf("the live reply is gone after the thread read's answer; page text: %s", bob.text())
	}
}
