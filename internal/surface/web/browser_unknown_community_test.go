package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserUnknownCommunity: a community the page cannot read (an id
// that names none) shows its error alone. The page showed the error with
// the invite button, the search box and an empty member list around it,
// and, followed from another community, that community's name, channels
// and invite link beside the new address. An invite link made in one
// community is not shown in the next one opened.
func TestBrowserUnknownCommunity(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	c := newCommunity(t, base)
	var shed struct {
		ID string `json:"id"`
	}
	together(t, base, "POST", "/servers", c.alice.Access, map[string]any{"name": "Shed"}, &shed)

	alice := newTab(t, browser, "alice")
	signIn(alice, base, c.alice, c.channelPath())
	alice.waitFor("Garden open", `document.querySelector('[data-testid="community-name"]')?.textContent === "Garden" && !!document.querySelector('[data-testid="composer"]')`, 10*time.Second)
	alice.do("make an invite", chromedp.Click(chromedp.CSS(`.invite button`)))
	alice.waitFor("the invite link", `!!document.querySelector('[data-testid="invite-link"]')?.value`, 10*time.Second)

	const bare = `!document.querySelector('[data-testid="member-count"]') && !document.getElementById("search-q") && ![...document.querySelectorAll("button")].some(b => b.textContent.trim() === "Invite people") && !document.querySelector('.channels a[href^="/c/"]') && document.querySelector('[data-testid="community-name"]')?.textContent === "…"`
	followInApp(alice, "/c/00000000-0000-4000-8000-000000000000")
	alice.waitFor("the error alone", `!!document.querySelector('.community [role="alert"]') && `+bare, 10*time.Second)

	// Loaded from the address, too.
	bob := newTab(t, browser, "bob")
	signIn(bob, base, c.bob, "/c/00000000-0000-4000-8000-000000000001")
	bob.waitFor("the error alone", `!!document.querySelector('.community [role="alert"]') && `+bare, 10*time.Second)

	// Garden's link is not Shed's.
	followInApp(alice, "/c/"+shed.ID)
	alice.waitFor("Shed open", `document.querySelector('[data-testid="community-name"]')?.textContent === "Shed" && !!document.getElementById("search-q")`, 10*time.Second)
	if eval[bool](alice, "invite link shown", `!!document.querySelector('[data-testid="invite-link"]')`) {
		t.Fatal("Shed shows the invite link made in Garden")
	}
}
