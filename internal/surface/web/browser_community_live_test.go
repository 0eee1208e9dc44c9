package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserEditByKeyboard: ↑ in an empty composer edits your last
// message, as the user guide says. The edit box must take the keyboard:
// left in the composer, what was typed next went out as a new message
// while the edit box stayed open. Esc and Save give the composer back.
func TestBrowserEditByKeyboard(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c := newCommunity(t, base)
	c.post(t, c.alice, "first draft")
	browser := newBrowser(t)
	alice := newTab(t, browser, "alice")
	signIn(alice, base, c.alice, c.channelPath())
	alice.waitFor("her message", msgJS("first draft")+` !== undefined`, 15*time.Second)

	composer := `document.querySelector('[data-testid="composer"]')`
	editBox := `document.querySelector('input[id^="edit-"]')`
	alice.do("focus the composer", chromedp.Focus(chromedp.CSS(`[data-testid="composer"]`)))
	alice.do("press ↑", chromedp.KeyEvent(kb.ArrowUp))
	alice.waitFor("the edit box, focused", editBox+` !== null && document.activeElement === `+editBox, 10*time.Second)
	alice.do("press Esc", chromedp.KeyEvent(kb.Escape))
	alice.waitFor("the composer back", editBox+` === null && document.activeElement === `+composer, 10*time.Second)

	alice.do("press ↑ and type", chromedp.KeyEvent(kb.ArrowUp))
	alice.waitFor("the edit box, focused", `document.activeElement === `+editBox, 10*time.Second)
	alice.do("type the change and press Enter", chromedp.KeyEvent(" (fixed)"), chromedp.KeyEvent(kb.Enter))
	alice.waitFor("the message edited", msgJS("first draft (fixed)")+` !== undefined`, 10*time.Second)
	alice.waitFor("the composer back", editBox+` === null && document.activeElement === `+composer, 10*time.Second)
	if n := eval[int](alice, "count the messages", `document.querySelectorAll('[data-testid="message"]').length`); n != 1 {
		t.Fatalf("%d messages after editing by keyboard, want 1 (the typing went out as a new message?)\n%s", n, alice.text())
	}
}
