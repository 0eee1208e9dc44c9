package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/config"
)

// TestBrowserStageChatCatchesUpAfterReconnect: a chat reader whose socket
// dropped sees, once it is back, what was said meanwhile. Owncast's chat
// socket replays nothing; before, the reconnect went straight to the
// socket and the lines sent while it was down never showed.
func TestBrowserStageChatCatchesUpAfterReconnect(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	// Two lines a moment apart: no flood limit.
	_, base := startApp(t, func(c *config.Config) { c.ChatFloodRate = 0 })
	browser := newBrowser(t)
	reader := newTab(t, browser, "reader")
	holdGatewaySocket(reader) // it holds /ws?accessToken=… too
	reader.do("open the chat", chromedp.Navigate(base+"/embed/chat/readonly"))
	reader.waitFor("the chat log", `!!document.querySelector('[data-testid="stage-chat"]')`, 15*time.Second)
	reader.waitFor("the chat socket", `!document.querySelector('[data-testid="reconnecting"]')`, 15*time.Second)

	writer := newTab(t, browser, "writer")
	writer.do("open the chat to write", chromedp.Navigate(base+"/embed/chat/readwrite"))
	writer.waitFor("the chat input", `!!document.querySelector('[data-testid="stage-chat-input"]')?.placeholder.startsWith("Chat as")`, 15*time.Second)
	writer.waitFor("the writer's socket", `!document.querySelector('[data-testid="reconnecting"]')`, 15*time.Second)
	say := func(text string) {
		t.Helper()
		writer.do("say "+text,
			chromedp.SendKeys(chromedp.CSS(`[data-testid="stage-chat-input"]`), text),
			chromedp.Click(chromedp.CSS(`.stage-chat button[type="submit"]`)),
		)
		writer.waitFor("the writer's own line", `[...document.querySelectorAll('[data-testid="stage-chat-line"]')].some(l => l.textContent.includes(`+jsString(text)+`))`, 15*time.Second)
	}
	line := func(text string) string {
		return `[...document.querySelectorAll('[data-testid="stage-chat-line"]')].some(l => l.textContent.includes(` + jsString(text) + `))`
	}
	say("before the drop")
	reader.waitFor("the first line, live", line("before the drop"), 15*time.Second)

	eval[bool](reader, "drop the reader's chat socket", `window.__holdWS()`)
	reader.waitFor("the socket down", `!!document.querySelector('[data-testid="reconnecting"]')`, 20*time.Second)
	say("while you were away")
	eval[bool](reader, "let the socket back", `window.__releaseWS()`)
	reader.waitFor("the socket back", `!document.querySelector('[data-testid="reconnecting"]')`, 40*time.Second)
	reader.waitFor("the line said while it was down", line("while you were away"), 15*time.Second)
	if !eval[bool](reader, "look for the first line", line("before the drop")) {
		t.Fatalf("the line before the drop went: %s", reader.text())
	}
}
