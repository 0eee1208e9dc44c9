package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserLateSearchStaysInItsCommunity: a search's answer that arrives
// after the member moved to another community is not shown there, and the
// results of a search do not follow the member into another community.
// Before, the late answer showed the first community's hits under the
// second one, with links into it that named the first one's channels.
func TestBrowserLateSearchStaysInItsCommunity(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c := newCommunity(t, base)
	c.post(t, c.alice, "a needle in the garden")
	var other, lobby struct {
		ID string `json:"id"`
	}
	together(t, base, "POST", "/servers", c.alice.Access, map[string]any{"name": "Attic"}, &other)
	together(t, base, "POST", "/servers/"+other.ID+"/channels", c.alice.Access, map[string]any{"name": "lobby", "type": "text"}, &lobby)
	attic := "/c/" + other.ID + "/" + lobby.ID
	p := newTab(t, newBrowser(t), "alice")
	holdReads(p)
	signIn(p, base, c.alice, c.channelPath())
	goTo := func(path string) {
		eval[bool](p, "go to "+path, `(() => { history.pushState(null, "", `+jsString(path)+`); dispatchEvent(new PopStateEvent("popstate")); return true; })()`)
	}
	hits := `document.querySelectorAll('[data-testid="search-hit"]').length`

	// Shown results stay behind in their community.
	p.do("search", chromedp.SendKeys(chromedp.ID("search-q"), "needle\r"))
	p.waitFor("the hit", hits+` > 0`, 20*time.Second)
	goTo(attic)
	p.waitFor("the Attic's channels", `!!document.querySelector('a[href=`+jsString(attic)+`]')`, 20*time.Second)
	if eval[bool](p, "look for results", `!!document.querySelector('.results')`) {
		t.Fatalf("the Garden's search results followed into the Attic: %s", p.text())
	}

	// A late answer is dropped.
	goTo(c.channelPath())
	p.waitFor("the Garden's channels", `!!document.querySelector('a[href=`+jsString(c.channelPath())+`]')`, 20*time.Second)
	eval[bool](p, "hold the Garden's search", `window.__holdReads(`+jsString("/servers/"+c.server+"/search")+`)`)
	p.do("search again", chromedp.SendKeys(chromedp.ID("search-q"), "\r"))
	p.waitFor("the search held", `window.__readsHeld > 0`, 20*time.Second)
	goTo(attic)
	p.waitFor("the Attic's channels again", `!!document.querySelector('a[href=`+jsString(attic)+`]')`, 20*time.Second)
	eval[bool](p, "release the search", `window.__releaseReads()`)
	p.waitFor("the late answer read", `window.__readsDone > 0`, 20*time.Second)
	if eval[bool](p, "look for hits", `new Promise((r) => setTimeout(() => r(`+hits+` > 0), 100))`) {
		t.Fatalf("the Garden's late search hits show in the Attic: %s", p.text())
	}
}
