package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/live"
)

// TestBrowserStageClipsAndCopy: on a stage channel, a member's clip is
// announced in the chat with its file's path, which needs the member's
// token (a plain request answers 401); the app offers Play there, which
// asks for a short-lived signed URL of the file and plays it from there
// (no blob, no token in the URL; it seeks, and a URL that stopped working
// is renewed), and Download, a signed URL sent as an attachment; the clip
// is listed under the stage's recordings. The owner's "Copy" of the stream key says
// "Copied", and where the clipboard refuses, says so with the key shown
// and selected.
func TestBrowserStageClipsAndCopy(t *testing.T) {
	t.Parallel()
	needBrowser(t)
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
	publish(t, key.RTMPURL+"/"+key.StreamKey)

	// Bob clips the last seconds once the stage is live and recording
	// (polling the server's state after ffmpeg started).
	var clip struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	}
	body, _ := json.Marshal(map[string]any{"stage": ch.ID, "seconds": 3, "title": "Encore"})
	for deadline := time.Now().Add(hangGuard); ; {
		req, _ := http.NewRequest("POST", base+"/api/clips", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+c.bob.Access)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			if res.StatusCode == http.StatusCreated {
				err = json.NewDecoder(res.Body).Decode(&clip)
			}
			res.Body.Close()
			if clip.ID != "" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no clip: %v", err)
		}
		time.Sleep(250 * time.Millisecond) // polling an external process's state, not synchronising goroutines
	}
	if res, err := http.Get(base + clip.URL); err != nil || res.StatusCode != http.StatusNotFound {
		// A stage channel's file answers a caller who may not see it as an
		// unknown id (docs/security.md), signed in or not.
		t.Fatalf("the clip's file without a token: %v %v, want 404", res.StatusCode, err)
	} else {
		res.Body.Close()
	}

	browser := newBrowser(t)
	p := newTab(t, browser, "alice")
	signIn(p, base, c.alice, "/c/"+c.server+"/"+ch.ID)

	// Copy the stream key: refused, then allowed.
	p.waitFor("the publishing details", `!!document.querySelector('[data-testid="stage-stream-key"]')?.textContent`, 15*time.Second)
	eval[bool](p, "open them and refuse the clipboard", `(() => {
		document.querySelector('[data-testid="stage-publish"]').open = true;
		Object.defineProperty(navigator, "clipboard", { configurable: true, value: { writeText: () => Promise.reject(new DOMException("denied", "NotAllowedError")) } });
		return true; })()`)
	p.do("copy the key", chromedp.Click(chromedp.CSS(`[data-testid="stage-copy-key"]`)))
	p.waitFor("a visible error, the key shown and selected",
		`(() => { const e = document.querySelector('[data-testid="stage-copy-error"]'); const k = document.querySelector('[data-testid="stage-stream-key"]'); return !!e && e.getClientRects().length > 0 && !k.classList.contains("blur") && String(getSelection()) === k.textContent && !document.querySelector('[data-testid="stage-copied"]'); })()`, 10*time.Second)
	eval[bool](p, "allow the clipboard", `(() => { Object.defineProperty(navigator, "clipboard", { configurable: true, value: { writeText: (t) => { window.__copied = t; return Promise.resolve(); } } }); return true; })()`)
	p.do("copy the key again", chromedp.Click(chromedp.CSS(`[data-testid="stage-copy-key"]`)))
	p.waitFor(`"Copied", the error gone`, `document.querySelector('[data-testid="stage-copied"]')?.textContent === "Copied" && !document.querySelector('[data-testid="stage-copy-error"]') && window.__copied === `+jsString(key.StreamKey), 10*time.Second)

	// The clip in the chat plays.
	inChat := `document.querySelector('[data-testid="message"] [data-clip=` + jsString(clip.ID) + `]')`
	p.waitFor("the clip in the chat", `!!`+inChat+`?.querySelector('[data-testid="clip-play"]')`, 15*time.Second)
	eval[bool](p, "play it", `(() => { `+inChat+`.querySelector('[data-testid="clip-play"]').click(); return true; })()`)
	video := inChat + `?.querySelector('[data-testid="clip-video"]')`
	p.waitFor("the clip playing", `(() => { const v = `+video+`; if (v && v.paused) { v.muted = true; v.play().catch(() => {}); } return !!v && v.readyState >= 2 && v.duration > 1; })()`, 30*time.Second)
	// From a signed URL of the file, streamed by the browser (range
	// requests, seekable), not a blob fetched whole; no token in it.
	src := eval[string](p, "the player's source", video+`.src`)
	u, err := url.Parse(src)
	if err != nil || u.Path != "/api/clips/"+clip.ID+"/file" || u.Query().Get("sig") == "" || u.Query().Get("exp") == "" {
		t.Fatalf("the clip's source: %q, want its signed file URL", src)
	}
	tokens := eval[[]string](p, "the tokens the page holds", `[localStorage.getItem("together_access_token"), localStorage.getItem("together_refresh_token")].filter(Boolean)`)
	for _, tok := range append(tokens, c.alice.Access, c.alice.Refresh) {
		if tok != "" && (strings.Contains(src, tok) || strings.Contains(src, url.QueryEscape(tok))) {
			t.Fatalf("the clip's source %q carries a token", src)
		}
	}
	eval[bool](p, "seek into the clip", `(() => { const v = `+video+`; v.currentTime = v.duration / 2; return true; })()`)
	p.waitFor("the clip seeked", `(() => { const v = `+video+`; return !v.seeking && v.readyState >= 2 && v.currentTime >= v.duration / 2 - 0.5; })()`, 30*time.Second)
	// A URL that stopped working (expired while paused) is asked for
	// again, and the clip plays on.
	eval[bool](p, "spoil the URL", `(() => { const v = `+video+`; v.src = v.src.replace(/sig=[0-9a-f]/, "sig=x"); return true; })()`)
	p.waitFor("a fresh URL playing", `(() => { const v = `+video+`; if (v && v.paused) { v.muted = true; v.play().catch(() => {}); } return !!v && v.readyState >= 2 && /[?&]sig=[0-9a-f]{64}(&|$)/.test(v.src); })()`, 30*time.Second)
	// Download: a signed URL the server sends as an attachment named after
	// the clip (the chat's player knows only its id).
	eval[bool](p, "download it", `(() => { window.__downloads = []; HTMLAnchorElement.prototype.click = function () { window.__downloads.push({ href: this.href, name: this.download }); }; `+
		inChat+`.querySelector('[data-testid="clip-download"]').click(); return true; })()`)
	p.waitFor("the download link", `window.__downloads.length === 1`, 15*time.Second)
	dl := eval[string](p, "fetch the download", `(async () => { const d = window.__downloads[0]; const r = await fetch(d.href, { credentials: "omit" }); const b = await r.arrayBuffer(); return [r.status, r.headers.get("content-disposition"), b.byteLength > 0, d.name, new URL(d.href).searchParams.has("sig")].join("|"); })()`)
	if dl != `200|attachment; filename=Encore.mp4|true||true` {
		t.Fatalf("the download: %s", dl)
	}
	// And it is listed with the stage's recordings.
	p.waitFor("the clip listed under the recordings", `!!document.querySelector('[data-testid="clips"] [data-clip=`+jsString(clip.ID)+`] [data-testid="clip-download"]')`, 15*time.Second)
	p.screenshot("stage-clip")

	// Alice manages the channel: the list offers her Delete on Bob's clip.
	listed := `document.querySelector('[data-testid="clips"] [data-clip=` + jsString(clip.ID) + `]')`
	deleteOf := listed + `?.closest('[data-testid="clip-item"]').querySelector('[data-testid="clip-delete"]')`
	p.waitFor("Delete offered to the manager", `!!`+deleteOf, 15*time.Second)

	// Bob made the clip (it counts against his clip budget): he deletes it
	// from the list himself.
	pb := newTab(t, browser, "bob")
	signIn(pb, base, c.bob, "/c/"+c.server+"/"+ch.ID)
	pb.waitFor("Delete offered to the clip's maker", `!!`+deleteOf, 20*time.Second)
	eval[bool](pb, "delete it", `(() => { window.confirm = () => true; `+deleteOf+`.click(); return true; })()`)
	pb.waitFor("the clip gone from the list", `!`+listed, 15*time.Second)
	req, _ := http.NewRequest("GET", base+"/api/clips/"+clip.ID, nil)
	req.Header.Set("Authorization", "Bearer "+c.alice.Access)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("the deleted clip: %d, want 404", res.StatusCode)
	}
	// The announcement in the chat says the clip was deleted, and offers
	// no Play any more (a MESSAGE_UPDATE, on the page already open).
	p.waitFor("the announcement updated", `!`+inChat+` && [...document.querySelectorAll('[data-testid="message"]')].some((m) => m.textContent.includes("Encore") && m.textContent.includes("(clip deleted)"))`, 15*time.Second)
}
