package web_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/config"
)

// TestBrowserDMOlderPageStaysInItsConversation: an older page of one
// conversation that arrives after the reader opened another one is not
// shown in it. Before, the DM view joined the late page to whatever list
// was open, so alice's older messages showed above carol's.
func TestBrowserDMOlderPageStaysInItsConversation(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, func(cfg *config.Config) { cfg.TogetherMessageRate = 0 })
	c := newCommunity(t, base)
	carol := register(t, base, "carol")
	var s, inv struct {
		ID   string `json:"id"`
		Code string `json:"code"`
	}
	together(t, base, "POST", "/servers", carol.Access, map[string]any{"name": "Attic"}, &s)
	together(t, base, "POST", "/servers/"+s.ID+"/invites", carol.Access, map[string]any{}, &inv)
	together(t, base, "POST", "/invites/"+inv.Code+"/accept", c.bob.Access, nil, nil)
	var withAlice, withCarol struct {
		ID string `json:"id"`
	}
	together(t, base, "POST", "/dm-channels", c.bob.Access, map[string]any{"user_id": c.alice.ID}, &withAlice)
	together(t, base, "POST", "/dm-channels", c.bob.Access, map[string]any{"user_id": carol.ID}, &withCarol)
	for i := range 60 { // two pages of 50
		together(t, base, "POST", "/dm-channels/"+withAlice.ID+"/messages", c.alice.Access, map[string]string{"content": fmt.Sprintf("a%02d", i)}, nil)
	}
	together(t, base, "POST", "/dm-channels/"+withCarol.ID+"/messages", carol.Access, map[string]string{"content": "hi from carol"}, nil)

	p := newTab(t, newBrowser(t), "bob")
	holdReads(p)
	signIn(p, base, c.bob, "/dm/"+withAlice.ID)
	body := func(text string) string {
		return `[...document.querySelectorAll('[data-testid="dm-message-body"]')].some(b => b.textContent === ` + jsString(text) + `)`
	}
	p.waitFor("alice's newest message", body("a59"), 20*time.Second)
	eval[bool](p, "hold alice's conversation's reads", `window.__holdReads(`+jsString("/dm-channels/"+withAlice.ID+"/messages")+`)`)
	p.waitFor("an older page asked for", `(() => {
		document.querySelector('[data-testid="dm-messages"]').scrollTop = 0;
		return window.__readsHeld > 0;
	})()`, 20*time.Second)

	p.do("open carol's conversation", chromedp.Click(chromedp.CSS(`a[href="/dm/`+withCarol.ID+`"]`)))
	p.waitFor("carol's conversation", `document.querySelector('[data-testid="dm-title"]')?.textContent === "@carol" && `+body("hi from carol"), 20*time.Second)
	eval[bool](p, "release alice's older page", `window.__releaseReads()`)
	p.waitFor("the late page read", `window.__readsDone > 0`, 20*time.Second)
	if eval[bool](p, "look for alice's messages", `new Promise((r) => setTimeout(() => r(`+body("a00")+` || `+body("a09")+`), 100))`) {
		t.Fatalf("alice's older page shows in carol's conversation: %s", p.text())
	}
	if !eval[bool](p, "look for carol's message", body("hi from carol")) {
		t.Fatalf("carol's message went: %s", p.text())
	}
}
