package web_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserWatchCameras: watch together on camera. Two members open a
// community's watch channel, join its call and turn their (fake) cameras
// on; each sees the other's camera tile's frames advancing beside the
// room's player, through the server's SFU keyed by the watch channel. At
// desktop size and at a 390×844 phone, no tile covers the player or its
// playback controls, and the page is no wider than the screen.
func TestBrowserWatchCameras(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil) // the test config has a media plane
	c := newCommunity(t, base)
	_, path := c.watchChannel(t)

	browser := newBrowser(t)
	for _, vp := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		alice, bob := newTab(t, browser, "alice-"+vp.name), newTab(t, browser, "bob-"+vp.name)
		pages := []*page{alice, bob}
		for i, a := range []account{c.alice, c.bob} {
			p := pages[i]
			p.do("viewport", chromedp.EmulateViewport(vp.w, vp.h, chromedp.EmulateMobile))
			logIn(p, base, a, path)
			p.waitFor("the watch room with its call", `!!document.querySelector('[data-testid="play-toggle"]') && !!document.querySelector('[data-testid="watch-call-toggle"]')`, 20*time.Second)
		}
		for _, p := range pages {
			p.do("join the call", chromedp.Click(chromedp.CSS(`[data-testid="watch-call-toggle"]`)))
			p.waitFor("the camera button (the SFU took us)", `!!document.querySelector('[data-testid="watch-call-camera"]')`, 20*time.Second)
			p.do("turn the camera on", chromedp.Click(chromedp.CSS(`[data-testid="watch-call-camera"]`)))
			p.waitFor("our own camera tile", `!!document.querySelector('[data-testid="watch-cam-local"]')`, 20*time.Second)
		}
		for i, p := range pages {
			other := []account{c.bob, c.alice}[i]
			tile := `document.querySelector('[data-testid="watch-cam-video"][data-user=` + jsString(other.ID) + `]')`
			p.waitFor(other.Name+"'s camera frames advancing", fmt.Sprintf(`(() => {
				const v = %s;
				if (!v || !v.getVideoPlaybackQuality) return false;
				const n = v.getVideoPlaybackQuality().totalVideoFrames;
				if (window.__camFrames0 === undefined) { if (n > 0) window.__camFrames0 = n; return false; }
				return n > window.__camFrames0 + 5;
			})()`, tile), 45*time.Second)
			p.waitFor(other.Name+"'s microphone", `[...document.querySelectorAll('[data-testid="watch-call-audio"]')].some(a => a.srcObject && a.srcObject.getAudioTracks().some(t => t.readyState === "live"))`, 30*time.Second)
			// Beside the player, never over it: no tile overlaps the
			// player or the playback controls, and each control is the
			// element at its own centre (nothing drawn on top of it).
			p.waitFor("the tiles clear of the player and its controls", `(() => {
				const boxes = [document.querySelector(".player"), document.querySelector(".controls")].map(e => e.getBoundingClientRect());
				const tiles = [...document.querySelectorAll('[data-testid="watch-tile"]')].map(e => e.getBoundingClientRect());
				const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
				if (tiles.length < 2 || tiles.some(t => boxes.some(b => overlap(t, b)))) return false;
				return [...document.querySelectorAll('.controls button, .controls input')].every(el => {
					el.scrollIntoView({ block: "center" });
					const r = el.getBoundingClientRect();
					const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
					return at === el || el.contains(at);
				});
			})()`, 10*time.Second)
			p.waitFor("the page no wider than the screen", `document.documentElement.scrollWidth <= window.innerWidth`, 10*time.Second)
		}
		alice.screenshot("watch-cameras-" + vp.name)

		bob.do("mute", chromedp.Click(chromedp.CSS(`[data-testid="watch-call-mute"]`)))
		alice.waitFor("bob shown muted", `document.querySelector('[data-testid="watch-tile"][data-user=`+jsString(c.bob.ID)+`]')?.textContent.includes("muted")`, 20*time.Second)
		leaveCall(bob)
		alice.waitFor("bob's tile gone", `!document.querySelector('[data-testid="watch-tile"][data-user=`+jsString(c.bob.ID)+`]')`, 20*time.Second)
		leaveCall(alice)
		alice.waitFor("out of the call", `!document.querySelector('[data-testid="watch-call-camera"]')`, 20*time.Second)
	}
}

// watchChannel creates a watch channel in c (alice's) and returns its id
// and the app's path to it.
func (c community) watchChannel(t *testing.T) (id, path string) {
	t.Helper()
	var ch struct {
		ID string `json:"id"`
	}
	together(t, c.base, "POST", "/servers/"+c.server+"/channels", c.alice.Access, map[string]any{"name": "movie-night", "type": "watch"}, &ch)
	return ch.ID, "/c/" + c.server + "/" + ch.ID
}

// joinCall joins the call of the watch room p is on and waits until it is
// in the call and done joining: the toggle is disabled until the
// microphone's publish is answered, and a click then is lost.
func joinCall(p *page) {
	p.t.Helper()
	p.waitFor("the watch room with its call", `!!document.querySelector('[data-testid="watch-call-toggle"]')`, 20*time.Second)
	p.do("join the call", chromedp.Click(chromedp.CSS(`[data-testid="watch-call-toggle"]`)))
	p.waitFor("in the call", `!!document.querySelector('[data-testid="watch-call-mute"]') && !document.querySelector('[data-testid="watch-call-toggle"]').disabled`, 20*time.Second)
}

// leaveCall leaves p's watch call with its toggle. The toggle is disabled
// while a join is still settling (a click then would be lost), and it says
// "Join call" if the call ended under us (a click then would join again):
// it waits for an enabled Leave, and fails on that wait when the call
// ended instead.
func leaveCall(p *page) {
	p.t.Helper()
	p.waitFor("the call settled", leaveReady, 20*time.Second)
	p.do("leave the call", chromedp.Click(chromedp.CSS(`[data-testid="watch-call-toggle"]`)))
}

// leaveReady: the watch call's toggle leaves the call when clicked (it is
// enabled, and we are in the call).
const leaveReady = `(() => { const b = document.querySelector('[data-testid="watch-call-toggle"]'); return !!b && !b.disabled && b.textContent.includes("Leave"); })()`

// inVoice reports whether user is in the channel's voice states, by the
// server (Together's REST route).
func inVoice(t *testing.T, base, channel string, as account, user string) bool {
	t.Helper()
	var states []struct {
		UserID string `json:"user_id"`
	}
	together(t, base, "GET", "/channels/"+channel+"/voice", as.Access, nil, &states)
	for _, s := range states {
		if s.UserID == user {
			return true
		}
	}
	return false
}

// untilOutOfCall waits until the server no longer lists user in the
// channel's voice states (inVoice, read as as); past hangGuard the test
// fails with why.
func untilOutOfCall(t *testing.T, base, channel string, as account, user, why string) {
	t.Helper()
	for deadline := time.Now().Add(hangGuard); inVoice(t, base, channel, as, user); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(why)
		}
	}
}

// logIn signs a in with the sign-in form (which also signs the browser's
// watch-room token in as a, so the community's watch room opens) and
// lands on path.
func logIn(p *page, base string, a account, path string) {
	p.t.Helper()
	p.do("sign in as "+a.Name,
		chromedp.Navigate(base+"/login?next="+path),
		chromedp.WaitVisible(chromedp.ID("login-username")),
		chromedp.SendKeys(chromedp.ID("login-username"), a.Name),
		chromedp.SendKeys(chromedp.ID("login-password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
	)
	// The app goes on to path once both sign-ins are done.
	p.waitFor("signed in as "+a.Name+" on "+path, `document.querySelector('[data-testid="me-link"]')?.textContent.includes(`+jsString(a.Name)+`) && location.pathname === `+jsString(path), 20*time.Second)
	gatewayUp(p)
}
