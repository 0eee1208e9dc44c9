package web_test

import (
	"testing"
	"time"
)

// TestBrowserStaleChannelLink: a link to a channel the community does not
// have (deleted, or hidden from this member) opens the community's first
// channel, whether the page is loaded from it or it is followed inside the
// app. The page showed the community with an empty middle: no channel, no
// message box and nothing saying why.
func TestBrowserStaleChannelLink(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	c := newCommunity(t, base)
	var gone struct {
		ID string `json:"id"`
	}
	together(t, base, "POST", "/servers/"+c.server+"/channels", c.alice.Access, map[string]any{"name": "old-news", "type": "text"}, &gone)
	together(t, base, "DELETE", "/servers/"+c.server+"/channels/"+gone.ID, c.alice.Access, nil, nil)
	stale := "/c/" + c.server + "/" + gone.ID

	bob := newTab(t, browser, "bob")
	signIn(bob, base, c.bob, stale)
	bob.waitFor("#general instead", `location.pathname === `+jsString(c.channelPath())+` && !!document.querySelector('[data-testid="composer"]')`, 10*time.Second)

	// The same link followed from inside the app.
	followInApp(bob, stale)
	bob.waitFor("#general again", `location.pathname === `+jsString(c.channelPath())+` && !!document.querySelector('[data-testid="composer"]')`, 10*time.Second)
}
