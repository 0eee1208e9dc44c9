package web_test

import (
	"strconv"
	"testing"
	"time"
)

// voiceJoinReady: the voice channel's toggle joins the call when clicked.
const voiceJoinReady = `(() => { const b = document.querySelector('[data-testid="voice-toggle"]'); return !!b && !b.disabled && b.textContent.includes("Join"); })()`

// inCallAgain waits until p's join of the call settles, and fails the test
// unless it is in the call, with no error shown, and the server has user
// in the channel's voice states.
func inCallAgain(t *testing.T, p *page, base, channel string, as account, user string) {
	t.Helper()
	joinSettled(t, p, 60*time.Second)
	if !inVoice(t, base, channel, as, user) {
		t.Fatal("not in the channel's voice states after joining again")
	}
}

// inCallRejoinHeld joins bob's call, then drops his gateway socket and
// lets it back with his sends held: the rejoin READY starts is sent and
// held (window.__sendsHeld > 0) on the socket that is open now.
func inCallRejoinHeld(bob *page) {
	bob.t.Helper()
	clickVoiceToggle(bob, "join voice")
	bob.waitFor("in the call", voiceLeaveReady, 30*time.Second)
	eval[bool](bob, "hold bob's sends from his next join on", `window.__holdSends()`)
	eval[bool](bob, "hold bob's gateway socket", `window.__holdWS()`)
	bob.waitFor("bob's socket down", `!!document.querySelector('[data-testid="reconnecting"]')`, 20*time.Second)
	eval[bool](bob, "release bob's gateway socket", `window.__releaseWS()`)
	bob.waitFor("the rejoin's join held", `!document.querySelector('[data-testid="reconnecting"]') && window.__sendsHeld > 0`, 30*time.Second)
}

// leaveVoice clicks the voice toggle's Leave and waits for its Join.
func leaveVoice(bob *page) {
	bob.t.Helper()
	bob.waitFor("the leave button", voiceLeaveReady, 20*time.Second)
	clickVoiceToggle(bob, "leave voice")
	bob.waitFor("the join button back", voiceJoinReady, 20*time.Second)
}

// TestBrowserVoiceLeftRequestTakesNoReply: a member whose join of a call
// is lost with its socket (the rejoin after a reconnect, held until the
// socket closes), and who leaves and joins again on the next socket, gets
// into the call: the request of the call left is dropped with it. Without
// that, it was still waiting, took the new join's "joined", and the new
// join gave up ("did not answer") and left.
func TestBrowserVoiceLeftRequestTakesNoReply(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil) // the test config has a media plane
	c, ch, bob := voiceRoom(t, base, func(p *page) {
		holdGatewaySocket(p)
		holdSends(p)
	})

	// In the call, the socket drops and comes back: READY starts a rejoin,
	// whose join is held, and the socket drops again with it.
	inCallRejoinHeld(bob)
	eval[bool](bob, "close bob's gateway socket again", `window.__holdWS()`)
	bob.waitFor("bob's socket down again", `!!document.querySelector('[data-testid="reconnecting"]')`, 20*time.Second)

	// Bob leaves; the held join goes to the closed socket (lost); he
	// joins again on a new one.
	leaveVoice(bob)
	eval[bool](bob, "release bob's sends (the join, to its closed socket)", `window.__releaseSends()`)
	eval[bool](bob, "release bob's gateway socket", `window.__releaseWS()`)
	bob.waitFor("bob's socket back", `!document.querySelector('[data-testid="reconnecting"]')`, 30*time.Second)
	clickVoiceToggle(bob, "join voice again")
	inCallAgain(t, bob, base, ch, c.alice, c.bob.ID)
}

// TestBrowserVoiceLeftSessionNoticesIgnored: a member who leaves a call
// while its join is on its way (the rejoin after a reconnect) and joins
// again before the server answered it gets into the call. The server
// answers the first join, ends that session on the leave ("closed") and
// answers the second: the app tells the two sessions apart by the number
// the server tags each session's notices with. Without that, the first
// join's "joined" went to the second join and the first session's
// "closed" hung up the new call, while the server had the member in it.
func TestBrowserVoiceLeftSessionNoticesIgnored(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c, ch, bob := voiceRoom(t, base, func(p *page) {
		holdGatewaySocket(p)
		holdSends(p)
	})

	// In the call, the socket drops and comes back: READY starts a rejoin,
	// whose join (and all that follows) is held.
	inCallRejoinHeld(bob)

	// Bob leaves and joins again: the leave and the new join are held
	// behind the first join, then all three go in order.
	leaveVoice(bob)
	held := eval[int](bob, "count the frames held", `window.__sendsHeld`)
	clickVoiceToggle(bob, "join voice again")
	bob.waitFor("the new join held", `window.__sendsHeld > `+strconv.Itoa(held), 20*time.Second)
	eval[bool](bob, "release bob's sends", `window.__releaseSends()`)
	inCallAgain(t, bob, base, ch, c.alice, c.bob.ID)
	// The new call holds once the first session's notices are all in: they
	// came before the second join's "joined", which two seen means.
	bob.waitFor("both joins answered", `window.__joinedSeen >= 2`, 20*time.Second)
	if !eval[bool](bob, "look at the toggle", `new Promise((r) => setTimeout(() => r(`+voiceLeaveReady+`), 0))`) {
		t.Fatalf("bob's call ended after both joins were answered; page: %s", bob.text())
	}
}
