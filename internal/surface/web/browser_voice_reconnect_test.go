package web_test

import (
	"testing"
	"time"
)

// holdGatewaySocket makes p's gateway WebSocket (/ws?token=…) closable
// and its reconnects refusable from the test: window.__holdWS() closes it
// and sends every new one to a same-origin path that is no socket (the
// handshake fails, as on a lost connection) until window.__releaseWS();
// a test may set window.__heldURL to send them elsewhere. (window.__readies,
// which newTab installs, counts the READYs.)
func holdGatewaySocket(p *page) {
	p.t.Helper()
	installScript(p, "install the socket hold", `
		(() => {
			const Real = window.WebSocket, open = [];
			let held = false;
			window.WebSocket = function (url, protocols) {
				const gw = String(url).includes("/ws?");
				const to = window.__heldURL || location.origin.replace(/^http/, "ws") + "/no-socket-here";
				const ws = new Real(held && gw ? to : url, protocols);
				if (gw) open.push(ws);
				return ws;
			};
			window.WebSocket.prototype = Real.prototype;
			for (const k of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) window.WebSocket[k] = Real[k];
			window.__holdWS = () => { held = true; open.splice(0).forEach(ws => ws.close()); return true; };
			window.__releaseWS = () => { held = false; return true; };
		})();`)
}

// readies waits for p's gateway's first READY and returns how many READYs
// p has had.
func readies(p *page) int {
	p.t.Helper()
	p.waitFor("the gateway's READY", `window.__readies > 0`, 30*time.Second)
	return eval[int](p, "count the READYs", `window.__readies`)
}

// bobHeld starts an app with a community and opens bob's tab (not signed
// in) with its gateway socket holdable (holdGatewaySocket).
func bobHeld(t *testing.T) (base string, c community, p *page) {
	t.Helper()
	_, base = startApp(t, nil)
	c = newCommunity(t, base)
	p = newTab(t, newBrowser(t), "bob")
	holdGatewaySocket(p)
	return base, c, p
}

// twoInCall is a watch channel's call that alice and bob (each a tab of
// one browser) have joined, as alice sees it.
type twoInCall struct {
	base, channel string
	c             community
	alice, bob    *page
	// bobTile selects bob's tile on alice's page.
	bobTile string
}

// newTwoInCall starts an app and puts alice and bob in a watch channel's
// call; prepare runs on alice's tab before she signs in (page scripts). It
// returns once alice sees bob's tile.
func newTwoInCall(t *testing.T, prepare func(alice *page)) twoInCall {
	t.Helper()
	_, base := startApp(t, nil)
	c := newCommunity(t, base)
	chID, path := c.watchChannel(t)
	browser := newBrowser(t)
	alice, bob := newTab(t, browser, "alice"), newTab(t, browser, "bob")
	prepare(alice)
	for i, a := range []account{c.alice, c.bob} {
		p := []*page{alice, bob}[i]
		logIn(p, base, a, path)
		joinCall(p)
	}
	call := twoInCall{base: base, channel: chID, c: c, alice: alice, bob: bob,
		bobTile: `document.querySelector('[data-testid="watch-tile"][data-user=` + jsString(c.bob.ID) + `]')`}
	alice.waitFor("bob's tile", `!!`+call.bobTile, 20*time.Second)
	return call
}

// TestBrowserVoiceReconnectReloadsTheCall: a member whose gateway socket
// was down while someone left the call sees them gone once it is back: the
// app reads the call's voice states again on READY, since the leave
// (VOICE_STATE_UPDATE) was sent while nothing was there to receive it.
func TestBrowserVoiceReconnectReloadsTheCall(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	call := newTwoInCall(t, holdGatewaySocket)
	alice, bob := call.alice, call.bob

	eval[bool](alice, "hold alice's gateway socket", `window.__holdWS()`)
	alice.waitFor("alice's socket down", `!!document.querySelector('[data-testid="reconnecting"]')`, 20*time.Second)
	leaveCall(bob)
	untilOutOfCall(t, call.base, call.channel, call.c.bob, call.c.bob.ID, "bob still in the call's voice states after leaving")
	eval[bool](alice, "release alice's gateway socket", `window.__releaseWS()`)
	alice.waitFor("alice's socket back", `!document.querySelector('[data-testid="reconnecting"]')`, 30*time.Second)
	alice.waitFor("bob's tile gone after the reconnect", `!`+call.bobTile, 20*time.Second)
}
