package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// dropNextJoin: after window.__dropJoin(), p's next VOICE_SFU join is never
// sent (window.__joinDropped counts it), as if its socket went down with
// it on the way.
func dropNextJoin(p *page) {
	p.t.Helper()
	installScript(p, "install the join drop", `
		(() => {
			const send = WebSocket.prototype.send;
			let dropping = false;
			window.__joinDropped = 0;
			WebSocket.prototype.send = function (data) {
				if (dropping && typeof data === "string" && data.includes('"VOICE_SFU"') && data.includes('"type":"join"')) {
					dropping = false;
					window.__joinDropped++;
					return;
				}
				return send.call(this, data);
			};
			window.__dropJoin = () => { dropping = true; return true; };
		})();`)
}

// TestBrowserVoiceLeftRequestTakesNoReply: a member whose join of a call
// goes unanswered (the rejoin after a reconnect, lost on the way) and who
// leaves and joins again gets into the call: the request of the call left
// is dropped with it. Without that, it was still waiting, took the new
// join's "joined", and the new join gave up ("did not answer") and left.
func TestBrowserVoiceLeftRequestTakesNoReply(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil) // the test config has a media plane
	c, ch, bob := voiceRoom(t, base, func(p *page) {
		holdGatewaySocket(p)
		dropNextJoin(p)
	})

	bob.do("join voice", chromedp.Click(chromedp.CSS(`[data-testid="voice-toggle"]`)))
	bob.waitFor("in the call", voiceLeaveReady, 30*time.Second)

	// The socket drops and comes back: READY starts a rejoin, whose join
	// is lost.
	eval[bool](bob, "drop bob's next join", `window.__dropJoin()`)
	eval[bool](bob, "hold bob's gateway socket", `window.__holdWS()`)
	bob.waitFor("bob's socket down", `!!document.querySelector('[data-testid="reconnecting"]')`, 20*time.Second)
	eval[bool](bob, "release bob's gateway socket", `window.__releaseWS()`)
	bob.waitFor("bob's socket back", `!document.querySelector('[data-testid="reconnecting"]')`, 30*time.Second)
	bob.waitFor("the rejoin's join dropped", `window.__joinDropped > 0`, 20*time.Second)

	// Bob leaves and joins again.
	bob.waitFor("the leave button", voiceLeaveReady, 20*time.Second)
	bob.do("leave voice", chromedp.Click(chromedp.CSS(`[data-testid="voice-toggle"]`)))
	bob.waitFor("the join button back", `(() => { const b = document.querySelector('[data-testid="voice-toggle"]'); return !!b && !b.disabled && b.textContent.includes("Join"); })()`, 20*time.Second)
	bob.do("join voice again", chromedp.Click(chromedp.CSS(`[data-testid="voice-toggle"]`)))
	bob.waitFor("the join settled", voiceLeaveReady+` || !!document.querySelector('[role="alert"]')`, 60*time.Second)
	if msg := eval[string](bob, "read the alert", `document.querySelector('[role="alert"]')?.textContent ?? ""`); msg != "" {
		t.Fatalf("bob's join again failed: %s", msg)
	}
	if !inVoice(t, base, ch, c.alice, c.bob.ID) {
		t.Fatal("bob is not in the channel's voice states after joining again")
	}
}
