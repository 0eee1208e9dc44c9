package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// installScript runs src in p's every new document, before the app.
func installScript(p *page, what, src string) {
	p.t.Helper()
	install := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: src})
		return chromedp.Void{}, err
	}
	p.do(what, install)
}

// holdAnswers lets the test hold the answers to p's reads (GETs) of a
// path: window.__holdAnswers(suffix) makes each later read of a path
// ending in suffix fetch its answer at once (the server's state then) and
// keep it from the app until window.__releaseAnswers(). Each held answer
// counts in window.__answersHeld when it arrived and in
// window.__answersRead once the app read its body; what the app does with
// it then runs in the same task.
func holdAnswers(p *page) {
	p.t.Helper()
	installScript(p, "install the answer hold", `
		(() => {
			const real = window.fetch, waiting = [];
			let held = "";
			window.__answersHeld = 0;
			window.__answersRead = 0;
			window.fetch = async function (input, init) {
				const url = new URL(String(input instanceof Request ? input.url : input), location.href);
				const get = !init || !init.method || init.method === "GET";
				const res = await real.call(this, input, init);
				if (!held || !get || !url.pathname.endsWith(held)) return res;
				const body = await res.text();
				window.__answersHeld++;
				await new Promise((r) => waiting.push(r));
				const out = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
				out.text = async () => { window.__answersRead++; return body; };
				out.json = async () => { window.__answersRead++; return JSON.parse(body); };
				return out;
			};
			window.__holdAnswers = (suffix) => { held = suffix; return true; };
			window.__releaseAnswers = () => { held = ""; waiting.splice(0).forEach((r) => r()); return true; };
		})();`)
}

// holdSends lets the test hold what p sends on its WebSockets, in order:
// after window.__holdSends(), the first frame with a VOICE_SFU join and
// every frame after it wait (counted in window.__sendsHeld) until
// window.__releaseSends() sends them as they came. window.__joinedSeen
// counts the VOICE_SFU "joined" replies received.
func holdSends(p *page) {
	p.t.Helper()
	installScript(p, "install the send hold", `
		(() => {
			const send = WebSocket.prototype.send, queue = [];
			let armed = false, holding = false;
			window.__sendsHeld = 0;
			window.__joinedSeen = 0;
			WebSocket.prototype.send = function (data) {
				if (!this.__counting) {
					this.__counting = true;
					this.addEventListener("message", (e) => {
						if (typeof e.data === "string" && e.data.includes('"VOICE_SFU"') && e.data.includes('"type":"joined"')) window.__joinedSeen++;
					});
				}
				if (armed && typeof data === "string" && data.includes('"VOICE_SFU"') && data.includes('"type":"join"')) holding = true;
				if (!holding) return send.call(this, data);
				queue.push([this, data]);
				window.__sendsHeld++;
			};
			window.__holdSends = () => { armed = true; return true; };
			window.__releaseSends = () => {
				armed = holding = false;
				queue.splice(0).forEach(([ws, d]) => send.call(ws, d));
				return true;
			};
		})();`)
}

// TestBrowserVoiceReadKeepsALeaveMeanwhile: a read of the call's voice
// states (on READY after a reconnect) answered before a member left but
// received after the leave's VOICE_STATE_UPDATE does not bring the member
// back: the updates received while a read is in flight are applied again
// on its answer. Without that, alice kept bob's tile for good.
func TestBrowserVoiceReadKeepsALeaveMeanwhile(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	call := newTwoInCall(t, func(alice *page) {
		holdGatewaySocket(alice)
		holdAnswers(alice)
	})
	alice, bob, chID, bobTile := call.alice, call.bob, call.channel, call.bobTile

	// Alice's socket drops and comes back; the read of the voice states
	// that READY starts is answered (bob still in) and held.
	eval[bool](alice, "hold alice's gateway socket", `window.__holdWS()`)
	alice.waitFor("alice's socket down", `!!document.querySelector('[data-testid="reconnecting"]')`, 20*time.Second)
	eval[bool](alice, "hold alice's voice reads", `window.__holdAnswers(`+jsString("/channels/"+chID+"/voice")+`)`)
	eval[bool](alice, "release alice's gateway socket", `window.__releaseWS()`)
	alice.waitFor("alice's socket back", `!document.querySelector('[data-testid="reconnecting"]')`, 30*time.Second)
	alice.waitFor("the read of the voice states answered, held", `window.__answersHeld > 0`, 20*time.Second)

	// Bob leaves while that answer is held: alice sees the leave.
	leaveCall(bob)
	untilOutOfCall(t, call.base, chID, call.c.bob, call.c.bob.ID, "bob still in the call's voice states after leaving")
	alice.waitFor("bob's tile gone", `!`+bobTile, 20*time.Second)

	// The older answer arrives: bob stays gone. The app applies an answer
	// in the task that read it, so once it is read a later look sees it.
	eval[bool](alice, "release alice's voice reads", `window.__releaseAnswers()`)
	alice.waitFor("the held answers read", `window.__answersRead === window.__answersHeld`, 20*time.Second)
	if eval[bool](alice, "look for bob's tile", `new Promise((r) => setTimeout(() => r(!!`+bobTile+`), 0))`) {
		t.Fatalf("bob's tile is back after the older read of the voice states; page text: %s", alice.text())
	}
}

// TestBrowserVoiceLeaveAJoinOnItsWay: a member who goes elsewhere in the
// app while their join of a call is on its way (sent, not yet answered)
// leaves it: the leave follows the join on the socket. Without it the
// server took them in after the page had gone, and everyone saw them in
// the call for as long as their socket lived.
func TestBrowserVoiceLeaveAJoinOnItsWay(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c := newCommunity(t, base)
	chID, path := c.watchChannel(t)

	browser := newBrowser(t)
	bob := newTab(t, browser, "bob")
	holdSends(bob)
	logIn(bob, base, c.bob, path)
	bob.waitFor("the watch room with its call", `!!document.querySelector('[data-testid="watch-call-toggle"]')`, 20*time.Second)

	eval[bool](bob, "hold bob's sends from his join on", `window.__holdSends()`)
	bob.do("join the call", chromedp.Click(chromedp.CSS(`[data-testid="watch-call-toggle"]`)))
	bob.waitFor("bob's join sent, held", `window.__sendsHeld > 0`, 20*time.Second)
	general := `a[href=` + jsString("/c/"+c.server+"/"+c.channel) + `]`
	bob.do("go to the text channel", chromedp.Click(chromedp.CSS(general)))
	bob.waitFor("the text channel", `location.pathname === `+jsString("/c/"+c.server+"/"+c.channel)+` && !document.querySelector('[data-testid="watch-call"]')`, 20*time.Second)

	eval[bool](bob, "release bob's sends", `window.__releaseSends()`)
	bob.waitFor("the server's answer to the join", `window.__joinedSeen > 0`, 20*time.Second)
	untilOutOfCall(t, base, chID, c.alice, c.bob.ID, "bob is in the call's voice states: he went elsewhere while his join was on its way")
}
