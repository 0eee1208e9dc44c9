package web_test

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/messages"
)

// TestBrowserPlaysARecording: a finished broadcast on the default stage is
// listed under "Past broadcasts" on /live; clicking it plays it, the
// player seeks, and the chat of the broadcast is replayed up to the
// playhead; Download MP4 downloads it.
func TestBrowserPlaysARecording(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("no ffmpeg")
	}
	a, base := startApp(t, func(c *config.Config) {
		c.RTMPAddr = "127.0.0.1:0"
		c.DefaultStreamKey = "rec-key"
		c.Recording = true
	})
	port := rtmpPort(a)
	if err := a.Live.SetVariants(t.Context(), a.Live.DefaultStageID(), []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}); err != nil {
		t.Fatal(err)
	}
	pub := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", "12", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25",
		"-c:a", "aac", "-b:a", "64k", "-f", "flv", "rtmp://127.0.0.1:"+strconv.Itoa(port)+"/live/rec-key")
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	// A chat message during the broadcast is replayed with the recording.
	waitOnline(t, base)
	admin, err := a.Identity.AccountByUsername(t.Context(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Messages.Post(t.Context(), messages.PostInput{ConversationID: a.StageChat.Conversation(), Kind: messages.KindStage,
		AuthorID: admin.ID, Body: "hello from the past"}); err != nil {
		t.Fatal(err)
	}
	if err := pub.Wait(); err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var list []struct{ Recording bool }
		if res, err := http.Get(base + "/api/recordings?stage=default"); err == nil {
			_ = json.NewDecoder(res.Body).Decode(&list)
			res.Body.Close()
		}
		if len(list) == 1 && !list[0].Recording {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no finished recording")
		}
		time.Sleep(200 * time.Millisecond) // polling the server's state after ffmpeg, not synchronising goroutines
	}
	browser := newBrowser(t)
	viewer := newTab(t, browser, "viewer")
	viewer.do("open the stage", chromedp.Navigate(base+"/live"))
	viewer.waitFor("the past broadcast", `!!document.querySelector('[data-testid="recording-item"]')`, 20*time.Second)
	viewer.do("play it", chromedp.Click(chromedp.CSS(`[data-testid="recording-item"]`)))
	viewer.waitFor("the recording playing", `(() => { const v = document.querySelector('[data-testid="recording-video"]'); if (v && v.paused) { v.muted = true; v.play().catch(() => {}); } return v && v.readyState >= 2 && v.currentTime > 0.5 && Math.abs(v.duration - 12) < 2; })()`, 45*time.Second)
	eval[float64](viewer, "seek", `document.querySelector('[data-testid="recording-video"]').currentTime = 8`)
	viewer.waitFor("the player past the seek point", `document.querySelector('[data-testid="recording-video"]').currentTime >= 8`, 30*time.Second)
	viewer.waitFor("the replayed chat", `document.querySelector('[data-testid="recording-chat"]')?.textContent.includes("hello from the past")`, 20*time.Second)
	// An anonymous viewer downloads it too, from a signed URL of the
	// download (an attachment).
	eval[bool](viewer, "download it", `(() => { window.__downloads = []; HTMLAnchorElement.prototype.click = function () { window.__downloads.push(this.href); }; `+
		`document.querySelector('[data-testid="recording-download"]').click(); return true; })()`)
	viewer.waitFor("the download link", `window.__downloads.length === 1`, 15*time.Second)
	dl := eval[string](viewer, "fetch the download", `(async () => { const h = window.__downloads[0]; const r = await fetch(h, { credentials: "omit" }); await r.arrayBuffer(); return [r.status, /^attachment; filename=/.test(r.headers.get("content-disposition")), new URL(h).pathname.endsWith("/download"), new URL(h).searchParams.has("sig")].join("|"); })()`)
	if dl != "200|true|true|true" {
		t.Fatalf("the download: %s", dl)
	}
	viewer.screenshot("recording")
}
