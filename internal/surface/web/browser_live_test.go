package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/app"
	"github.com/hearth-community/hearth/internal/config"
)

// rtmpPort is the port the app's RTMP ingest bound (it listens on
// 127.0.0.1:0 in these tests).
func rtmpPort(a *app.App) int { return a.RTMPAddr().(*net.TCPAddr).Port }

// publish runs ffmpeg pushing a test pattern to the RTMP ingest until the
// test ends.
func publish(t *testing.T, url string) {
	t.Helper()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("no ffmpeg")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-g", "25",
		"-c:a", "aac", "-b:a", "64k", "-f", "flv", url)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
}

// waitOnline polls Owncast's /api/status until the stream is online.
func waitOnline(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for time.Now().Before(deadline) {
		res, err := http.Get(base + "/api/status")
		if err == nil {
			var st struct {
				Online bool `json:"online"`
			}
			err = json.NewDecoder(res.Body).Decode(&st)
			res.Body.Close()
			if err == nil && st.Online {
				// And the master playlist is served.
				if r, err := http.Get(base + "/hls/stream.m3u8"); err == nil {
					r.Body.Close()
					if r.StatusCode == http.StatusOK {
						return
					}
				}
			}
		}
		time.Sleep(200 * time.Millisecond) // polling an external process's state, not synchronising goroutines
	}
	t.Fatal("the stream never came online")
}

// TestBrowserLiveStage: ffmpeg publishes over RTMP; the /live page shows
// LIVE with the title and plays the HLS stream (its clock advances); the
// /embed/video page plays it too. The node has no WebRTC media plane, so
// the player's WHEP attempt is refused (503) and it falls back to HLS.
func TestBrowserLiveStage(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	a, base := startApp(t, func(c *config.Config) {
		c.RTMPAddr = "127.0.0.1:0"
		c.DefaultStreamKey = "browser-test-key"
		c.RTCUDPAddr = "" // no WHEP: the HLS fallback
	})
	port := rtmpPort(a)
	browser := newBrowser(t)
	viewer := newTab(t, browser, "viewer")

	// Offline first: the page says so.
	viewer.do("open the stage", chromedp.Navigate(base+"/live"))
	viewer.waitFor("the offline state", `document.querySelector('[data-testid="stage-state"]')?.textContent === "OFFLINE" && !!document.querySelector('[data-testid="stage-offline"]')`, 15*time.Second)

	publish(t, "rtmp://127.0.0.1:"+strconv.Itoa(port)+"/live/browser-test-key")
	waitOnline(t, base)

	viewer.do("reload the stage", chromedp.Navigate(base+"/live"))
	viewer.waitFor("the live state", `document.querySelector('[data-testid="stage-state"]')?.textContent === "LIVE"`, 20*time.Second)
	viewer.waitFor("video playing", `(() => { const v = document.querySelector('[data-testid="stage-video"]'); return v && v.readyState >= 2 && v.currentTime > 1 && !v.paused; })()`, 45*time.Second)
	t0 := eval[float64](viewer, "read the clock", `document.querySelector('[data-testid="stage-video"]').currentTime`)
	viewer.waitFor("the clock advancing", `document.querySelector('[data-testid="stage-video"]').currentTime > `+strconv.FormatFloat(t0+1, 'f', 3, 64), 20*time.Second)
	if eval[bool](viewer, "HLS, not WebRTC", `document.querySelector('[data-testid="stage-video"]').srcObject === null`) != true {
		t.Fatal("the player plays a MediaStream on a node without WebRTC")
	}
	viewer.screenshot("live")

	embed := newTab(t, browser, "embed")
	embed.do("open the video embed", chromedp.Navigate(base+"/embed/video"))
	embed.waitFor("embedded video playing", `(() => { const v = document.querySelector('[data-testid="stage-video"]'); return v && v.readyState >= 2 && v.currentTime > 1; })()`, 45*time.Second)

	// Chat beside the stream: a guest on /live writes, the read-only chat
	// embed shows it with the sender's name (Owncast's chat socket).
	chat := newTab(t, browser, "chat-embed")
	chat.do("open the read-only chat embed", chromedp.Navigate(base+"/embed/chat/readonly"))
	chat.waitFor("the chat log", `!!document.querySelector('[data-testid="stage-chat"]') && !document.querySelector('[data-testid="stage-chat-input"]')`, 10*time.Second)
	chat.waitFor("the chat socket", `!document.querySelector('[data-testid="reconnecting"]')`, 10*time.Second)
	viewer.waitFor("the chat input", `!!document.querySelector('[data-testid="stage-chat-input"]')?.placeholder.startsWith("Chat as")`, 15*time.Second)
	name := eval[string](viewer, "read the chat name", `document.querySelector('[data-testid="stage-chat-input"]').placeholder.replace("Chat as ", "")`)
	viewer.do("say hello",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="stage-chat-input"]`), "hello **stage** :)"),
		chromedp.Click(chromedp.CSS(`.stage-chat button[type="submit"]`)),
	)
	chat.waitFor("the message with its sender", `[...document.querySelectorAll('[data-testid="stage-chat-line"]')].some(l => l.textContent.includes(`+jsString(name)+`) && l.querySelector("strong:not(:first-child), .body strong")?.textContent === "stage")`, 15*time.Second)
	viewer.screenshot("live-chat")

	// Moderation: the admin makes the viewer a moderator (Owncast's admin
	// API); a guest in the read-write embed says something rude; the
	// moderator hides it and it disappears for everyone.
	id := eval[string](viewer, "read the chat user id", `JSON.parse(localStorage.getItem("owncast_chat")).id`)
	adminPost(t, base, "/api/admin/chat/users/setmoderator", map[string]any{"userId": id, "isModerator": true})
	guest := newTab(t, browser, "guest")
	guest.do("open the read-write chat embed", chromedp.Navigate(base+"/embed/chat/readwrite"))
	guest.waitFor("the chat input", `!!document.querySelector('[data-testid="stage-chat-input"]')?.placeholder.startsWith("Chat as")`, 15*time.Second)
	guest.do("say something rude",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="stage-chat-input"]`), "rude words"),
		chromedp.Click(chromedp.CSS(`.stage-chat button[type="submit"]`)),
	)
	chat.waitFor("the rude line", `[...document.querySelectorAll('[data-testid="stage-chat-line"]')].some(l => l.textContent.includes("rude words"))`, 15*time.Second)
	viewer.waitFor("moderator tools on the rude line", `[...document.querySelectorAll('[data-testid="stage-chat-line"]')].some(l => l.textContent.includes("rude words") && l.querySelector(".modtools button"))`, 15*time.Second)
	eval[bool](viewer, "hide it", `(() => { const l = [...document.querySelectorAll('[data-testid="stage-chat-line"]')].find(l => l.textContent.includes("rude words")); l.querySelector(".modtools button").click(); return true; })()`)
	chat.waitFor("the rude line hidden", `![...document.querySelectorAll('[data-testid="stage-chat-line"]')].some(l => l.textContent.includes("rude words"))`, 15*time.Second)
	chat.waitFor("the polite line kept", `[...document.querySelectorAll('[data-testid="stage-chat-line"]')].some(l => l.textContent.includes(`+jsString(name)+`))`, 5*time.Second)
}

// adminPost calls Owncast's admin API with the instance admin's Basic auth.
func adminPost(t *testing.T, base, path string, body any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", base+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", adminPassword)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: HTTP %d", path, res.StatusCode)
	}
}

// TestBrowserAdminDashboard: /admin/ asks for the admin's Basic
// credentials, as Owncast's admin does; with them the dashboard loads its
// stream state, viewers-over-time and hardware charts from the admin API.
func TestBrowserAdminDashboard(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, func(c *config.Config) { c.DefaultStreamKey = "browser-admin-key" })
	browser := newBrowser(t)

	// Without credentials the page is the Basic challenge, not the app
	// (headless Chromium has no login box and fails the navigation).
	stranger := newTab(t, browser, "stranger")
	nctx, cancel := context.WithTimeout(stranger.ctx, hangGuard)
	err := chromedp.Do(nctx, chromedp.Navigate(base+"/admin/"))
	cancel()
	if err == nil || !strings.Contains(err.Error(), "ERR_INVALID_AUTH_CREDENTIALS") {
		t.Fatalf("opening /admin/ without credentials: %v, want the Basic challenge (ERR_INVALID_AUTH_CREDENTIALS)", err)
	}

	// The browser answers the challenge with what the user typed into its
	// login box; here the tab sends the header itself.
	admin := newTab(t, browser, "admin")
	admin.do("open admin with credentials", adminBasicAuth, chromedp.Navigate(base+"/admin"))
	admin.waitFor("redirected to /admin/", `location.pathname === "/admin/"`, 10*time.Second)
	admin.waitFor("the stream state", `document.querySelector('[data-testid="admin-online"]')?.textContent === "Offline"`, 15*time.Second)
	admin.waitFor("two charts", `document.querySelectorAll('[data-testid="chart"]').length === 2`, 10*time.Second)
	// The hardware chart plots what /api/admin/hardwarestats returned.
	admin.waitFor("hardware samples plotted", `document.querySelectorAll('[data-testid="chart"]')[1].querySelectorAll('[data-testid="chart-point"]').length > 0`, 10*time.Second)
	admin.screenshot("admin")

	// Another section, reached in-app.
	admin.do("open stream keys", chromedp.Click(chromedp.CSS(`nav.side a[href="/admin/video"]`)))
	admin.waitFor("the stream key", `[...document.querySelectorAll('input.mono')].some(i => i.value === "browser-admin-key")`, 10*time.Second)

	// Custom emoji: listed on their own page and deleted from it (before,
	// no page of Hearth's admin could delete one).
	adminPost(t, base, "/api/admin/emoji/upload", map[string]any{"name": "blob",
		"data": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="})
	admin.do("open custom emoji", chromedp.Click(chromedp.CSS(`nav.side a[href="/admin/emoji"]`)))
	admin.waitFor("the emoji listed", `document.querySelector('[data-testid="admin-emoji"]')?.textContent.includes(":blob:")`, 10*time.Second)
	admin.do("delete it", chromedp.Click(chromedp.CSS(`[data-testid="admin-emoji"] button.danger`)))
	admin.waitFor("the list emptied", `document.querySelector('[data-testid="admin-emoji"]')?.children.length === 0`, 10*time.Second)
	resp, err := http.Get(base + "/api/emoji")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("/api/emoji after deleting from the admin page: %s", b)
	}
}

// TestBrowserAdminLateLoadKeepsTheSection: a section's data that arrives
// after the admin moved on (the stream keys' config read, held here) does
// not replace the section now shown. Before, the late answer overwrote the
// emoji section's data and its page went blank (seen once on a loaded CI
// machine as TestBrowserAdminDashboard timing out on the emoji list).
func TestBrowserAdminLateLoadKeepsTheSection(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	adminPost(t, base, "/api/admin/emoji/upload", map[string]any{"name": "blob",
		"data": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="})
	admin := newTab(t, newBrowser(t), "admin")
	holdReads(admin)
	admin.do("open admin with credentials", adminBasicAuth, chromedp.Navigate(base+"/admin/"))
	admin.waitFor("the overview", `!!document.querySelector('[data-testid="admin-online"]')`, 20*time.Second)

	eval[bool](admin, "hold the config reads", `window.__holdReads("/api/admin/serverconfig")`)
	admin.do("open stream keys", chromedp.Click(chromedp.CSS(`nav.side a[href="/admin/video"]`)))
	admin.waitFor("the stream keys' config read held", `window.__readsHeld > 0`, 20*time.Second)
	admin.do("open custom emoji", chromedp.Click(chromedp.CSS(`nav.side a[href="/admin/emoji"]`)))
	admin.waitFor("the emoji listed", `document.querySelector('[data-testid="admin-emoji"]')?.textContent.includes(":blob:")`, 20*time.Second)

	// The held answer arrives: the page reads its body and applies (or
	// drops) it in the same task, so a later task sees what it did.
	eval[bool](admin, "release the config read", `window.__releaseReads()`)
	admin.waitFor("the late config read", `window.__readsDone > 0`, 20*time.Second)
	if !eval[bool](admin, "look at the emoji list", `new Promise((r) => setTimeout(() => r(!!document.querySelector('[data-testid="admin-emoji"]')?.textContent.includes(":blob:")), 0))`) {
		t.Fatalf("the emoji section went blank when the stream keys' late config arrived; page: %s", admin.text())
	}
}
