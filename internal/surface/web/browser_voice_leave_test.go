package web_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	domain "github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/config"
)

// holdVoiceWrites lets the test hold p's joins of a channel's voice over
// REST (POST …/channels/<id>/voice) and refuse its reads of the voice
// states after a join: after window.__holdVoicePosts(id) each such POST
// waits (counted in window.__postsHeld) until window.__releaseVoicePosts()
// sends it, and counts in window.__postsDone once its answer is back;
// after window.__failVoiceReads(id) each read (GET) that follows a POST is
// answered 500 by the page itself (counted in window.__readsFailed).
func holdVoiceWrites(p *page) {
	p.t.Helper()
	installScript(p, "install the voice-write hold", `
		(() => {
			const real = window.fetch, waiting = [];
			let held = "", failing = "", posted = false;
			window.__postsHeld = 0;
			window.__postsDone = 0;
			window.__readsFailed = 0;
			window.fetch = async function (input, init) {
				const url = new URL(String(input instanceof Request ? input.url : input), location.href);
				const method = (init && init.method) || "GET";
				const voice = (id) => !!id && url.pathname.endsWith("/channels/" + id + "/voice");
				if (method === "POST" && (voice(held) || voice(failing))) {
					if (voice(held)) {
						window.__postsHeld++;
						await new Promise((r) => waiting.push(r));
					}
					const res = await real.call(this, input, init);
					posted = true;
					window.__postsDone++;
					return res;
				}
				if (method === "GET" && posted && voice(failing)) {
					window.__readsFailed++;
					return new Response(JSON.stringify({ message: "read refused by the test" }), { status: 500, headers: { "Content-Type": "application/json" } });
				}
				return real.call(this, input, init);
			};
			window.__holdVoicePosts = (id) => { held = id; return true; };
			window.__releaseVoicePosts = () => { held = ""; waiting.splice(0).forEach((r) => r()); return true; };
			window.__failVoiceReads = (id) => { failing = id; return true; };
		})();`)
}

// voiceRoom: alice's community (bob a member) with a voice channel; bob's
// tab signed in on it, the voice toggle showing.
func voiceRoom(t *testing.T, base string, setup func(p *page)) (c community, channel string, bob *page) {
	t.Helper()
	c = newCommunity(t, base)
	var ch struct {
		ID string `json:"id"`
	}
	together(t, base, "POST", "/servers/"+c.server+"/channels", c.alice.Access, map[string]any{"name": "lounge", "type": "voice"}, &ch)
	bob = newTab(t, newBrowser(t), "bob")
	if setup != nil {
		setup(bob)
	}
	logIn(bob, base, c.bob, "/c/"+c.server+"/"+ch.ID)
	bob.waitFor("the voice channel", `!!document.querySelector('[data-testid="voice-toggle"]')`, 20*time.Second)
	return c, ch.ID, bob
}

// waitOutOfVoice waits until the server has user out of the channel's
// voice states (read as alice over REST).
func waitOutOfVoice(t *testing.T, base, channel string, as account, user, why string) {
	t.Helper()
	for deadline := time.Now().Add(hangGuard); inVoice(t, base, channel, as, user); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(why)
		}
	}
}

// TestBrowserVoiceListenOnly: a member who may join a voice channel but
// not speak in it (an override denying SPEAK) joins to listen, as on
// Discord: the SFU refuses their microphone's publish (it still does), and
// the app stays in the call without it, shown muted, receiving the others'
// audio. Before, the refused publish failed the join and took them out.
func TestBrowserVoiceListenOnly(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil) // the test config has a media plane
	c, ch, bob := voiceRoom(t, base, func(p *page) {
		installScript(p, "count the microphone requests", `
			(() => {
				const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
				window.__micAsked = 0;
				navigator.mediaDevices.getUserMedia = (c) => { if (c && c.audio) window.__micAsked++; return real(c); };
			})();`)
	})
	var override struct {
		ID string `json:"id"`
	}
	together(t, base, "PUT", "/channels/"+ch+"/overrides", c.alice.Access, map[string]any{"user_id": c.bob.ID, "allow": 0, "deny": domain.PermSpeak}, &override)

	alice := newTab(t, newBrowser(t), "alice")
	logIn(alice, base, c.alice, "/c/"+c.server+"/"+ch)
	clickVoiceToggle(alice, "join voice")
	alice.waitFor("alice in the call", voiceLeaveReady, 30*time.Second)

	clickVoiceToggle(bob, "join voice")
	joinSettled(t, bob, 30*time.Second)
	bob.waitFor("listening only", `!!document.querySelector('[data-testid="voice-listen-only"]') && !document.querySelector('[data-testid="voice-mute"]')`, 10*time.Second)
	bob.waitFor("alice's audio", `[...document.querySelectorAll('[data-testid="voice-audio"]')].some(a => a.srcObject && a.srcObject.getAudioTracks().some(t => t.readyState === "live"))`, 30*time.Second)

	// The server has bob in the call, muted, and the others see it.
	bobMuted := func(want bool) {
		t.Helper()
		for deadline := time.Now().Add(hangGuard); ; time.Sleep(100 * time.Millisecond) {
			var states []struct {
				UserID   string `json:"user_id"`
				SelfMute bool   `json:"self_mute"`
			}
			together(t, base, "GET", "/channels/"+ch+"/voice", c.alice.Access, nil, &states)
			for _, s := range states {
				if s.UserID == c.bob.ID && s.SelfMute == want {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("bob is not in the channel's voice states with self_mute %v: %+v", want, states)
			}
		}
	}
	bobMuted(true)
	alice.waitFor("bob shown muted", `[...document.querySelectorAll('[data-testid="voice-participant"]')].some(li => li.textContent.includes(`+jsString(c.bob.Name)+`) && li.textContent.includes("muted"))`, 20*time.Second)
	if bob.text() == "" || eval[bool](bob, "look for an alert", `!!document.querySelector('[role="alert"]')`) {
		t.Fatalf("bob's page shows an error: %s", bob.text())
	}
	// Nothing to speak into: the server showed him muted, so the app never
	// asked for his microphone (before, every listener was asked first).
	if n := eval[int](bob, "count the microphone requests", `window.__micAsked`); n != 0 {
		t.Fatalf("bob, who may not speak, was asked for his microphone %d times", n)
	}

	// SPEAK given back mid-call: bob speaks without leaving, and alice
	// hears him. Before, he stayed listen-only until he joined again.
	together(t, base, "DELETE", "/channels/"+ch+"/overrides/"+override.ID, c.alice.Access, nil, nil)
	bob.waitFor("speaking again", `!document.querySelector('[data-testid="voice-listen-only"]') && !!document.querySelector('[data-testid="voice-mute"]')`, 30*time.Second)
	bobMuted(false)
	alice.waitFor("bob's audio", `[...document.querySelectorAll('[data-testid="voice-audio"]')].some(a => a.srcObject && a.srcObject.getAudioTracks().some(t => t.readyState === "live"))`, 30*time.Second)
	if eval[bool](bob, "look for an alert", `!!document.querySelector('[role="alert"]')`) {
		t.Fatalf("bob's page shows an error: %s", bob.text())
	}
}

// TestBrowserVoiceUnansweredJoinLeaves: a VOICE_SFU join the server does
// not answer in time fails in the app, which sends a leave after it: the
// server, answering the join late, takes the member in and then out again.
// Without the leave the member stayed in the call's voice states.
func TestBrowserVoiceUnansweredJoinLeaves(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c, ch, bob := voiceRoom(t, base, holdSends)

	eval[bool](bob, "hold bob's sends from his join on", `window.__holdSends()`)
	clickVoiceToggle(bob, "join voice")
	bob.waitFor("bob's join sent, held", `window.__sendsHeld > 0`, 20*time.Second)
	bob.waitFor("the join given up", `document.querySelector('[role="alert"]')?.textContent.includes("did not answer")`, 60*time.Second)
	eval[bool](bob, "release bob's sends", `window.__releaseSends()`)
	bob.waitFor("the server's late answer to the join", `window.__joinedSeen > 0`, 20*time.Second)
	waitOutOfVoice(t, base, ch, c.alice, c.bob.ID, "bob is in the channel's voice states: his join was answered after he gave it up")
}

// TestBrowserVoiceMeshJoinLeftOnItsWay: on a server without the SFU, a
// member who goes elsewhere in the app while their REST join is on its way
// is out of the channel's voice once it lands: the app takes them out
// again after it. Without that the server had them in voice while no page
// showed the call.
func TestBrowserVoiceMeshJoinLeftOnItsWay(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, func(c *config.Config) { c.RTCUDPAddr = "" }) // no SFU: the mesh
	c, ch, bob := voiceRoom(t, base, holdVoiceWrites)

	eval[bool](bob, "hold bob's voice joins", `window.__holdVoicePosts(`+jsString(ch)+`)`)
	clickVoiceToggle(bob, "join voice")
	bob.waitFor("bob's join held", `window.__postsHeld > 0`, 20*time.Second)
	general := `a[href=` + jsString("/c/"+c.server+"/"+c.channel) + `]`
	bob.do("go to the text channel", chromedp.Click(chromedp.CSS(general)))
	bob.waitFor("the text channel", `location.pathname === `+jsString("/c/"+c.server+"/"+c.channel)+` && !document.querySelector('[data-testid="voice-toggle"]')`, 20*time.Second)

	eval[bool](bob, "release bob's join", `window.__releaseVoicePosts()`)
	bob.waitFor("the join landed", `window.__postsDone > 0`, 20*time.Second)
	waitOutOfVoice(t, base, ch, c.alice, c.bob.ID, "bob is in the channel's voice states: he went elsewhere while his join was on its way")
}

// TestBrowserVoiceMeshFailedJoinLeaves: a mesh join whose POST landed and
// whose next step failed (the read of who is in voice) takes the member
// out again. Without that the server had them in voice while the page
// showed them out.
func TestBrowserVoiceMeshFailedJoinLeaves(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, func(c *config.Config) { c.RTCUDPAddr = "" }) // no SFU: the mesh
	c, ch, bob := voiceRoom(t, base, holdVoiceWrites)

	eval[bool](bob, "refuse bob's reads after a join", `window.__failVoiceReads(`+jsString(ch)+`)`)
	clickVoiceToggle(bob, "join voice")
	bob.waitFor("the join landed, the read refused", `window.__postsDone > 0 && window.__readsFailed > 0`, 20*time.Second)
	bob.waitFor("the failed join", `(() => { const b = document.querySelector('[data-testid="voice-toggle"]'); return !!b && !b.disabled && b.textContent.includes("Join") && !!document.querySelector('[role="alert"]'); })()`, 20*time.Second)
	waitOutOfVoice(t, base, ch, c.alice, c.bob.ID, "bob is in the channel's voice states after his join failed")
}

// dropFirstPublish: after window.__dropPublish(), p's next VOICE_SFU
// publish is never sent (window.__publishDropped counts it, and
// window.__dropAt is when, by performance.now()); window.__leavesSent
// counts the VOICE_SFU leaves sent.
func dropFirstPublish(p *page) {
	p.t.Helper()
	installScript(p, "install the publish drop", `
		(() => {
			const send = WebSocket.prototype.send;
			let dropping = false;
			window.__publishDropped = 0;
			window.__dropAt = 0;
			window.__leavesSent = 0;
			WebSocket.prototype.send = function (data) {
				if (typeof data === "string" && data.includes('"VOICE_SFU"')) {
					if (dropping && data.includes('"type":"publish"')) {
						dropping = false;
						window.__publishDropped++;
						window.__dropAt = performance.now();
						return;
					}
					if (data.includes('"type":"leave"')) window.__leavesSent++;
				}
				return send.call(this, data);
			};
			window.__dropPublish = () => { dropping = true; return true; };
		})();`)
}

// TestBrowserVoiceStaleJoinSendsNoLeave: a join whose publish goes
// unanswered after the member left (the page went; its leave was sent
// then) sends no second leave when it gives up: by then the member may be
// in the call again on the same socket, and that leave took them out.
func TestBrowserVoiceStaleJoinSendsNoLeave(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c, ch, bob := voiceRoom(t, base, dropFirstPublish)
	voicePath, textPath := "/c/"+c.server+"/"+ch, "/c/"+c.server+"/"+c.channel

	eval[bool](bob, "drop bob's first publish", `window.__dropPublish()`)
	clickVoiceToggle(bob, "join voice")
	bob.waitFor("the publish dropped", `window.__publishDropped > 0`, 20*time.Second)
	bob.do("go to the text channel", chromedp.Click(chromedp.CSS(`a[href=`+jsString(textPath)+`]`)))
	bob.waitFor("the leave sent", `window.__leavesSent === 1 && !document.querySelector('[data-testid="voice-toggle"]')`, 20*time.Second)
	waitOutOfVoice(t, base, ch, c.alice, c.bob.ID, "bob is in the channel's voice states after leaving")

	bob.do("back to the voice channel", chromedp.Click(chromedp.CSS(`a[href=`+jsString(voicePath)+`]`)))
	bob.waitFor("the voice channel", `!!document.querySelector('[data-testid="voice-toggle"]')`, 20*time.Second)
	clickVoiceToggle(bob, "join voice again")
	bob.waitFor("in the call again", voiceLeaveReady, 30*time.Second)

	// The first join's publish gives up 10 s after it was sent (its timer
	// was set before the send we dropped): a timer set for a second after
	// that runs after it and after what its rejection does at once.
	eval[bool](bob, "wait past the first publish's timeout", `new Promise((r) => setTimeout(() => r(true), Math.max(0, window.__dropAt + 11000 - performance.now())))`)
	if n := eval[int](bob, "count the leaves sent", `window.__leavesSent`); n != 1 {
		t.Fatalf("bob's page sent %d leaves, want 1: the join he had left sent one when it gave up", n)
	}
	if !inVoice(t, base, ch, c.alice, c.bob.ID) {
		t.Fatal("bob is out of the call he joined again")
	}
}

// TestBrowserVoiceSpeakAgainAsksOnce: a listener given SPEAK whose
// microphone cannot be had (refused, or none) is told so once and stays
// listening; the room's later notices (others joining and leaving) do not
// ask for the microphone again and again.
func TestBrowserVoiceSpeakAgainAsksOnce(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c, ch, bob := voiceRoom(t, base, func(p *page) {
		installScript(p, "count and refuse the microphone, count the room's notices", `
			(() => {
				const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
				window.__micAsked = 0;
				window.__denyMic = false;
				navigator.mediaDevices.getUserMedia = (c) => {
					if (c && c.audio) window.__micAsked++;
					return window.__denyMic ? Promise.reject(new DOMException("Permission denied", "NotAllowedError")) : real(c);
				};
				window.__participants = 0;
				const send = WebSocket.prototype.send;
				WebSocket.prototype.send = function (data) {
					if (!this.__counted) {
						this.__counted = true;
						this.addEventListener("message", (e) => {
							if (typeof e.data === "string" && e.data.includes('"VOICE_SFU"') && e.data.includes('"type":"participants"')) window.__participants++;
						});
					}
					return send.call(this, data);
				};
			})();`)
	})
	var override struct {
		ID string `json:"id"`
	}
	together(t, base, "PUT", "/channels/"+ch+"/overrides", c.alice.Access, map[string]any{"user_id": c.bob.ID, "allow": 0, "deny": domain.PermSpeak}, &override)
	clickVoiceToggle(bob, "join voice")
	joinSettled(t, bob, 30*time.Second)
	bob.waitFor("listening only", `!!document.querySelector('[data-testid="voice-listen-only"]')`, 10*time.Second)

	eval[bool](bob, "refuse the microphone from now on", `(window.__denyMic = true)`)
	together(t, base, "DELETE", "/channels/"+ch+"/overrides/"+override.ID, c.alice.Access, nil, nil)
	bob.waitFor("told the microphone is refused", `window.__micAsked === 1 && document.querySelector('[role="alert"]')?.textContent.includes("Microphone")`, 30*time.Second)
	if !eval[bool](bob, "look at the call", `!!document.querySelector('[data-testid="voice-listen-only"]')`) {
		t.Fatalf("bob left the listen-only call: %s", bob.text())
	}

	// Alice joins and leaves: two notices of the room reach bob.
	seen := eval[int](bob, "count the room's notices", `window.__participants`)
	alice := newTab(t, newBrowser(t), "alice")
	logIn(alice, base, c.alice, "/c/"+c.server+"/"+ch)
	clickVoiceToggle(alice, "join voice")
	alice.waitFor("alice in the call", voiceLeaveReady, 30*time.Second)
	leaveVoice(alice)
	bob.waitFor("the room's notices", `window.__participants >= `+strconv.Itoa(seen+2), 30*time.Second)
	if n := eval[int](bob, "count the microphone requests", `window.__micAsked`); n != 1 {
		t.Fatalf("bob's microphone was asked for %d times, want once", n)
	}
}
