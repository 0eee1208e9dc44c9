package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/config"
)

// account is a Together account made over REST (faster than the sign-up
// page, which TestBrowserCommunityChat covers).
type account struct {
	ID, Name, Access, Refresh string
}

// together calls a Together route and decodes the JSON answer into out.
func together(t *testing.T, base, method, path, token string, body, out any) {
	t.Helper()
	var rd bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&rd).Encode(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, base+path, &rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Fatalf("%s %s: HTTP %d", method, path, res.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

func register(t *testing.T, base, name string) account {
	t.Helper()
	var r struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
		User    struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	together(t, base, "POST", "/auth/register", "", map[string]string{"username": name, "password": "correct horse battery"}, &r)
	return account{ID: r.User.ID, Name: name, Access: r.Access, Refresh: r.Refresh}
}

// community is a community owned by alice with bob as a member, and its
// #general channel.
type community struct {
	base, server, channel string
	alice, bob            account
}

func newCommunity(t *testing.T, base string) community {
	t.Helper()
	c := community{base: base, alice: register(t, base, "alice"), bob: register(t, base, "bob")}
	var s, ch, inv struct {
		ID   string `json:"id"`
		Code string `json:"code"`
	}
	together(t, base, "POST", "/servers", c.alice.Access, map[string]any{"name": "Garden"}, &s)
	together(t, base, "POST", "/servers/"+s.ID+"/channels", c.alice.Access, map[string]any{"name": "general", "type": "text"}, &ch)
	together(t, base, "POST", "/servers/"+s.ID+"/invites", c.alice.Access, map[string]any{}, &inv)
	together(t, base, "POST", "/invites/"+inv.Code+"/accept", c.bob.Access, nil, nil)
	c.server, c.channel = s.ID, ch.ID
	return c
}

func (c community) channelPath() string { return "/c/" + c.server + "/" + c.channel }

// post sends a message as a over REST and returns its id.
func (c community) post(t *testing.T, a account, content string) string {
	t.Helper()
	var m struct {
		ID string `json:"id"`
	}
	together(t, c.base, "POST", "/channels/"+c.channel+"/messages", a.Access, map[string]string{"content": content}, &m)
	return m.ID
}

// signIn puts a's tokens where the app keeps them (Together's own keys)
// and opens path, waiting for the gateway socket.
func signIn(p *page, base string, a account, path string) {
	p.t.Helper()
	p.do("open the origin", chromedp.Navigate(base+"/favicon.svg"))
	eval[bool](p, "store the tokens", `(() => { localStorage.setItem("together_access_token", `+jsString(a.Access)+`); localStorage.setItem("together_refresh_token", `+jsString(a.Refresh)+`); return true; })()`)
	p.do("open "+path, chromedp.Navigate(base+path))
	p.waitFor("signed in as "+a.Name, `document.querySelector('[data-testid="me-link"]')?.textContent.includes(`+jsString(a.Name)+`)`, 15*time.Second)
	gatewayUp(p)
}

// msgJS finds the message article whose body is text.
func msgJS(text string) string {
	return `[...document.querySelectorAll('[data-testid="message"]')].find(m => m.querySelector('[data-testid="message-body"]')?.textContent === ` + jsString(text) + `)`
}

// TestBrowserThreads: a thread opened from a message, replies from both
// sides arriving live in the open thread, and the reply count under the
// message growing live for the other person.
func TestBrowserThreads(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, func(cfg *config.Config) { cfg.TogetherMessageRate = 0 })
	c := newCommunity(t, base)
	parentID := c.post(t, c.alice, "Which book next month?")
	browser := newBrowser(t)
	alice := newTab(t, browser, "alice")
	bob := newTab(t, browser, "bob")
	signIn(alice, base, c.alice, c.channelPath())
	signIn(bob, base, c.bob, c.channelPath())
	parent := msgJS("Which book next month?")
	bob.waitFor("the message", parent+` !== undefined`, 10*time.Second)
	alice.waitFor("the message", parent+` !== undefined`, 10*time.Second)
	if eval[bool](bob, "no reply count yet", `!!`+parent+`.querySelector('[data-testid="thread-count"]')`) {
		t.Fatal("a message without replies shows a reply count")
	}

	eval[bool](alice, "open the thread", `(() => { `+parent+`.querySelector('button[aria-label="Open thread"]').click(); return true; })()`)
	alice.waitFor("the thread panel", `document.querySelector('[data-testid="thread"]')?.textContent.includes("Which book next month?") && document.activeElement?.id === "thread-composer"`, 10*time.Second)
	alice.do("reply in the thread", chromedp.SendKeys(chromedp.ID("thread-composer"), "Dune, obviously\r"))
	alice.waitFor("her reply in the thread", `[...document.querySelectorAll('[data-testid="thread-reply"]')].some(r => r.textContent.includes("Dune, obviously"))`, 10*time.Second)
	// A thread reply is not a channel message.
	if eval[bool](alice, "reply kept out of the channel", msgJS("Dune, obviously")+` !== undefined`) {
		t.Fatal("the thread reply was added to the channel's messages")
	}
	bob.waitFor("the reply count, live", parent+`?.querySelector('[data-testid="thread-count"]')?.textContent === "1 reply"`, 10*time.Second)

	bob.do("open the thread from its count", chromedp.Click(chromedp.CSS(`[data-testid="thread-count"]`)))
	bob.waitFor("alice's reply in the thread", `[...document.querySelectorAll('[data-testid="thread-reply"]')].some(r => r.textContent.includes("alice") && r.textContent.includes("Dune, obviously"))`, 10*time.Second)
	bob.do("reply too", chromedp.SendKeys(chromedp.ID("thread-composer"), "Again?!"), chromedp.Click(chromedp.CSS(`[data-testid="thread"] button[type="submit"]`)))
	alice.waitFor("bob's reply, live in her open thread", `[...document.querySelectorAll('[data-testid="thread-reply"]')].some(r => r.textContent.includes("bob") && r.textContent.includes("Again?!"))`, 10*time.Second)
	alice.waitFor("the count under the message", parent+`?.querySelector('[data-testid="thread-count"]')?.textContent === "2 replies"`, 10*time.Second)
	alice.screenshot("thread")

	// The count survives a reload (it comes from the server), and a thread
	// longer than one page (Together's 100) opens whole, to its last reply.
	for i := range 101 {
		together(t, base, "POST", "/channels/"+c.channel+"/messages/"+parentID+"/thread", c.alice.Access, map[string]string{"content": fmt.Sprint("more ", i)}, nil)
	}
	bob.do("reload", chromedp.Navigate(base+c.channelPath()))
	bob.waitFor("the count after reload", parent+`?.querySelector('[data-testid="thread-count"]')?.textContent === "103 replies"`, 15*time.Second)
	bob.do("open the long thread", chromedp.Click(chromedp.CSS(`[data-testid="thread-count"]`)))
	bob.waitFor("all 103 replies, the last included", `document.querySelectorAll('[data-testid="thread-reply"]').length === 103 && [...document.querySelectorAll('[data-testid="thread-reply"]')].at(-1).textContent.includes("more 100")`, 15*time.Second)
	bob.do("close the long thread", chromedp.Click(chromedp.CSS(`button[aria-label="Close thread"]`)))
	bob.waitFor("the long thread closed", `!document.querySelector('[data-testid="thread"]')`, 10*time.Second)

	// Phone width: the thread covers the channel, fits the screen and closes.
	bob.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	// A coordinate click right after the viewport change can land while the
	// page is still re-laid out (seen on a loaded machine): wait for the
	// phone layout, then click the element itself.
	bob.waitFor("the phone layout", `window.innerWidth <= 400 && !!document.querySelector('[data-testid="thread-count"]')`, 10*time.Second)
	eval[bool](bob, "open the thread", `(() => { document.querySelector('[data-testid="thread-count"]').click(); return true; })()`)
	bob.waitFor("the thread on screen", `(() => { const r = document.querySelector('[data-testid="thread"]')?.getBoundingClientRect(); return !!r && r.left >= 0 && r.right <= window.innerWidth + 1 && document.documentElement.scrollWidth <= window.innerWidth + 1 && document.querySelectorAll('[data-testid="thread-reply"]').length === 103; })()`, 10*time.Second)
	bob.do("close it", chromedp.Click(chromedp.CSS(`button[aria-label="Close thread"]`)))
	bob.waitFor("the thread closed", `!document.querySelector('[data-testid="thread"]')`, 10*time.Second)
}

// TestBrowserDirectMessages: Alice starts a DM from the member list; Bob,
// on his messages page, sees the conversation and the message arrive live
// (with an unread badge in the menu), answers, and Alice sees it live.
func TestBrowserDirectMessages(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c := newCommunity(t, base)
	browser := newBrowser(t)
	alice := newTab(t, browser, "alice")
	bob := newTab(t, browser, "bob")
	signIn(alice, base, c.alice, c.channelPath())
	signIn(bob, base, c.bob, "/dm")
	bob.waitFor("no conversations yet", `document.querySelector("aside.list")?.textContent.includes("No conversations yet")`, 10*time.Second)
	// Bob's gateway socket must be up before the conversation is made, or
	// its event reaches no one (under load the page renders first).
	bob.waitFor("the gateway socket", `!document.querySelector('[data-testid="reconnecting"]')`, 30*time.Second)

	alice.waitFor("bob in the member list", `!!document.querySelector('aside.members button[aria-label="Message bob"]')`, 10*time.Second)
	alice.do("message bob", chromedp.Click(chromedp.CSS(`aside.members button[aria-label="Message bob"]`)))
	alice.waitFor("the conversation", `location.pathname.startsWith("/dm/") && document.querySelector('[data-testid="dm-title"]')?.textContent === "@bob"`, 10*time.Second)
	dmPath := eval[string](alice, "read the conversation path", `location.pathname`)
	bob.waitFor("the new conversation, live", `[...document.querySelectorAll('[data-testid="dm-link"]')].some(a => a.textContent.includes("alice"))`, 30*time.Second)

	alice.do("write to bob", chromedp.SendKeys(chromedp.ID("dm-composer"), "Are you coming on Friday?\r"))
	alice.waitFor("her message", `[...document.querySelectorAll('[data-testid="dm-message-body"]')].some(b => b.textContent === "Are you coming on Friday?")`, 10*time.Second)
	bob.waitFor("an unread badge in the menu", `document.querySelector('[data-testid="dm-nav"] .badge')?.textContent === "1"`, 10*time.Second)
	bob.do("open the conversation", chromedp.Click(chromedp.CSS(`[data-testid="dm-link"]`)))
	bob.waitFor("alice's message", `location.pathname === `+jsString(dmPath)+` && [...document.querySelectorAll('[data-testid="dm-message"]')].some(m => m.textContent.includes("alice") && m.textContent.includes("Are you coming on Friday?"))`, 10*time.Second)
	bob.waitFor("the badge cleared", `!document.querySelector('[data-testid="dm-nav"] .badge')`, 10*time.Second)

	bob.do("answer", chromedp.SendKeys(chromedp.ID("dm-composer"), "Wouldn't miss it"), chromedp.Click(chromedp.CSS(`.composer button[type="submit"]`)))
	alice.waitFor("bob's answer, live", `[...document.querySelectorAll('[data-testid="dm-message"]')].some(m => m.textContent.includes("bob") && m.textContent.includes("Wouldn't miss it"))`, 10*time.Second)
	alice.screenshot("dm")

	// The list survives a reload.
	alice.do("open the messages page", chromedp.Navigate(base+"/dm"))
	alice.waitFor("the conversation listed", `[...document.querySelectorAll('[data-testid="dm-link"]')].some(a => a.textContent.includes("bob"))`, 15*time.Second)

	// Phone width: one pane at a time, no sideways scrolling, and a way back
	// from the conversation to the list.
	bob.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	bob.waitFor("only the conversation", `getComputedStyle(document.querySelector("aside.list")).display === "none" && document.documentElement.scrollWidth <= window.innerWidth + 1`, 10*time.Second)
	bob.do("back to the list", chromedp.Click(chromedp.CSS(`a.back`)))
	bob.waitFor("only the list", `location.pathname === "/dm" && getComputedStyle(document.querySelector("aside.list")).display !== "none" && getComputedStyle(document.querySelector("section.conv")).display === "none"`, 10*time.Second)
}

// TestBrowserPins: the owner pins Bob's message; Bob sees it marked and in
// the pinned list live; unpinning takes it out of both.
func TestBrowserPins(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c := newCommunity(t, base)
	c.post(t, c.bob, "Meeting moved to 7pm")
	c.post(t, c.bob, "just chatting")
	browser := newBrowser(t)
	alice := newTab(t, browser, "alice")
	bob := newTab(t, browser, "bob")
	signIn(alice, base, c.alice, c.channelPath())
	signIn(bob, base, c.bob, c.channelPath())
	target := msgJS("Meeting moved to 7pm")
	alice.waitFor("the message", target+` !== undefined`, 10*time.Second)
	// Bob is no owner and has no MANAGE_MESSAGES: no Pin button for him.
	bob.waitFor("the message", target+` !== undefined`, 10*time.Second)
	if eval[bool](bob, "look for Pin", `!!`+target+`.querySelector('button[aria-label="Pin"]')`) {
		t.Fatal("a member without MANAGE_MESSAGES is offered Pin")
	}
	bob.do("open the pinned list", chromedp.Click(chromedp.CSS(`[data-testid="pins-toggle"]`)))
	bob.waitFor("an empty pinned list", `document.querySelector('[data-testid="pins"]')?.textContent.includes("Nothing is pinned")`, 10*time.Second)

	eval[bool](alice, "pin", `(() => { `+target+`.querySelector('button[aria-label="Pin"]').click(); return true; })()`)
	bob.waitFor("the pinned mark, live", `!!`+target+`?.querySelector('[data-testid="pinned-mark"]')`, 10*time.Second)
	bob.waitFor("the message in the pinned list, live", `[...document.querySelectorAll('[data-testid="pinned-message"]')].some(p => p.textContent.includes("Meeting moved to 7pm") && p.textContent.includes("bob"))`, 10*time.Second)
	if n := eval[float64](bob, "count pins", `document.querySelectorAll('[data-testid="pinned-message"]').length`); n != 1 {
		t.Fatalf("pinned list has %v messages, want 1", n)
	}
	bob.screenshot("pins")

	alice.waitFor("Unpin offered", `!!`+target+`?.querySelector('button[aria-label="Unpin"]')`, 10*time.Second)
	eval[bool](alice, "unpin", `(() => { `+target+`.querySelector('button[aria-label="Unpin"]').click(); return true; })()`)
	bob.waitFor("the mark gone, live", `!`+target+`?.querySelector('[data-testid="pinned-mark"]')`, 10*time.Second)
	bob.waitFor("the pinned list empty again", `document.querySelectorAll('[data-testid="pinned-message"]').length === 0`, 10*time.Second)

	// A role with MANAGE_MESSAGES (given while Bob is looking) lets him pin.
	var role struct {
		ID string `json:"id"`
	}
	together(t, base, "POST", "/servers/"+c.server+"/roles", c.alice.Access, map[string]any{"name": "mods", "permissions": 4}, &role)
	together(t, base, "PUT", "/servers/"+c.server+"/members/"+c.bob.ID+"/roles/"+role.ID, c.alice.Access, nil, nil)
	chatting := msgJS("just chatting")
	bob.waitFor("Pin offered to the moderator, live", `!!`+chatting+`?.querySelector('button[aria-label="Pin"]')`, 10*time.Second)
	eval[bool](bob, "pin as moderator", `(() => { `+chatting+`.querySelector('button[aria-label="Pin"]').click(); return true; })()`)
	alice.waitFor("bob's pin, live", `!!`+chatting+`?.querySelector('[data-testid="pinned-mark"]')`, 10*time.Second)
}

// TestBrowserAttachments: a message with an image and a text file; the
// image shows inline through its signed URL (it decodes), the text file is
// a link, for the sender at once and for the other member.
func TestBrowserAttachments(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c := newCommunity(t, base)
	dir := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		for y := range 30 {
			img.Set(x, y, color.RGBA{R: 200, G: uint8(x * 6), B: 80, A: 255})
		}
	}
	var pngBytes bytes.Buffer
	if err := png.Encode(&pngBytes, img); err != nil {
		t.Fatal(err)
	}
	pic := filepath.Join(dir, "cover.png")
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(pic, pngBytes.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notes, []byte("chapter 1: the desert\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	browser := newBrowser(t)
	alice := newTab(t, browser, "alice")
	bob := newTab(t, browser, "bob")
	signIn(alice, base, c.alice, c.channelPath())
	signIn(bob, base, c.bob, c.channelPath())

	alice.do("pick two files", chromedp.SetUploadFiles(chromedp.CSS(`[data-testid="attach-input"]`), []string{pic, notes}))
	alice.waitFor("the picked files", `document.querySelector('.picked')?.textContent.includes("cover.png") && document.querySelector('.picked').textContent.includes("notes.txt")`, 10*time.Second)
	alice.do("send them", chromedp.SendKeys(chromedp.CSS(`[data-testid="composer"]`), "The cover and my notes"),
		chromedp.Click(chromedp.CSS(`.composer button[type="submit"]`)))
	shown := func(p *page) {
		p.t.Helper()
		m := msgJS("The cover and my notes")
		p.waitFor("the image, decoded", `(() => { const i = `+m+`?.querySelector('[data-testid="attachment-image"]'); return !!i && i.complete && i.naturalWidth === 40 && i.alt === "cover.png"; })()`, 15*time.Second)
		p.waitFor("the text file as a link", `(() => { const a = `+m+`?.querySelector('[data-testid="attachment-link"]'); return !!a && a.textContent.includes("notes.txt") && new URL(a.href).pathname.startsWith("/files/") && a.href.includes("sig="); })()`, 10*time.Second)
	}
	shown(alice)
	if eval[bool](alice, "files cleared", `!!document.querySelector('.picked')`) {
		t.Fatal("the picked files stay in the composer after sending")
	}
	// The link downloads the file's bytes (the signed URL needs no header).
	got := eval[string](alice, "fetch the text file", `fetch(`+msgJS("The cover and my notes")+`.querySelector('[data-testid="attachment-link"]').href, {credentials: "omit"}).then(r => r.text())`)
	if got != "chapter 1: the desert\n" {
		t.Fatalf("text file = %q", got)
	}
	alice.screenshot("attachments")
	// Bob gets the message live; Together announces no event when files are
	// added to it (the upload is a second request), so he sees them when he
	// (re)opens the channel, as Together's own client does.
	bob.waitFor("the message, live", msgJS("The cover and my notes")+` !== undefined`, 10*time.Second)
	bob.do("reopen the channel", chromedp.Navigate(base+c.channelPath()))
	shown(bob)

	// Files alone: the message is sent under their names.
	alice.do("pick one file", chromedp.SetUploadFiles(chromedp.CSS(`[data-testid="attach-input"]`), []string{notes}))
	alice.waitFor("send enabled without text", `!document.querySelector('.composer button[type="submit"]').disabled`, 10*time.Second)
	alice.do("send it", chromedp.Click(chromedp.CSS(`.composer button[type="submit"]`)))
	alice.waitFor("the file-only message", msgJS("notes.txt")+`?.querySelector('[data-testid="attachment-link"]') != null`, 15*time.Second)
}

// TestBrowserCommunityLateLoadKeepsTheCommunity: a community's channels
// read that arrives after the member moved to another community (back and
// forward, or a link) is dropped: the page keeps the community it shows.
// Before, the late answer showed the first community's channels under the
// second one's name and address.
func TestBrowserCommunityLateLoadKeepsTheCommunity(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	c := newCommunity(t, base)
	var other, lobby struct {
		ID string `json:"id"`
	}
	together(t, base, "POST", "/servers", c.alice.Access, map[string]any{"name": "Attic"}, &other)
	together(t, base, "POST", "/servers/"+other.ID+"/channels", c.alice.Access, map[string]any{"name": "lobby", "type": "text"}, &lobby)
	p := newTab(t, newBrowser(t), "alice")
	holdReads(p)
	attic := "/c/" + other.ID + "/" + lobby.ID
	signIn(p, base, c.alice, attic)
	p.waitFor("the Attic's channels", `!!document.querySelector('a[href=`+jsString(attic)+`]')`, 20*time.Second)

	goTo := func(path string) {
		eval[bool](p, "go to "+path, `(() => { history.pushState(null, "", `+jsString(path)+`); dispatchEvent(new PopStateEvent("popstate")); return true; })()`)
	}
	eval[bool](p, "hold the Garden's channels read", `window.__holdReads(`+jsString("/servers/"+c.server+"/channels")+`)`)
	goTo(c.channelPath())
	p.waitFor("the Garden's channels read held", `window.__readsHeld > 0`, 20*time.Second)
	goTo(attic)
	p.waitFor("the Attic's channels again", `!!document.querySelector('a[href=`+jsString(attic)+`]')`, 20*time.Second)

	eval[bool](p, "release the Garden's channels read", `window.__releaseReads()`)
	p.waitFor("the late read", `window.__readsDone > 0`, 20*time.Second)
	misplaced := "/c/" + other.ID + "/" + c.channel
	if !eval[bool](p, "look at the channel list", `new Promise((r) => setTimeout(() => r(!!document.querySelector('a[href=`+jsString(attic)+`]') && !document.querySelector('a[href=`+jsString(misplaced)+`]')), 0))`) {
		t.Fatalf("the Garden's late channels replaced the Attic's; page: %s", p.text())
	}
}

// holdReads installs, in p's next documents, a hold on the app's reads of
// one path: window.__holdReads(path) holds each fetch of it from then on
// (window.__readsHeld counts them), window.__releaseReads() lets them go,
// and window.__readsDone counts the held answers the app has read.
func holdReads(p *page) {
	p.t.Helper()
	installScript(p, "install the read hold", `
		(() => {
			const real = window.fetch, waiting = [];
			let held = "";
			window.__readsHeld = 0;
			window.__readsDone = 0;
			window.fetch = async function (input, init) {
				const url = new URL(String(input instanceof Request ? input.url : input), location.href);
				if (!held || url.pathname !== held) return real.call(this, input, init);
				window.__readsHeld++;
				await new Promise((r) => waiting.push(r));
				const res = await real.call(this, input, init);
				const body = await res.text();
				const out = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
				out.text = async () => { window.__readsDone++; return body; };
				out.json = async () => { window.__readsDone++; return JSON.parse(body); };
				return out;
			};
			window.__holdReads = (path) => { held = path; return true; };
			window.__releaseReads = () => { held = ""; waiting.splice(0).forEach((r) => r()); return true; };
		})();`)
}
