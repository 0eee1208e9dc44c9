package web_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/config"
)

// hostile are strings a stranger can put in front of others: markup with
// handlers, script URLs in every Markdown and HTML form, entity-encoded
// schemes, SVG and mutation-XSS shapes. Each sets window.__xss if it ever
// runs (it cannot under the CSP, which is why auditDOM below also looks
// for the markup itself).
var hostile = []string{
	`<img src=x onerror="window.__xss=1">`,
	`<svg onload="window.__xss=1"></svg>`,
	`<script>window.__xss=1</script>`,
	`[click](javascript:window.__xss=1)`,
	`[click](JaVaScRiPt:window.__xss=1)`,
	`[click](java&#x09;script:window.__xss=1)`,
	`[click](data:text/html,<script>window.__xss=1</script>)`,
	`[click](https://ok.example/"onmouseover="window.__xss=1)`,
	`<a href="javascript:window.__xss=1">x</a>`,
	`<javascript:window.__xss=1>`,
	`![img](javascript:window.__xss=1)`,
	`<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>`,
	`<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=1>`,
	"`<img src=x onerror=window.__xss=1>` **b<img src=x onerror=window.__xss=1>**",
	`https://ok.example/<img/src/onerror=window.__xss=1>`,
	`<div style="background:url(javascript:window.__xss=1)">s</div>`,
	`&lt;img src=x onerror=window.__xss=1&gt;`,
}

// auditDOM returns what in the page came from markup no page of ours
// makes: an on* attribute, a link, frame or media address with a scheme
// other than http(s), mailto, blob or this origin's, an inline style, a
// script that is not the app's bundle, an iframe, object or embed, or
// window.__xss set.
const auditDOM = `(() => {
	const bad = [];
	if (window.__xss) bad.push("window.__xss set");
	for (const el of document.querySelectorAll("*")) {
		for (const a of el.attributes) {
			if (/^on/i.test(a.name)) bad.push(el.tagName + " " + a.name + "=" + a.value);
			if (["href", "src", "action", "formaction", "xlink:href", "poster", "data"].includes(a.name.toLowerCase()) && a.value) {
				let u;
				try { u = new URL(a.value, location.href); } catch { bad.push(el.tagName + " unparsable " + a.name); continue; }
				if (!["http:", "https:", "mailto:", "blob:"].includes(u.protocol)) bad.push(el.tagName + " " + a.name + "=" + a.value);
			}
			if (a.name === "srcdoc" || (a.name === "style" && el.closest("#main"))) bad.push(el.tagName + " " + a.name);
		}
		if (el.tagName === "SCRIPT" && !/\/assets\/[^/]+\.js$/.test(el.src)) bad.push("script " + (el.src || el.textContent.slice(0, 40)));
		if (["IFRAME", "OBJECT", "EMBED"].includes(el.tagName)) bad.push(el.tagName);
	}
	return JSON.stringify(bad);
})()`

func audit(t *testing.T, p *page, where string) {
	t.Helper()
	if got := eval[string](p, "audit the page: "+where, auditDOM); got != "[]" {
		p.screenshot("hostile-" + where)
		t.Errorf("%s: markup from hostile strings reached the page: %s", where, got)
	}
}

// TestBrowserHostileStrings: strings a stranger controls (message bodies,
// thread replies, pins, search hits, a profile, community and channel
// names and topics, a watch room's title and description, stage chat lines and a chat name) show as text or as
// the renderers' allow-listed markup: no handler, no script URL, no frame
// reaches the page, nothing runs and no CSP violation is reported (newTab
// fails the test on one).
func TestBrowserHostileStrings(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	// Chat lines follow each other faster than the flood limit allows.
	_, base := startApp(t, func(c *config.Config) { c.ChatFloodRate = 0 })
	browser := newBrowser(t)
	p := newTab(t, browser, "hostile")
	signUp(p, base, "hostile_one", "")

	payloads, err := json.Marshal(hostile)
	if err != nil {
		t.Fatal(err)
	}
	name := `<img src=x onerror=window.__xss=1>`
	// Everything is made through the API with the page's own token, as a
	// client of the attacker's choosing would.
	ids := eval[string](p, "plant the strings", `(async () => {
		const h = {"Content-Type": "application/json", Authorization: "Bearer " + localStorage.getItem("together_access_token")};
		const call = async (method, path, body) => {
			const r = await fetch(path, {method, headers: h, body: body === undefined ? undefined : JSON.stringify(body)});
			if (!r.ok) throw new Error(method + " " + path + ": " + r.status + " " + await r.text());
			return r.status === 204 ? null : r.json();
		};
		await call("PATCH", "/users/@me", {bio: `+jsString(name)+`, pronouns: "<b>x</b>", custom_status: `+jsString(name)+`});
		const s = await call("POST", "/servers", {name: `+jsString(name)+`});
		const c = await call("POST", "/servers/" + s.id + "/channels", {name: "xss-chan", type: "text", topic: `+jsString(name+` [t](javascript:window.__xss=1)`)+`});
		let first;
		for (const body of `+string(payloads)+`) {
			const m = await call("POST", "/channels/" + c.id + "/messages", {content: body + " needle"});
			first = first || m;
		}
		await call("POST", "/channels/" + c.id + "/messages/" + first.id + "/thread", {content: `+jsString(hostile[3])+`});
		await call("POST", "/channels/" + c.id + "/messages/" + first.id + "/pin");
		return s.id + "/" + c.id;
	})()`)
	p.do("open the channel", chromedp.Navigate(base+"/c/"+ids))
	p.waitFor("every message shown", `document.querySelectorAll('[data-testid="message-body"]').length >= `+strconv.Itoa(len(hostile)), 15*time.Second)
	p.waitFor("the names as text", `document.querySelector('[data-testid="channel-title"]')?.textContent.includes("javascript:") && document.body.textContent.includes("<img src=x onerror=window.__xss=1>")`, 10*time.Second)
	audit(t, p, "channel")
	p.do("open the pins", chromedp.Click(chromedp.CSS(`[data-testid="pins-toggle"]`)))
	p.waitFor("the pinned message", `!!document.querySelector('[data-testid="pinned-message"]')`, 10*time.Second)
	audit(t, p, "pins")
	p.do("open the thread", chromedp.Click(chromedp.CSS(`[data-testid="thread-count"]`)))
	p.waitFor("the thread reply", `!!document.querySelector('[data-testid="thread-reply"]') && !!document.querySelector('[data-testid="thread-parent"]')`, 10*time.Second)
	audit(t, p, "thread")

	p.do("search", chromedp.SendKeys(chromedp.ID("search-q"), "needle\r"))
	p.waitFor("search hits", `document.querySelectorAll('[data-testid="search-hit"]').length > 0`, 10*time.Second)
	audit(t, p, "search")

	// A watch room's title and description (OpenTogetherTube's API).
	eval[bool](p, "make a watch room", `(async () => {
		const {token} = await (await fetch("/api/auth/grant")).json();
		const h = {"Content-Type": "application/json", Authorization: "Bearer " + token};
		let r = await fetch("/api/room/create", {method: "POST", headers: h, body: JSON.stringify({name: "hostileroom", title: `+jsString(name)+`, isTemporary: false, visibility: "public"})});
		if (!r.ok) throw new Error("create: " + r.status + " " + await r.text());
		r = await fetch("/api/room/hostileroom", {method: "PATCH", headers: h, body: JSON.stringify({description: `+jsString(hostile[0])+`})});
		if (!r.ok) throw new Error("patch: " + r.status + " " + await r.text());
		return true;
	})()`)
	p.do("open the rooms", chromedp.Navigate(base+"/rooms"))
	p.waitFor("the room listed", `document.querySelector(".rooms")?.textContent.includes("onerror")`, 10*time.Second)
	audit(t, p, "rooms")
	p.do("open the room", chromedp.Navigate(base+"/room/hostileroom"))
	p.waitFor("the room's title", `document.body.textContent.includes("<img src=x onerror=window.__xss=1>")`, 10*time.Second)
	audit(t, p, "room")

	// The stage chat: a guest's chat lines and chat name.
	v := newTab(t, browser, "hostile-stage")
	v.do("open the stage", chromedp.Navigate(base+"/live"))
	v.waitFor("the chat input", `!!document.querySelector('[data-testid="stage-chat-input"]')?.placeholder.startsWith("Chat as")`, 15*time.Second)
	v.waitFor("the chat socket", `!document.querySelector('[data-testid="reconnecting"]')`, 10*time.Second)
	for _, body := range hostile[:8] {
		v.do("chat", chromedp.SetValue(chromedp.CSS(`[data-testid="stage-chat-input"]`), body),
			chromedp.SendKeys(chromedp.CSS(`[data-testid="stage-chat-input"]`), " "),
			chromedp.Click(chromedp.CSS(`.stage-chat button[type="submit"]`)))
		v.waitFor("the line", `document.querySelectorAll('[data-testid="stage-chat-line"]').length > 0 && !document.querySelector('[data-testid="stage-chat-input"]').value.trim()`, 10*time.Second)
	}
	v.waitFor("every chat line", `document.querySelectorAll('[data-testid="stage-chat-line"]').length >= 8`, 10*time.Second)
	audit(t, v, "stage")
}
