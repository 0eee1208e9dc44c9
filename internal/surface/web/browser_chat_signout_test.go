package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/config"
)

// TestBrowserStageChatAfterSignOut: a signed-in viewer's stage chat token
// dies with a password change made elsewhere (another tab of the browser:
// new tokens in the shared storage). The chat socket is told to register
// again, and the page does: it forgets the account's registration (it
// forgot the guests' one instead, so it reconnected with the dead token for
// good), registers anew and chats as the account. Signing out then forgets
// the account's chat registration, whose token the server deleted with the
// session.
func TestBrowserStageChatAfterSignOut(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, func(c *config.Config) { c.ChatFloodRate = 0 })
	a := register(t, base, "rechatter")
	p := newTab(t, newBrowser(t), "viewer")
	signIn(p, base, a, "/live")
	key := jsString("owncast_chat:" + a.ID)
	p.waitFor("the chat input", `document.querySelector('[data-testid="stage-chat-input"]')?.placeholder === "Chat as rechatter"`, 15*time.Second)
	p.waitFor("the chat socket", `!document.querySelector('[data-testid="reconnecting"]') && !!localStorage.getItem(`+key+`)`, 10*time.Second)
	old := eval[string](p, "read the chat token", `JSON.parse(localStorage.getItem(`+key+`)).accessToken`)

	// Another tab changes the password: the server deletes the account's
	// chat tokens, and the new session's tokens land in the shared storage.
	if !evalWithin[bool](p, "change the password elsewhere", `(async () => {
		const r = await fetch("/auth/change-password", {method: "POST", headers: {"Content-Type": "application/json",
			Authorization: "Bearer " + localStorage.getItem("together_access_token")},
			body: JSON.stringify({current_password: "correct horse battery", new_password: "another horse battery"})});
		if (!r.ok) return false;
		const j = await r.json();
		localStorage.setItem("together_access_token", j.access_token);
		localStorage.setItem("together_refresh_token", j.refresh_token);
		return true;
	})()`, 30*time.Second) {
		t.Fatal("the password change was refused")
	}
	p.waitFor("a fresh chat registration", `(() => { const r = JSON.parse(localStorage.getItem(`+key+`) ?? "null"); return !!r && r.accessToken !== `+jsString(old)+`; })()`, 30*time.Second)
	p.waitFor("the chat socket again", `!document.querySelector('[data-testid="reconnecting"]')`, 30*time.Second)
	p.do("chat", chromedp.SendKeys(chromedp.CSS(`[data-testid="stage-chat-input"]`), "still me"),
		chromedp.Click(chromedp.CSS(`.stage-chat button[type="submit"]`)))
	p.waitFor("the line, as the account", `[...document.querySelectorAll('[data-testid="stage-chat-line"]')].some(l => l.textContent.includes("still me") && l.querySelector("strong")?.textContent.includes("rechatter"))`, 15*time.Second)

	eval[bool](p, "sign out", `(() => { [...document.querySelectorAll("button")].find(b => b.textContent.trim() === "Sign out").click(); return true; })()`)
	p.waitFor("the chat registration forgotten", `!localStorage.getItem("together_access_token") && localStorage.getItem(`+key+`) === null`, 15*time.Second)
}
