package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/live"
)

// TestBrowserStageRecordingDownload: a stage channel's finished recording
// needs the member's token (its download link alone answers 401); the app
// offers a member Download MP4 under it all the same, which follows a
// short-lived signed URL of the download, with no token in it, that the
// server sends as an attachment named after the recording.
func TestBrowserStageRecordingDownload(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("no ffmpeg")
	}
	a, base := startApp(t, func(c *config.Config) {
		c.RTMPAddr = "127.0.0.1:0"
		c.Recording = true
	})
	c := newCommunity(t, base)
	var ch struct {
		ID string `json:"id"`
	}
	together(t, base, "POST", "/servers/"+c.server+"/channels", c.alice.Access, map[string]any{"name": "concerts", "type": "stage"}, &ch)
	var key struct {
		RTMPURL   string `json:"rtmpUrl"`
		StreamKey string `json:"streamKey"`
	}
	together(t, base, "GET", "/api/stages/"+ch.ID+"/key", c.alice.Access, nil, &key)
	// Passthrough keeps the two shared CPUs for the browser.
	if err := a.Live.SetVariants(context.Background(), ch.ID, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}); err != nil {
		t.Fatal(err)
	}
	// A short broadcast, over when ffmpeg exits.
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25",
		"-c:a", "aac", "-b:a", "64k", "-f", "flv", key.RTMPURL+"/"+key.StreamKey).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	var rec struct {
		ID          string `json:"id"`
		Recording   bool   `json:"recording"`
		DownloadURL string `json:"downloadUrl"`
	}
	for deadline := time.Now().Add(hangGuard); ; {
		var list []struct {
			ID          string `json:"id"`
			Recording   bool   `json:"recording"`
			DownloadURL string `json:"downloadUrl"`
		}
		req, _ := http.NewRequest("GET", base+"/api/recordings?stage="+ch.ID, nil)
		req.Header.Set("Authorization", "Bearer "+c.bob.Access)
		if res, err := http.DefaultClient.Do(req); err == nil {
			_ = json.NewDecoder(res.Body).Decode(&list)
			res.Body.Close()
		}
		if len(list) == 1 && !list[0].Recording {
			rec = list[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no finished recording")
		}
		time.Sleep(200 * time.Millisecond) // polling the server's state after ffmpeg, not synchronising goroutines
	}
	together(t, base, "PATCH", "/api/recordings/"+rec.ID, c.alice.Access, map[string]any{"title": "Encore set"}, nil)
	if res, err := http.Get(base + rec.DownloadURL); err != nil || res.StatusCode != http.StatusNotFound {
		// A stage channel's file answers a caller who may not see it as an
		// unknown id (docs/security.md), signed in or not.
		t.Fatalf("the recording's download without a token: %v %v, want 404", res.StatusCode, err)
	} else {
		res.Body.Close()
	}

	browser := newBrowser(t)
	p := newTab(t, browser, "bob")
	signIn(p, base, c.bob, "/c/"+c.server+"/"+ch.ID)
	p.waitFor("the past broadcast", `!!document.querySelector('[data-testid="recording-item"]')`, 20*time.Second)
	eval[bool](p, "open it", `(() => { document.querySelector('[data-testid="recording-item"]').click(); return true; })()`)
	p.waitFor("Download MP4", `document.querySelector('[data-testid="recording-download"]')?.textContent === "Download MP4"`, 15*time.Second)
	eval[bool](p, "download it", `(() => { window.__downloads = []; HTMLAnchorElement.prototype.click = function () { window.__downloads.push({ href: this.href, name: this.download }); }; `+
		`document.querySelector('[data-testid="recording-download"]').click(); return true; })()`)
	p.waitFor("the download link", `window.__downloads.length === 1`, 15*time.Second)
	href := eval[string](p, "the link", `window.__downloads[0].href`)
	u, err := url.Parse(href)
	if err != nil || u.Path != "/api/recordings/"+rec.ID+"/download" || u.Query().Get("sig") == "" || u.Query().Get("exp") == "" {
		t.Fatalf("the download link: %q, want the recording's signed download URL", href)
	}
	tokens := eval[[]string](p, "the tokens the page holds", `[localStorage.getItem("together_access_token"), localStorage.getItem("together_refresh_token")].filter(Boolean)`)
	for _, tok := range append(tokens, c.bob.Access, c.bob.Refresh) {
		if tok != "" && (strings.Contains(href, tok) || strings.Contains(href, url.QueryEscape(tok))) {
			t.Fatalf("the download link %q carries a token", href)
		}
	}
	dl := eval[string](p, "fetch the download", `(async () => { const d = window.__downloads[0]; const r = await fetch(d.href, { credentials: "omit" }); const b = new Uint8Array(await r.arrayBuffer()); return [r.status, r.headers.get("content-type"), r.headers.get("content-disposition"), String.fromCharCode(...b.slice(4, 8)), d.name].join("|"); })()`)
	if dl != `200|video/mp4|attachment; filename="Encore set.mp4"|ftyp|` {
		t.Fatalf("the download: %s", dl)
	}
	p.screenshot("stage-recording-download")
}
