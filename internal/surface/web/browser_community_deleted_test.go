package web_test

import (
	"testing"
	"time"
)

// TestBrowserCommunityDeletedLeaves: a member with the community open when
// its owner deletes it is taken to the communities page, where it is no
// longer listed. The gateway sent nothing on a deletion, so the page stayed
// on the dead community (its channels, messages and members shown, sending
// refused with a 403) until reloaded.
func TestBrowserCommunityDeletedLeaves(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	c := newCommunity(t, base)
	bob := newTab(t, browser, "bob")
	signIn(bob, base, c.bob, c.channelPath())
	bob.waitFor("the channel", `!!document.querySelector('[data-testid="composer"]') && document.querySelector('[data-testid="community-name"]')?.textContent === "Garden"`, 10*time.Second)

	together(t, base, "DELETE", "/servers/"+c.server, c.alice.Access, nil, nil)
	bob.waitFor("the communities page, without it", `location.pathname === "/" && !document.querySelector('[data-testid="composer"]') && document.querySelector("main")?.textContent.includes("not in any community")`, 10*time.Second)
}
