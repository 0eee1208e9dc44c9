package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserStageChatAsAccount: signed in, the web app chats on the stage
// as the account, under its account name (its token goes with the chat
// registration); a guest in another tab who asks for that name gets
// another, and the line she sees carries the account's name.
func TestBrowserStageChatAsAccount(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	rose := register(t, base, "rose")
	browser := newBrowser(t)
	tab := newTab(t, browser, "rose")
	guest := newTab(t, browser, "guest")

	signIn(tab, base, rose, "/live")
	tab.waitFor("the chat as rose", `document.querySelector('[data-testid="stage-chat-input"]')?.placeholder === "Chat as rose"`, 15*time.Second)
	reg := eval[string](tab, "read the registration", `localStorage.getItem("owncast_chat:`+rose.ID+`") || ""`)
	if !strings.Contains(reg, `"id":"`+rose.ID+`"`) || !strings.Contains(reg, `"displayName":"rose"`) {
		t.Fatalf("stored chat registration = %s, want rose's account", reg)
	}
	tab.waitFor("the chat socket", `!document.querySelector('[data-testid="reconnecting"]')`, 10*time.Second)
	tab.do("chat", chromedp.SendKeys(chromedp.CSS(`[data-testid="stage-chat-input"]`), "hello as me"),
		chromedp.Click(chromedp.CSS(`.stage-chat button[type="submit"]`)))

	// A guest asking for rose's name (the old web app sent the username
	// as a requested name) is given another.
	guest.do("open the origin", chromedp.Navigate(base+"/favicon.svg"))
	got := evalWithin[string](guest, "register a guest as rose", `fetch("/api/chat/register", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({displayName: "Rose"})}).then(r => r.json()).then(j => j.displayName)`, 10*time.Second)
	if got == "rose" || got == "Rose" || got == "" {
		t.Fatalf("a guest registered as Rose got %q", got)
	}
	guest.do("open the stage", chromedp.Navigate(base+"/live"))
	guest.waitFor("rose's line under her name", `[...document.querySelectorAll('[data-testid="stage-chat-line"]')].some(l => l.textContent.includes("hello as me") && l.querySelector("strong")?.textContent === "rose")`, 15*time.Second)
}
