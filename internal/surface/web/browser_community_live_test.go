package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	domain "github.com/hearth-community/hearth/internal/community"
)

// TestBrowserEditByKeyboard: ↑ in an empty composer edits your last
// message, as the user guide says. The edit box must take the keyboard:
// left in the composer, what was typed next went out as a new message
// while the edit box stayed open. Esc and Save give the composer back.
func TestBrowserEditByKeyboard(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c := newCommunity(t, base)
	c.post(t, c.alice, "first draft")
	browser := newBrowser(t)
	alice := newTab(t, browser, "alice")
	signIn(alice, base, c.alice, c.channelPath())
	alice.waitFor("her message", msgJS("first draft")+` !== undefined`, 15*time.Second)

	composer := `document.querySelector('[data-testid="composer"]')`
	editBox := `document.querySelector('input[id^="edit-"]')`
	alice.do("focus the composer", chromedp.Focus(chromedp.CSS(`[data-testid="composer"]`)))
	alice.do("press ↑", chromedp.KeyEvent(kb.ArrowUp))
	alice.waitFor("the edit box, focused", editBox+` !== null && document.activeElement === `+editBox, 10*time.Second)
	alice.do("press Esc", chromedp.KeyEvent(kb.Escape))
	alice.waitFor("the composer back", editBox+` === null && document.activeElement === `+composer, 10*time.Second)

	alice.do("press ↑ and type", chromedp.KeyEvent(kb.ArrowUp))
	alice.waitFor("the edit box, focused", `document.activeElement === `+editBox, 10*time.Second)
	alice.do("type the change and press Enter", chromedp.KeyEvent(" (fixed)"), chromedp.KeyEvent(kb.Enter))
	alice.waitFor("the message edited", msgJS("first draft (fixed)")+` !== undefined`, 10*time.Second)
	alice.waitFor("the composer back", editBox+` === null && document.activeElement === `+composer, 10*time.Second)
	if n := eval[int](alice, "count the messages", `document.querySelectorAll('[data-testid="message"]').length`); n != 1 {
		t.Fatalf("%d messages after editing by keyboard, want 1 (the typing went out as a new message?)\n%s", n, alice.text())
	}
}

// TestBrowserCommunityLive: what the owner changes reaches a member's open
// community page without a reload. Together sends CHANNEL_CREATE,
// CHANNEL_OVERRIDE_UPDATE/DELETE and MEMBER_JOIN, but the page listened to
// none of them: a new channel stayed missing, a channel the member may no
// longer see stayed open (its messages silently stopped coming), and a
// newcomer missed the member list until they spoke.
func TestBrowserCommunityLive(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c := newCommunity(t, base)
	browser := newBrowser(t)
	bob := newTab(t, browser, "bob")
	signIn(bob, base, c.bob, c.channelPath())
	channelLink := func(name string) string {
		return `[...document.querySelectorAll('aside.channels a')].find(a => a.textContent.trim() === ` + jsString(name) + `)`
	}
	bob.waitFor("#general in the list", channelLink("general")+` !== undefined`, 15*time.Second)
	// Bob registered offline and his socket put him online before READY:
	// its PRESENCE_UPDATE never reached him, and a member list read
	// before it showed him offline to himself.
	bob.waitFor("bob online in his own member list", `[...document.querySelectorAll('aside.members li')].some(li => li.textContent.includes("bob") && li.querySelector('.sr-only')?.textContent === "online")`, 15*time.Second)

	var news struct {
		ID string `json:"id"`
	}
	together(t, base, "POST", "/servers/"+c.server+"/channels", c.alice.Access, map[string]any{"name": "news", "type": "text"}, &news)
	bob.waitFor("#news, live", channelLink("news")+` !== undefined`, 15*time.Second)

	var ov struct {
		ID string `json:"id"`
	}
	together(t, base, "PUT", "/channels/"+c.channel+"/overrides", c.alice.Access, map[string]any{"user_id": c.bob.ID, "allow": 0, "deny": 1}, &ov)
	bob.waitFor("#general gone from the list, and bob moved to #news",
		channelLink("general")+` === undefined && location.pathname === `+jsString("/c/"+c.server+"/"+news.ID), 15*time.Second)

	together(t, base, "DELETE", "/channels/"+c.channel+"/overrides/"+ov.ID, c.alice.Access, nil, nil)
	bob.waitFor("#general back in the list", channelLink("general")+` !== undefined`, 15*time.Second)

	// Carol joins over REST: no socket of hers announces her presence.
	carol := register(t, base, "carol")
	var inv struct {
		Code string `json:"code"`
	}
	together(t, base, "POST", "/servers/"+c.server+"/invites", c.alice.Access, map[string]any{}, &inv)
	together(t, base, "POST", "/invites/"+inv.Code+"/accept", carol.Access, nil, nil)
	bob.waitFor("carol in the member list", `document.querySelector('aside.members')?.textContent.includes("carol")`, 15*time.Second)
}

// TestBrowserVoiceSpeakTakenAway: SPEAK taken away during a call (an
// override denying it) turns the call into listening only at once, as the
// user guide says ("losing it mutes you at once"). The server silenced the
// member, but the page went on showing Mute and Camera, and the member
// speaking, with its microphone running.
func TestBrowserVoiceSpeakTakenAway(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil) // the test config has a media plane
	c, ch, bob := voiceRoom(t, base, nil)
	clickVoiceToggle(bob, "join voice")
	joinSettled(t, bob, 30*time.Second)
	bob.waitFor("speaking in the call", `!!document.querySelector('[data-testid="voice-mute"]') && !document.querySelector('[data-testid="voice-listen-only"]')`, 20*time.Second)

	var override struct {
		ID string `json:"id"`
	}
	together(t, base, "PUT", "/channels/"+ch+"/overrides", c.alice.Access, map[string]any{"user_id": c.bob.ID, "allow": 0, "deny": domain.PermSpeak}, &override)
	bob.waitFor("listening only", `!!document.querySelector('[data-testid="voice-listen-only"]') && !document.querySelector('[data-testid="voice-mute"]')`, 20*time.Second)
	bob.waitFor("shown muted, not speaking", `[...document.querySelectorAll('[data-testid="voice-participant"]')].some(li => li.textContent.includes("(you)") && li.textContent.includes("muted") && !li.textContent.includes("speaking"))`, 20*time.Second)

	// Given back, the microphone is taken again without leaving the call.
	together(t, base, "DELETE", "/channels/"+ch+"/overrides/"+override.ID, c.alice.Access, nil, nil)
	bob.waitFor("speaking again", `!!document.querySelector('[data-testid="voice-mute"]') && !document.querySelector('[data-testid="voice-listen-only"]')`, 20*time.Second)
}
