package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/live"
)

// TestBrowserStageChannel: the owner adds a stage channel in the web UI and
// reads its RTMP URL and stream key there; ffmpeg publishes with that key;
// a member opening the channel in another browser sees it LIVE and
// playing while the instance's default stage stays offline, and the two
// chat in the channel beside the stream.
func TestBrowserStageChannel(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	a, base := startApp(t, func(c *config.Config) { c.RTMPAddr = "127.0.0.1:0" })
	port := rtmpPort(a)
	c := newCommunity(t, base)
	browser := newBrowser(t)
	alice := newTab(t, browser, "alice")
	bob := newTab(t, browser, "bob")

	signIn(alice, base, c.alice, c.channelPath())
	alice.waitFor("the add-channel form", `!!document.getElementById("ch-kind")`, 10*time.Second)
	eval[bool](alice, "choose the stage kind", `(() => { const s = document.getElementById("ch-kind"); s.value = "stage"; s.dispatchEvent(new Event("change", { bubbles: true })); return true; })()`)
	alice.do("add a stage channel",
		chromedp.SendKeys(chromedp.ID("ch-name"), "Concerts"),
		chromedp.Click(chromedp.CSS(`form.add button[type="submit"]`)),
	)
	alice.waitFor("the stage's publishing details", `!!document.querySelector('[data-testid="stage-stream-key"]')?.textContent`, 15*time.Second)
	alice.waitFor("the stage offline", `document.querySelector('[data-testid="stage-state"]')?.textContent === "OFFLINE"`, 10*time.Second)
	rtmpURL := eval[string](alice, "read the RTMP URL", `document.querySelector('[data-testid="stage-rtmp-url"]').textContent`)
	key := eval[string](alice, "read the stream key", `document.querySelector('[data-testid="stage-stream-key"]').textContent`)
	path := eval[string](alice, "read the channel path", `location.pathname`)
	channelID := path[strings.LastIndex(path, "/")+1:]
	if rtmpURL != "rtmp://127.0.0.1:"+strconv.Itoa(port)+"/live" || len(key) < 20 {
		t.Fatalf("publishing details %q %q", rtmpURL, key)
	}
	// Passthrough keeps the two shared CPUs for the browsers.
	if err := a.Live.SetVariants(context.Background(), channelID, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}); err != nil {
		t.Fatal(err)
	}
	publish(t, rtmpURL+"/"+key)

	signIn(bob, base, c.bob, path)
	if n := eval[int](bob, "count the publishing details", `document.querySelectorAll('[data-testid="stage-publish"]').length`); n != 0 {
		t.Fatal("a member without Manage channels sees the stream key")
	}
	bob.waitFor("the stage live", `document.querySelector('[data-testid="stage-state"]')?.textContent === "LIVE"`, 45*time.Second)
	bob.waitFor("the stage playing", `(() => { const v = document.querySelector('[data-testid="stage-video"]'); return v && v.readyState >= 2 && v.currentTime > 1; })()`, 60*time.Second)
	res, err := http.Get(base + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	var def struct{ Online bool }
	_ = json.NewDecoder(res.Body).Decode(&def)
	res.Body.Close()
	if def.Online {
		t.Fatal("the default stage is online")
	}

	bob.do("chat beside the stream",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="composer"]`), "great show"),
		chromedp.Click(chromedp.CSS(`form button.primary[type="submit"]`)),
	)
	alice.waitFor("bob's message in the stage channel", `!!`+msgJS("great show"), 15*time.Second)
	bob.screenshot("stage-channel")
}
