package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// holdGatewaySocket makes p's gateway WebSocket (/ws?token=…) closable
// and its reconnects refusable from the test: window.__holdWS() closes it
// and sends every new one to a closed port until window.__releaseWS().
func holdGatewaySocket(p *page) {
	p.t.Helper()
	install := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: `
			(() => {
				const Real = window.WebSocket, open = [];
				let held = false;
				window.WebSocket = function (url, protocols) {
					const gw = String(url).includes("/ws?");
					const ws = new Real(held && gw ? "ws://127.0.0.1:9/" : url, protocols);
					if (gw) open.push(ws);
					return ws;
				};
				window.WebSocket.prototype = Real.prototype;
				for (const k of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) window.WebSocket[k] = Real[k];
				window.__holdWS = () => { held = true; open.splice(0).forEach(ws => ws.close()); return true; };
				window.__releaseWS = () => { held = false; return true; };
			})();`})
		return chromedp.Void{}, err
	}
	p.do("install the socket hold", install)
}

// TestBrowserVoiceReconnectReloadsTheCall: a member whose gateway socket
// was down while someone left the call sees them gone once it is back: the
// app reads the call's voice states again on READY, since the leave
// (VOICE_STATE_UPDATE) was sent while nothing was there to receive it.
func TestBrowserVoiceReconnectReloadsTheCall(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c := newCommunity(t, base)
	chID, path := c.watchChannel(t)

	browser := newBrowser(t)
	alice, bob := newTab(t, browser, "alice"), newTab(t, browser, "bob")
	holdGatewaySocket(alice)
	for i, a := range []account{c.alice, c.bob} {
		p := []*page{alice, bob}[i]
		logIn(p, base, a, path)
		joinCall(p)
	}
	bobTile := `document.querySelector('[data-testid="watch-tile"][data-user=` + jsString(c.bob.ID) + `]')`
	alice.waitFor("bob's tile", `!!`+bobTile, 20*time.Second)

	eval[bool](alice, "hold alice's gateway socket", `window.__holdWS()`)
	alice.waitFor("alice's socket down", `!!document.querySelector('[data-testid="reconnecting"]')`, 20*time.Second)
	leaveCall(bob)
	untilOutOfCall(t, base, chID, c.bob, c.bob.ID, "bob still in the call's voice states after leaving")
	eval[bool](alice, "release alice's gateway socket", `window.__releaseWS()`)
	alice.waitFor("alice's socket back", `!document.querySelector('[data-testid="reconnecting"]')`, 30*time.Second)
	alice.waitFor("bob's tile gone after the reconnect", `!`+bobTile, 20*time.Second)
}
