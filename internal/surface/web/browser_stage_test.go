package web_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/config"
)

// TestBrowserStageChatColourAndActions: a viewer picks a chat colour
// (Owncast's COLOR_CHANGE), which the server keeps and others see on her
// next message; the admin's external actions show as Owncast's page shows
// them: html in a dialog (sanitised), a URL in a sandboxed frame with the
// viewer's name and the page appended.
func TestBrowserStageChatColourAndActions(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	// The colour change and the chat line follow each other faster than
	// Owncast's flood limit (1.5 frames a second) allows; that limit is
	// not what this test is about.
	_, base := startApp(t, func(c *config.Config) { c.ChatFloodRate = 0 })
	adminPost(t, base, "/api/admin/config/externalactions", map[string]any{"value": []map[string]any{
		{"title": "Tip jar", "html": `<p>Thanks for <strong>watching</strong>!</p><script>window.pwned = 1</script><iframe src="https://example.invalid/widget" title="widget"></iframe>`},
		{"title": "Schedule", "url": "https://example.invalid/schedule", "color": "#336699", "description": "When we are live"},
	}})
	browser := newBrowser(t)
	viewer := newTab(t, browser, "viewer")
	other := newTab(t, browser, "other")
	other.do("open the read-only chat", chromedp.Navigate(base+"/embed/chat/readonly"))
	other.waitFor("the chat socket", `!!document.querySelector('[data-testid="stage-chat"]') && !document.querySelector('[data-testid="reconnecting"]')`, 10*time.Second)
	viewer.do("open the stage", chromedp.Navigate(base+"/live"))
	viewer.waitFor("the chat input", `!!document.querySelector('[data-testid="stage-chat-input"]')?.placeholder.startsWith("Chat as")`, 15*time.Second)
	viewer.waitFor("the chat socket", `!document.querySelector('[data-testid="reconnecting"]')`, 10*time.Second)

	// The colour she has now (from CONNECTED_USER_INFO), and another one.
	viewer.do("open the colours", chromedp.Click(chromedp.CSS(`[data-testid="chat-color-toggle"]`)))
	viewer.waitFor("the current colour marked", `document.querySelectorAll('[data-testid="chat-colors"] [aria-checked="true"]').length === 1`, 10*time.Second)
	cur := eval[float64](viewer, "read the current colour", `[...document.querySelectorAll('[data-testid="chat-colors"] button')].findIndex(b => b.getAttribute("aria-checked") === "true")`)
	want := (int(cur) + 3) % 8
	viewer.do("pick another", chromedp.Click(chromedp.CSS(`[data-testid="chat-colors"] button[aria-label="Colour `+strconv.Itoa(want+1)+`"]`)))
	viewer.waitFor("the server's answer", `document.querySelector('[data-testid="chat-color-toggle"] .swatch')?.classList.contains("bg-hue-`+strconv.Itoa(want)+`")`, 10*time.Second)
	viewer.do("chat", chromedp.SendKeys(chromedp.CSS(`[data-testid="stage-chat-input"]`), "new colours!"),
		chromedp.Click(chromedp.CSS(`.stage-chat button[type="submit"]`)))
	other.waitFor("her line in the new colour", `[...document.querySelectorAll('[data-testid="stage-chat-line"]')].some(l => l.textContent.includes("new colours!") && l.querySelector("strong").classList.contains("hue-`+strconv.Itoa(want)+`"))`, 10*time.Second)
	// Kept by the server: a reload shows it again.
	viewer.do("reload", chromedp.Navigate(base+"/live"))
	viewer.waitFor("the colour after reload", `document.querySelector('[data-testid="chat-color-toggle"] .swatch')?.classList.contains("bg-hue-`+strconv.Itoa(want)+`")`, 15*time.Second)

	// External actions.
	viewer.waitFor("two action buttons", `document.querySelectorAll('[data-testid="external-action"]').length === 2`, 10*time.Second)
	viewer.waitFor("the action's colour", `getComputedStyle([...document.querySelectorAll('[data-testid="external-action"]')].find(b => b.textContent === "Schedule")).backgroundColor === "rgb(51, 102, 153)"`, 5*time.Second)
	eval[bool](viewer, "open the html action", `(() => { [...document.querySelectorAll('[data-testid="external-action"]')].find(b => b.textContent === "Tip jar").click(); return true; })()`)
	viewer.waitFor("the html in a dialog", `document.querySelector('[data-testid="action-dialog"]')?.open && document.querySelector('[data-testid="action-html"] strong')?.textContent === "watching"`, 10*time.Second)
	viewer.screenshot("external-action")
	if eval[bool](viewer, "look for the script", `!!document.querySelector('[data-testid="action-html"] script') || document.querySelector('[data-testid="action-html"]').textContent.includes("pwned") || window.pwned === 1`) {
		t.Fatal("the html action's script was kept")
	}
	frame := eval[string](viewer, "read the widget frame", `(() => { const f = document.querySelector('[data-testid="action-html"] iframe'); return f ? f.getAttribute("src") + " | " + f.getAttribute("sandbox") : ""; })()`)
	if frame != "https://example.invalid/widget | allow-scripts allow-popups allow-forms allow-same-origin" {
		t.Fatalf("html action frame = %q", frame)
	}
	viewer.do("close the dialog", chromedp.Click(chromedp.CSS(`[data-testid="action-dialog"] form button`)))
	viewer.waitFor("the dialog closed", `!document.querySelector('[data-testid="action-dialog"]').open`, 5*time.Second)

	name := eval[string](viewer, "read the chat name", `JSON.parse(localStorage.getItem("owncast_chat")).displayName`)
	eval[bool](viewer, "open the url action", `(() => { [...document.querySelectorAll('[data-testid="external-action"]')].find(b => b.textContent === "Schedule").click(); return true; })()`)
	viewer.waitFor("the url in a sandboxed frame with username and instance", `(() => {
		const f = document.querySelector('[data-testid="action-frame"]');
		if (!f || !document.querySelector('[data-testid="action-dialog"]').open || !f.sandbox.contains("allow-scripts")) return false;
		const u = new URL(f.src);
		return u.origin + u.pathname === "https://example.invalid/schedule" && u.searchParams.get("username") === `+jsString(name)+` && u.searchParams.get("instance") === location.href;
	})()`, 10*time.Second)
}
