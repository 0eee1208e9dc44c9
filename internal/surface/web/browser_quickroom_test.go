package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserQuickRoom: a quick room reads "Quick room", not its UUID; the
// chat input says what it is for; a chat line keeps the sender's name apart
// from the text. Desktop and a 390×844 phone.
func TestBrowserQuickRoom(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	for _, vp := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		p := newTab(t, browser, "quick-"+vp.name)
		p.do("viewport", chromedp.EmulateViewport(vp.w, vp.h))
		p.do("open the rooms page", chromedp.Navigate(base+"/rooms"))
		p.waitFor("the quick room button", `[...document.querySelectorAll("button")].some(b => b.textContent === "Start a quick room")`, 15*time.Second)
		eval[bool](p, "start a quick room", `(() => { [...document.querySelectorAll("button")].find(b => b.textContent === "Start a quick room").click(); return true; })()`)
		p.waitFor("the friendly title", `document.querySelector('[data-testid="room-title"]')?.textContent === "Quick room" && location.pathname.startsWith("/room/")`, 15*time.Second)
		p.waitFor("the chat placeholder", `document.querySelector("#room-chat")?.placeholder !== ""`, 5*time.Second)
		p.do("say hi", chromedp.SendKeys(chromedp.ID("room-chat"), "hi room\r"))
		p.waitFor("the chat line, name apart from text", `(() => { const l = [...document.querySelectorAll(".chat p.line")].find(l => l.querySelector(".said")?.textContent === "hi room"); if (!l) return false; const from = l.querySelector(".from").textContent; return from !== "" && l.textContent === from + ": hi room"; })()`, 10*time.Second)
		p.waitFor("no horizontal overflow", `document.documentElement.scrollWidth <= window.innerWidth + 1`, 5*time.Second)
		p.screenshot("quickroom-" + vp.name)
	}
}
