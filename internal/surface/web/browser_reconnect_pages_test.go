package web_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/config"
)

// TestBrowserReconnectKeepsScrolledPages: a reader scrolled up through a
// channel's older pages keeps them, and their place, when the gateway
// comes back, and sees what changed meanwhile. Before, the channel's
// reload after a reconnect replaced the list with its newest page and
// jumped to the bottom: the pages read went, and the reader lost the
// place.
func TestBrowserReconnectKeepsScrolledPages(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, func(cfg *config.Config) { cfg.TogetherMessageRate = 0 })
	c := newCommunity(t, base)
	ids := make([]string, 130) // three pages of 50
	for i := range ids {
		ids[i] = c.post(t, c.alice, fmt.Sprintf("m%03d", i))
	}
	p := newTab(t, newBrowser(t), "bob")
	holdGatewaySocket(p)
	signIn(p, base, c.bob, c.channelPath())
	p.waitFor("the newest message", msgJS("m129"), 20*time.Second)
	readies(p)

	// Scroll up until the start of the channel shows: every page read.
	p.waitFor("every page", `(() => {
		document.querySelector('[data-testid="messages"]').scrollTop = 0;
		return !!document.querySelector('[data-testid="empty-state"]') && !!(`+msgJS("m000")+`);
	})()`, 30*time.Second)
	// m040 at the top of the list, where the reader stops.
	place := `(() => {
		const s = document.querySelector('[data-testid="messages"]'), m = ` + msgJS("m040") + `;
		return m ? m.getBoundingClientRect().top - s.getBoundingClientRect().top : null;
	})()`
	eval[bool](p, "scroll to m040", `(() => { (`+msgJS("m040")+`).scrollIntoView({ block: "start" }); return true; })()`)
	before := eval[float64](p, "read m040's place", place)

	// The socket goes; meanwhile alice edits, deletes and posts.
	gotReadies := readies(p)
	eval[bool](p, "drop the gateway socket", `window.__holdWS()`)
	p.waitFor("the socket down", `!!document.querySelector('[data-testid="reconnecting"]')`, 20*time.Second)
	together(t, base, "PATCH", "/messages/"+ids[41], c.alice.Access, map[string]string{"content": "m041 edited"}, nil)
	together(t, base, "DELETE", "/messages/"+ids[42], c.alice.Access, nil, nil)
	c.post(t, c.alice, "while away")
	eval[bool](p, "let the socket back", `window.__releaseWS()`)
	p.waitFor("the new socket's READY", fmt.Sprintf(`window.__readies > %d`, gotReadies), 40*time.Second)
	p.waitFor("the channel read again", msgJS("while away"), 20*time.Second)

	if !eval[bool](p, "look for m000", `!!(`+msgJS("m000")+`)`) {
		t.Fatalf("the older pages went after the reconnect: %s", p.text())
	}
	if eval[bool](p, "look for m042", `!!(`+msgJS("m042")+`)`) || !eval[bool](p, "look for the edit", `!!(`+msgJS("m041 edited")+`)`) {
		t.Fatalf("what changed while the socket was down does not show: %s", p.text())
	}
	// Still where the reader was (a pixel's rounding either way).
	if after := eval[float64](p, "read m040's place", `(`+place+`) ?? -1e9`); math.Abs(after-before) > 2 {
		t.Fatalf("m040 moved from %.0f px to %.0f px below the list's top after the reconnect", before, after)
	}
}
