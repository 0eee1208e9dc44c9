package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserThreadPinsSearchMarkdown: the message at the top of an open
// thread, the pinned list and search results show a message formatted as
// the channel does (Markdown, sanitised), not its raw text; the thread's
// message follows an edit and closes on deletion; closing the thread (Esc
// or ×) gives the focus back to the message box, closing the pinned list
// to its button.
func TestBrowserThreadPinsSearchMarkdown(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c := newCommunity(t, base)
	id := c.post(t, c.alice, "Hello **bob** <img src=x onerror=alert(1)>")
	together(t, base, "POST", "/channels/"+c.channel+"/messages/"+id+"/thread", c.bob.Access, map[string]string{"content": "hi"}, nil)
	together(t, base, "POST", "/channels/"+c.channel+"/messages/"+id+"/pin", c.alice.Access, nil, nil)
	browser := newBrowser(t)
	p := newTab(t, browser, "alice")
	signIn(p, base, c.alice, c.channelPath())
	msg := `[...document.querySelectorAll('[data-testid="message"]')].find(m => m.dataset.id === ` + jsString(id) + `)`
	p.waitFor("the message", `!!`+msg, 10*time.Second)

	openThread := func() {
		eval[bool](p, "open the thread", `(() => { `+msg+`.querySelector('button[aria-label="Open thread"]').click(); return true; })()`)
		p.waitFor("the thread", `document.activeElement?.id === "thread-composer"`, 10*time.Second)
	}
	openThread()
	top := `document.querySelector('[data-testid="thread-parent"]')`
	p.waitFor("the thread's message formatted", top+`?.querySelector("strong")?.textContent === "bob" && !`+top+`.textContent.includes("**") && !`+top+`.querySelector("img") && `+top+`.textContent.includes("<img src=x")`, 10*time.Second)
	together(t, base, "PATCH", "/messages/"+id, c.alice.Access, map[string]string{"content": "Hello _everyone_"}, nil)
	p.waitFor("the thread's message edited, live", top+`?.querySelector("em")?.textContent === "everyone"`, 10*time.Second)
	p.do("close with Esc", chromedp.KeyEvent("\x1b"))
	p.waitFor("the thread closed, the focus in the message box", `!document.querySelector('[data-testid="thread"]') && document.activeElement?.id === "composer"`, 10*time.Second)
	openThread()
	p.do("close with ×", chromedp.Click(chromedp.CSS(`button[aria-label="Close thread"]`)))
	p.waitFor("the thread closed, the focus in the message box", `!document.querySelector('[data-testid="thread"]') && document.activeElement?.id === "composer"`, 10*time.Second)

	p.do("open the pinned list", chromedp.Click(chromedp.CSS(`[data-testid="pins-toggle"]`)))
	pin := `document.querySelector('[data-testid="pinned-message"]')`
	p.waitFor("the pinned message formatted", pin+`?.querySelector("em")?.textContent === "everyone" && !`+pin+`.textContent.includes("_")`, 10*time.Second)
	p.do("close the pinned list", chromedp.Click(chromedp.CSS(`button[aria-label="Close pinned messages"]`)))
	p.waitFor("the focus on the pinned button", `!document.querySelector('[data-testid="pins"]') && document.activeElement?.dataset.testid === "pins-toggle"`, 10*time.Second)

	p.do("search", chromedp.SendKeys(chromedp.ID("search-q"), "everyone\r"))
	hit := `document.querySelector('[data-testid="search-hit"]')`
	p.waitFor("the result formatted, the match marked", hit+`?.querySelector("em mark, mark em")?.textContent === "everyone" && !`+hit+`.textContent.includes("_")`, 10*time.Second)
	p.screenshot("search")

	openThread()
	together(t, base, "DELETE", "/messages/"+id, c.alice.Access, nil, nil)
	p.waitFor("the thread of a deleted message closed, the focus in the message box", `!document.querySelector('[data-testid="thread"]') && document.activeElement?.id === "composer"`, 10*time.Second)
}
