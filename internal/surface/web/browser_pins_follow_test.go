package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserPinsFollowEdits: the open pinned list follows its messages:
// a pinned message edited shows its new text there, and one deleted leaves
// it, live. Both used to stay as they were until the list was reopened
// (and Unpin on the deleted one failed).
func TestBrowserPinsFollowEdits(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c := newCommunity(t, base)
	id := c.post(t, c.bob, "Meeting at 7pm")
	together(t, base, "POST", "/channels/"+c.channel+"/messages/"+id+"/pin", c.alice.Access, nil, nil)
	bob := newTab(t, newBrowser(t), "bob")
	signIn(bob, base, c.bob, c.channelPath())
	bob.do("open the pinned list", chromedp.Click(chromedp.CSS(`[data-testid="pins-toggle"]`)))
	pins := `[...document.querySelectorAll('[data-testid="pinned-message"]')].map(p => p.textContent)`
	bob.waitFor("the pinned message", pins+`.some(t => t.includes("Meeting at 7pm"))`, 10*time.Second)

	together(t, base, "PATCH", "/messages/"+id, c.bob.Access, map[string]string{"content": "Meeting at 8pm"}, nil)
	bob.waitFor("the edit in the pinned list", `(() => { const l = `+pins+`; return l.length === 1 && l[0].includes("Meeting at 8pm"); })()`, 10*time.Second)

	together(t, base, "DELETE", "/messages/"+id, c.bob.Access, nil, nil)
	bob.waitFor("the message gone from the channel", `![...document.querySelectorAll('[data-testid="message-body"]')].some(e => e.textContent.includes("Meeting at"))`, 10*time.Second)
	bob.waitFor("and from the pinned list", `document.querySelectorAll('[data-testid="pinned-message"]').length === 0`, 10*time.Second)
}
