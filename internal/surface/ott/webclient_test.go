package ott_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

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
		return r.FullSync().Playing
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

	w.c.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "third participant gone", func() bool {
		r, _ := h.watch.Get(context.Background(), room)
		return r.Len() == 2
	})

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
	// Vote mode: B votes for a queued item with the queue's vote button.
	if r := h.do("PATCH", "/api/room/"+room, tok, map[string]any{"queueMode": "vote"}); r.status != 200 {
		t.Fatalf("vote mode: %s", r.raw)
	}
	for _, f := range []string{"clip1.mp4", "clip2.mp4"} {
		if r := h.do("POST", "/api/room/"+room+"/queue", tok, map[string]any{"service": "direct", "id": h.fixture(f)}); r.status != 200 {
			t.Fatalf("queue %s: %s", f, r.raw)
		}
	}
	run(t, b, "vote", chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-cy="btn-vote"]').length === 2`, chromedp.WithPollingTimeout(15*time.Second)),
		chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('[data-cy="btn-vote"]')[1].click()`))
	waitFor(t, "vote counted", func() bool {
		r, _ := h.watch.Get(context.Background(), room)
		vc := r.FullSync().VoteCounts
		return len(vc) == 1 && vc[0] == watch.VoteCount{Video: "direct" + h.fixture("clip2.mp4"), Count: 1}
	})
	// A's client store holds the count and the vote-ordered queue.
	run(t, a, "vote state in a's client", chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => {
		const st = document.querySelector('#app').__vue_app__.config.globalProperties.$store.state.room;
		return st.voteCounts?.get(%q) === 1 && st.queue[0]?.id === %q })()`, "direct"+h.fixture("clip2.mp4"), h.fixture("clip2.mp4")),
		chromedp.WithPollingTimeout(15*time.Second)))

	// A signs up with its client's token and claims the room; then A kicks
	// B from the user list menu, and B's client shows OTT's kicked overlay.
	atok, err := chromedp.Run(a, chromedp.Evaluate[string](`localStorage.getItem("token")`))
	if err != nil || atok == "" {
		t.Fatalf("a's token: %q %v", atok, err)
	}
	if r := h.do("POST", "/api/user/register", atok, map[string]any{"username": "webowner", "password": "Passw0rdLong"}); r.status != 201 {
		t.Fatalf("register: %s", r.raw)
	}
	if r := h.do("PATCH", "/api/room/"+room, atok, map[string]any{"claim": true}); r.status != 200 {
		t.Fatalf("claim: %s", r.raw)
	}
	// B signs up too, so it can be promoted.
	btok, err := chromedp.Run(b, chromedp.Evaluate[string](`localStorage.getItem("token")`))
	if err != nil || btok == "" {
		t.Fatalf("b's token: %q %v", btok, err)
	}
	if r := h.do("POST", "/api/user/register", btok, map[string]any{"username": "webguest", "password": "Passw0rdLong"}); r.status != 201 {
		t.Fatalf("register b: %s", r.raw)
	}

	// Settings and grants from A's settings tab: a new title, and chat taken
	// away from unregistered users.
	// A's client learns it is signed in when it loads; reload it.
	reloadAndPoll(t, a, "reload a", h.url+"/room/"+room, `document.querySelector("#connectStatus")?.textContent.trim() === "Connected"`)
	run(t, a, "settings tab",
		chromedp.Evaluate[chromedp.Void](`(() => { const t = [...document.querySelectorAll('[role="tab"]')].find(e => e.textContent.includes("Settings"));
			for (const ev of ["pointerdown", "mousedown"]) t.dispatchEvent(new PointerEvent(ev, {bubbles: true, button: 0, pointerType: "mouse"})); t.click(); })()`),
		chromedp.WaitVisible(chromedp.CSS(`[data-cy="input-title"]`)))
	run(t, a, "settings",
		chromedp.Evaluate[chromedp.Void](`(() => { const t = [...document.querySelectorAll('[role="tab"]')].find(e => e.textContent.includes("Settings"));
			for (const ev of ["pointerdown", "mousedown"]) t.dispatchEvent(new PointerEvent(ev, {bubbles: true, button: 0, pointerType: "mouse"})); t.click(); })()`),
		chromedp.WaitVisible(chromedp.CSS(`[data-cy="input-title"]`)),
		chromedp.Evaluate[chromedp.Void](`(() => { const i = document.querySelector('[data-cy="input-title"]'); i.value = ""; i.dispatchEvent(new Event("input", {bubbles: true})); })()`),
		chromedp.SendKeys(chromedp.CSS(`[data-cy="input-title"]`), "Movie Night"),
		chromedp.Poll[chromedp.Void](`!!document.querySelector('[data-cy="perm-chk-chat-0"]:not([disabled])')`, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-cy="perm-chk-chat-0"]').click()`),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-cy="save"]').click()`))
	waitFor(t, "settings saved", func() bool {
		r, _ := h.watch.Get(context.Background(), room)
		snap := r.Snapshot()
		return snap.Title == "Movie Night" && !snap.Grants.Granted(watch.RoleUnregistered, watch.PermChat) && snap.Grants.Granted(watch.RoleRegistered, watch.PermChat)
	})
	run(t, b, "b sees the title", chromedp.Poll[chromedp.Void](`document.querySelector('#app').__vue_app__.config.globalProperties.$store.state.room.title === "Movie Night"`, chromedp.WithPollingTimeout(15*time.Second)))

	// Promote B to moderator from A's user-list menu.
	openMenu := chromedp.Evaluate[chromedp.Void](`(() => { const b = document.querySelector(".user-list .user-actions"); b.dispatchEvent(new PointerEvent("pointerdown", {bubbles: true, button: 0, pointerType: "mouse"})); b.click(); })()`)
	run(t, a, "promote b", chromedp.Poll[chromedp.Void](`document.querySelectorAll(".user-list .user-actions").length >= 1`, chromedp.WithPollingTimeout(15*time.Second)),
		openMenu,
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('[role="menuitem"]')].some(m => /Promote\s+to\s+Moderator/.test(m.textContent))`, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('[role="menuitem"]')].find(m => /Promote\s+to\s+Moderator/.test(m.textContent)).click()`))
	waitFor(t, "b is a moderator", func() bool {
		r, _ := h.watch.Get(context.Background(), room)
		for _, u := range r.Users() {
			if u.Name == "webguest" && u.Role == watch.RoleModerator {
				return true
			}
		}
		return false
	})

	run(t, a, "open b's menu", chromedp.Poll[chromedp.Void](`document.querySelectorAll(".user-list .user-actions").length >= 1`, chromedp.WithPollingTimeout(15*time.Second)),
		chromedp.Evaluate[chromedp.Void](`(() => { const b = document.querySelector(".user-list .user-actions"); b.dispatchEvent(new PointerEvent("pointerdown", {bubbles: true, button: 0, pointerType: "mouse"})); b.click(); })()`),
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('[role="menuitem"]')].some(m => m.textContent.trim() === "Kick")`, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('[role="menuitem"]')].find(m => m.textContent.trim() === "Kick").click()`))
	run(t, b, "b kicked", chromedp.Poll[chromedp.Void](`document.querySelector(".dc-reason")?.textContent.includes("You were kicked from the room by a user.")`, chromedp.WithPollingTimeout(15*time.Second)))
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
	c, cancel := context.WithTimeout(ctx, hangGuard)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		hc, hcancel := context.WithTimeout(ctx, hangGuard)
		html, _ := chromedp.Run(hc, chromedp.OuterHTML(chromedp.CSS("body")))
		hcancel()
		if len(html) > 3000 {
			html = html[:3000]
		}
		t.Fatalf("%s: %v\n%s", what, err, html)
	}
}

// reloadAndPoll loads url again in the tab and polls expr in the new
// document only. The old document is marked first, and a poll that lands in
// the old execution context (it can: the navigation is still replacing it)
// fails with "Cannot find context with specified id" or sees the mark; both
// are tried again until the new document answers.
func reloadAndPoll(t *testing.T, ctx context.Context, what, url, expr string) {
	t.Helper()
	run(t, ctx, what+": mark the old document", chromedp.Evaluate[chromedp.Void](`window.__hearthOldDocument = true`))
	run(t, ctx, what+": navigate", chromedp.Navigate(url))
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := chromedp.Do(c, chromedp.Poll[chromedp.Void](`!window.__hearthOldDocument && (`+expr+`)`, chromedp.WithPollingTimeout(20*time.Second)))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
