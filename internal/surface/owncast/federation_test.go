package owncast_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-fed/httpsig"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/federation/fedtest"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// enableFederation points the node's server URL at itself and turns
// federation on with the username "streamer".
func enableFederation(t *testing.T, n *node, private bool) {
	t.Helper()
	for _, c := range []struct {
		path  string
		value any
	}{
		{"/api/admin/config/serverurl", n.url},
		{"/api/admin/config/federation/username", "streamer"},
		{"/api/admin/config/federation/private", private},
		{"/api/admin/config/federation/enable", true},
	} {
		if r := n.do(t, "POST", c.path, "admin", map[string]any{"value": c.value}); r.status != 200 {
			t.Fatalf("%s: %d %s", c.path, r.status, r.body)
		}
	}
}

func TestFederationDisabledAnswers405(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	for _, c := range []struct {
		path string
		want int
	}{
		{"/.well-known/webfinger", 405},
		{"/.well-known/host-meta", 405},
		{"/.well-known/nodeinfo", 405},
		{"/.well-known/x-nodeinfo2", 405},
		{"/nodeinfo/2.0", 405},
		{"/api/v1/instance", 405},
		{"/federation/user/", 405},
		{"/federation/", 405},
		{"/federation/user/streamer", 405},
	} {
		if r := n.do(t, "GET", c.path, "", nil); r.status != c.want {
			t.Errorf("GET %s = %d, want %d", c.path, r.status, c.want)
		}
	}
}

func TestFederationDiscoveryEnabled(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	enableFederation(t, n, false)
	host := strings.TrimPrefix(n.url, "http://")
	acceptJSON := []string{"Accept", "application/json"}
	for _, c := range []struct {
		name, path string
		hdr        []string
		want       int
		ctype      string
	}{
		{"webfinger no resource", "/.well-known/webfinger", nil, 400, ""},
		{"webfinger not acct", "/.well-known/webfinger?resource=streamer@" + host, nil, 400, ""},
		{"webfinger notacct scheme", "/.well-known/webfinger?resource=notacct:streamer@" + host, nil, 400, ""},
		{"webfinger other server", "/.well-known/webfinger?resource=acct:streamer@not" + host, nil, 404, ""},
		{"webfinger other user", "/.well-known/webfinger?resource=acct:notstreamer@" + host, nil, 404, ""},
		{"webfinger", "/.well-known/webfinger?resource=acct:streamer@" + host, nil, 200, "application/jrd+json"},
		{"webfinger accept", "/.well-known/webfinger?resource=acct:streamer@" + host, acceptJSON, 200, "application/jrd+json"},
		{"host-meta", "/.well-known/host-meta", nil, 200, "xml"},
		{"nodeinfo", "/.well-known/nodeinfo", nil, 200, "json"},
		{"x-nodeinfo2", "/.well-known/x-nodeinfo2", nil, 200, "json"},
		{"nodeinfo 2.0", "/nodeinfo/2.0", nil, 200, "json"},
		{"instance", "/api/v1/instance", nil, 200, "json"},
		{"user root browser", "/federation/user/", nil, 307, ""},
		{"user root json", "/federation/user/", acceptJSON, 404, "json"},
		{"wrong user", "/federation/user/notstreamer", acceptJSON, 404, "json"},
		{"actor", "/federation/user/streamer", acceptJSON, 200, "application/activity+json"},
		{"actor browser", "/federation/user/streamer", nil, 307, ""},
		{"root browser", "/federation/", nil, 307, ""},
		{"root json", "/federation/", acceptJSON, 404, "json"},
		{"unknown deep", "/federation/a/b/c", acceptJSON, 404, "json"},
		{"following", "/federation/user/streamer/following", acceptJSON, 404, "json"},
		{"unknown object", "/federation/nope", acceptJSON, 404, "json"},
		{"unknown nodeinfo", "/nodeinfo/9.9", nil, 404, "json"},
		{"outbox", "/federation/user/streamer/outbox", nil, 200, "json"},
		{"followers", "/federation/user/streamer/followers", nil, 200, "json"},
	} {
		r := getNoFollow(t, n.url+c.path, c.hdr)
		if r.status != c.want {
			t.Errorf("%s: GET %s = %d, want %d (%s)", c.name, c.path, r.status, c.want, r.body)
			continue
		}
		if c.ctype != "" && !strings.Contains(r.header.Get("Content-Type"), c.ctype) {
			t.Errorf("%s: Content-Type %q, want %s", c.name, r.header.Get("Content-Type"), c.ctype)
		}
	}

	var wf struct {
		Subject string
		Links   []struct{ Rel, Type, Href string }
	}
	n.do(t, "GET", "/.well-known/webfinger?resource=acct:streamer@"+host, "", nil).json(t, &wf)
	links := map[string]string{}
	for _, l := range wf.Links {
		links[l.Rel+" "+l.Type] = l.Href
	}
	if wf.Subject != "acct:streamer@"+host || links["self application/activity+json"] != n.url+"/federation/user/streamer" ||
		links["alternate application/x-mpegURL"] != n.url+"/hls/stream.m3u8" {
		t.Errorf("webfinger = %+v", wf)
	}

	var actor map[string]any
	n.do(t, "GET", "/federation/user/streamer", "", nil, acceptJSON...).json(t, &actor)
	pk, _ := actor["publicKey"].(map[string]any)
	if actor["type"] != "Service" || actor["inbox"] != n.url+"/federation/user/streamer/inbox" || pk == nil ||
		!strings.Contains(pk["publicKeyPem"].(string), "BEGIN PUBLIC KEY") || pk["owner"] != actor["id"] {
		t.Errorf("actor = %v", actor)
	}

	var ni map[string]any
	n.do(t, "GET", "/nodeinfo/2.0", "", nil).json(t, &ni)
	sw, _ := ni["software"].(map[string]any)
	if ni["version"] != "2.0" || sw["name"] != "owncast" || ni["openRegistrations"] != false {
		t.Errorf("nodeinfo = %v", ni)
	}
}

// peer is the shared fediverse test peer (fedtest: a Mastodon-like account
// with real HTTP signatures), with this file's short forms.
type peer struct{ *fedtest.Peer }

// signOpts bends how a peer signs (the security cases).
type signOpts = fedtest.SignOpts

func newPeer(t *testing.T, name string) *peer { return &peer{fedtest.NewPeer(t, name)} }

func (p *peer) actor() string { return p.Actor() }

// next waits for the next delivery.
func (p *peer) next(t *testing.T) map[string]any { return p.Next(t) }

// post signs an activity and posts it to a Hearth inbox.
func (p *peer) post(t *testing.T, inbox string, act map[string]any, o fedtest.SignOpts) reply {
	t.Helper()
	r := p.Post(t, inbox, act, o)
	return reply{status: r.Status, header: r.Header, body: r.Body}
}

func (p *peer) follow(n *node) map[string]any { return p.Follow(n.url + "/federation/user/streamer") }

func inboxOf(n *node) string { return n.url + "/federation/user/streamer/inbox" }

type followerList struct {
	Total   int
	Results []struct{ Link, Name, Username, Image string }
}

// TestFederationFollowPostEngage is a whole conversation with a
// Mastodon-like peer: follow (Accept comes back, signed), the follower is
// listed, an admin post reaches the peer's shared inbox, the peer reads the
// outbox, likes and boosts the post (recorded, and shown as engagement),
// then undoes the follow.
func TestFederationFollowPostEngage(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var events []string
	n := newNode(t, nodeOpts{engagement: func(_ context.Context, e federation.Engagement) {
		mu.Lock()
		events = append(events, e.Type)
		mu.Unlock()
	}})
	enableFederation(t, n, false)
	p := newPeer(t, "alice")

	if r := p.post(t, inboxOf(n), p.follow(n), fedtest.SignOpts{}); r.status != 202 {
		t.Fatalf("follow: %d %s", r.status, r.body)
	}
	acc := p.next(t)
	if acc["type"] != "Accept" || acc["actor"] != n.url+"/federation/user/streamer" {
		t.Fatalf("expected Accept, got %v", acc)
	}
	var fl followerList
	n.do(t, "GET", "/api/followers", "", nil).json(t, &fl)
	if fl.Total != 1 || fl.Results[0].Link != p.actor() || !strings.HasPrefix(fl.Results[0].Username, "alice@") {
		t.Fatalf("followers = %+v", fl)
	}
	var cfg struct {
		Federation map[string]any `json:"federation"`
	}
	n.do(t, "GET", "/api/config", "", nil).json(t, &cfg)
	if cfg.Federation["followerCount"] != float64(1) {
		t.Fatalf("/api/config federation = %v, want followerCount 1", cfg.Federation)
	}
	n.do(t, "GET", "/api/admin/followers", "admin", nil).json(t, &fl)
	if fl.Total != 1 {
		t.Fatalf("admin followers = %+v", fl)
	}

	if r := n.do(t, "POST", "/api/admin/federation/send", "admin", map[string]any{"value": "Hello <fediverse>"}); r.status != 200 {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	create := p.next(t)
	note, _ := create["object"].(map[string]any)
	if create["type"] != "Create" || note == nil || !strings.Contains(note["content"].(string), "Hello &lt;fediverse&gt;") {
		t.Fatalf("expected Create/Note, got %v", create)
	}

	var outbox struct {
		TotalItems   int
		OrderedItems []map[string]any
	}
	n.do(t, "GET", "/federation/user/streamer/outbox", "", nil, "Accept", "application/activity+json").json(t, &outbox)
	if outbox.TotalItems != 1 || outbox.OrderedItems[0]["id"] != create["id"] {
		t.Fatalf("outbox = %+v", outbox)
	}
	if r := n.do(t, "GET", strings.TrimPrefix(note["id"].(string), n.url), "", nil, "Accept", "application/activity+json"); r.status != 200 ||
		!strings.Contains(string(r.body), `"Note"`) {
		t.Fatalf("stored note: %d %s", r.status, r.body)
	}

	// Each engagement is sent twice under different activity ids: the
	// second is accepted and not recorded again (Owncast keys them by
	// actor, type and object), so a server cannot replay one actor's like
	// into chat.
	for _, typ := range []string{"Like", "Announce"} {
		for _, id := range []string{"#" + typ, "#" + typ + "-again"} {
			act := map[string]any{"id": p.actor() + id, "type": typ, "actor": p.actor(), "object": note["id"]}
			if r := p.post(t, inboxOf(n), act, fedtest.SignOpts{}); r.status != 202 {
				t.Fatalf("%s: %d %s", typ, r.status, r.body)
			}
		}
	}
	var actions struct {
		Total   int
		Results []struct{ Type, ActorIRI string }
	}
	n.do(t, "GET", "/api/admin/federation/actions", "admin", nil).json(t, &actions)
	types := map[string]bool{}
	for _, a := range actions.Results {
		types[a.Type] = a.ActorIRI == p.actor()
	}
	if actions.Total != 3 || !types["FEDIVERSE_ENGAGEMENT_FOLLOW"] || !types["FEDIVERSE_ENGAGEMENT_LIKE"] || !types["FEDIVERSE_ENGAGEMENT_REPOST"] {
		t.Fatalf("actions = %+v", actions)
	}
	mu.Lock()
	if len(events) != 3 {
		t.Errorf("engagement events = %v", events)
	}
	mu.Unlock()
	// "Show engagement" is on by default: the stage chat shows them.
	reg := n.do(t, "POST", "/api/chat/register", "", map[string]any{"displayName": "viewer"})
	var who registration
	reg.json(t, &who)
	var history []map[string]any
	n.do(t, "GET", "/api/chat?accessToken="+url.QueryEscape(who.AccessToken), "", nil).json(t, &history)
	seen := map[string]bool{}
	for _, m := range history {
		if typ, _ := m["type"].(string); strings.HasPrefix(typ, "FEDIVERSE_ENGAGEMENT_") && m["link"] == p.actor() {
			seen[typ] = true
		}
	}
	if len(seen) != 3 {
		t.Errorf("chat engagement events = %v (history %v)", seen, history)
	}

	undo := map[string]any{"id": p.actor() + "#undo", "type": "Undo", "actor": p.actor(),
		"object": map[string]any{"type": "Follow", "actor": p.actor(), "object": n.url + "/federation/user/streamer"}}
	if r := p.post(t, inboxOf(n), undo, fedtest.SignOpts{}); r.status != 202 {
		t.Fatalf("undo: %d %s", r.status, r.body)
	}
	n.do(t, "GET", "/api/followers", "", nil).json(t, &fl)
	if fl.Total != 0 {
		t.Fatalf("after undo followers = %+v", fl)
	}
	// Following again makes a follower again, without a second
	// engagement.
	again := p.follow(n)
	again["id"] = p.actor() + "#follow-again"
	if r := p.post(t, inboxOf(n), again, fedtest.SignOpts{}); r.status != 202 {
		t.Fatalf("follow again: %d %s", r.status, r.body)
	}
	if acc := p.next(t); acc["type"] != "Accept" {
		t.Fatalf("expected Accept, got %v", acc)
	}
	n.do(t, "GET", "/api/followers", "", nil).json(t, &fl)
	n.do(t, "GET", "/api/admin/federation/actions", "admin", nil).json(t, &actions)
	mu.Lock()
	defer mu.Unlock()
	if fl.Total != 1 || actions.Total != 3 || len(events) != 3 {
		t.Errorf("after following again: followers %d, actions %d, engagement events %v", fl.Total, actions.Total, events)
	}
}

func TestFederationPrivateModeApproval(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	enableFederation(t, n, true)
	p, q := newPeer(t, "bob"), newPeer(t, "carol")
	for _, x := range []*peer{p, q} {
		if r := x.post(t, inboxOf(n), x.follow(n), fedtest.SignOpts{}); r.status != 202 {
			t.Fatalf("follow: %d %s", r.status, r.body)
		}
	}
	var pending []struct{ Link string }
	n.do(t, "GET", "/api/admin/followers/pending", "admin", nil).json(t, &pending)
	if len(pending) != 2 {
		t.Fatalf("pending = %+v", pending)
	}
	var fl followerList
	n.do(t, "GET", "/api/followers", "", nil).json(t, &fl)
	if fl.Total != 0 {
		t.Fatalf("pending follows are listed: %+v", fl)
	}
	if r := n.do(t, "POST", "/api/admin/followers/approve", "admin", map[string]any{"actorIRI": p.actor(), "approved": true}); r.status != 200 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	if a := p.next(t); a["type"] != "Accept" {
		t.Fatalf("expected Accept after approval, got %v", a)
	}
	if r := n.do(t, "POST", "/api/admin/followers/approve", "admin", map[string]any{"actorIRI": q.actor(), "approved": false}); r.status != 200 {
		t.Fatalf("reject: %d %s", r.status, r.body)
	}
	var blocked []struct{ Link string }
	n.do(t, "GET", "/api/admin/followers/blocked", "admin", nil).json(t, &blocked)
	if len(blocked) != 1 || blocked[0].Link != q.actor() {
		t.Fatalf("blocked = %+v", blocked)
	}
	if r := q.post(t, inboxOf(n), q.follow(n), fedtest.SignOpts{}); r.status != 403 {
		t.Fatalf("a rejected follower following again: %d, want 403", r.status)
	}
	if r := n.do(t, "POST", "/api/admin/followers/approve", "admin", map[string]any{"actorIRI": "https://nobody.example/x", "approved": true}); r.status != 404 {
		t.Fatalf("approve unknown: %d", r.status)
	}
	var actor map[string]any
	n.do(t, "GET", "/federation/user/streamer", "", nil, "Accept", "application/json").json(t, &actor)
	if actor["manuallyApprovesFollowers"] != true {
		t.Errorf("private mode not advertised: %v", actor["manuallyApprovesFollowers"])
	}
}

// TestFederationInboundSecurity: each way a forged or stale activity is
// refused at the inbox.
func TestFederationInboundSecurity(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	enableFederation(t, n, false)
	p, other := newPeer(t, "mallory"), newPeer(t, "victim")
	stranger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	big := p.follow(n)
	big["padding"] = strings.Repeat("x", 300<<10)
	forged := p.follow(n)
	forged["actor"] = other.actor()
	for _, c := range []struct {
		name string
		act  map[string]any
		o    signOpts
		want int
	}{
		{"unsigned", p.follow(n), fedtest.SignOpts{Unsigned: true}, 401},
		{"signed by a key the actor does not publish", p.follow(n), fedtest.SignOpts{Key: stranger}, 401},
		{"date too old (replay)", p.follow(n), fedtest.SignOpts{Date: time.Now().Add(-3 * time.Hour)}, 401},
		{"date in the future", p.follow(n), fedtest.SignOpts{Date: time.Now().Add(3 * time.Hour)}, 401},
		{"digest does not match body", p.follow(n), fedtest.SignOpts{Digest: "SHA-256=AAAA"}, 401},
		{"digest not signed", p.follow(n), fedtest.SignOpts{Headers: []string{httpsig.RequestTarget, "host", "date"}}, 401},
		{"actor is not the signer", forged, fedtest.SignOpts{}, 403},
		// Signed for another server's inbox at the same path and replayed
		// here within the Date window.
		{"signed for another host", p.follow(n), fedtest.SignOpts{Host: "other.example"}, 401},
		{"body too large", big, fedtest.SignOpts{}, 400},
		{"follow for someone else", map[string]any{"id": p.actor() + "#f2", "type": "Follow", "actor": p.actor(),
			"object": "https://elsewhere.example/users/x"}, fedtest.SignOpts{}, 400},
		{"create is refused", map[string]any{"id": p.actor() + "#c", "type": "Create", "actor": p.actor(),
			"object": map[string]any{"type": "Note"}}, fedtest.SignOpts{}, 400},
	} {
		if r := p.post(t, inboxOf(n), c.act, c.o); r.status != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.want)
		}
	}
	var fl followerList
	n.do(t, "GET", "/api/admin/followers", "admin", nil).json(t, &fl)
	if fl.Total != 0 {
		t.Fatalf("a refused activity made a follower: %+v", fl)
	}
}

// TestFederationActorIsWhereItsKeyIs: an actor document may only speak for
// an actor on its own server. One that claims another server's actor id
// (its key's owner too) could otherwise follow, like, undo or post as that
// actor, take over its follower row and get round a domain block; and a
// "javascript:" id would be a link in Owncast's follower list.
func TestFederationActorIsWhereItsKeyIs(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	enableFederation(t, n, false)
	mallory, victim := newPeer(t, "mallory"), newPeer(t, "victim")
	for _, id := range []string{victim.actor(), "javascript:alert(document.domain)//", "https://victim.example/users/victim"} {
		mallory.Claim(id)
		f := mallory.follow(n)
		f["actor"] = id
		if r := mallory.post(t, inboxOf(n), f, fedtest.SignOpts{}); r.status < 400 {
			t.Errorf("claiming %q: %d %s", id, r.status, r.body)
		}
	}
	// Nor may it have this node send to another server: an inbox there is
	// refused.
	mallory.Claim("")
	mallory.SetInboxes(victim.actor()+"/inbox", "")
	if r := mallory.post(t, inboxOf(n), mallory.follow(n), fedtest.SignOpts{}); r.status < 400 {
		t.Errorf("an inbox on another server: %d %s", r.status, r.body)
	}
	var fl followerList
	n.do(t, "GET", "/api/admin/followers", "admin", nil).json(t, &fl)
	if fl.Total != 0 {
		t.Fatalf("an impersonated actor became a follower: %+v", fl)
	}
	// The real one still follows.
	if r := victim.post(t, inboxOf(n), victim.follow(n), fedtest.SignOpts{}); r.status != 202 {
		t.Fatalf("victim's own follow: %d %s", r.status, r.body)
	}
}

// TestFederationNamesAreText: a remote actor's name is a stranger's text.
// It becomes the follower's name under the rule every display name follows
// (identity.CleanName: no markup, control or bidi characters, 64
// characters), and in the chat notice it is text, not Markdown: a name
// cannot put a link, an image or emphasis into the stage chat.
func TestFederationNamesAreText(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	enableFederation(t, n, false)
	p := newPeer(t, "spammer")
	p.SetName("[Free prize](https://phish.example/) **now** <b>x</b>\u202e " + strings.Repeat("y", 5000))
	if r := p.post(t, inboxOf(n), p.follow(n), fedtest.SignOpts{}); r.status != 202 {
		t.Fatalf("follow: %d %s", r.status, r.body)
	}
	var fl followerList
	n.do(t, "GET", "/api/admin/followers", "admin", nil).json(t, &fl)
	if fl.Total != 1 {
		t.Fatalf("followers = %+v", fl)
	}
	if name := fl.Results[0].Name; len([]rune(name)) > 64 || strings.ContainsAny(name, "<>\u202e") {
		t.Errorf("follower name %.200q (%d characters)", name, len([]rune(name)))
	}
	reg := n.do(t, "POST", "/api/chat/register", "", map[string]any{"displayName": "viewer"})
	var who registration
	reg.json(t, &who)
	var history []map[string]any
	n.do(t, "GET", "/api/chat?accessToken="+url.QueryEscape(who.AccessToken), "", nil).json(t, &history)
	found := false
	for _, m := range history {
		if typ, _ := m["type"].(string); !strings.HasPrefix(typ, "FEDIVERSE_ENGAGEMENT_") {
			continue
		}
		found = true
		body, _ := m["body"].(string)
		if strings.Contains(body, "<a") || strings.Contains(body, "<strong") || strings.Contains(body, "<b>") || len(body) > 1000 {
			t.Errorf("engagement body carries the name as markup: %.300q", body)
		}
	}
	if !found {
		t.Fatalf("no engagement notice in %v", history)
	}
}

// TestFederationUndoNamesItsFollow: an Undo of a Follow of another actor
// (a server's delivery that is not about us) leaves the follower here.
func TestFederationUndoNamesItsFollow(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	enableFederation(t, n, false)
	p := newPeer(t, "alice")
	if r := p.post(t, inboxOf(n), p.follow(n), fedtest.SignOpts{}); r.status != 202 {
		t.Fatalf("follow: %d %s", r.status, r.body)
	}
	undo := map[string]any{"id": p.actor() + "#undo-other", "type": "Undo", "actor": p.actor(),
		"object": map[string]any{"type": "Follow", "actor": p.actor(), "object": "https://elsewhere.example/users/x"}}
	if r := p.post(t, inboxOf(n), undo, fedtest.SignOpts{}); r.status >= 300 {
		t.Fatalf("undo of another follow: %d %s", r.status, r.body)
	}
	var fl followerList
	n.do(t, "GET", "/api/admin/followers", "admin", nil).json(t, &fl)
	if fl.Total != 1 {
		t.Fatalf("an undo of another follow removed the follower: %+v", fl)
	}
	undo["id"], undo["object"].(map[string]any)["object"] = p.actor()+"#undo", n.url+"/federation/user/streamer"
	if r := p.post(t, inboxOf(n), undo, fedtest.SignOpts{}); r.status >= 300 {
		t.Fatalf("undo: %d %s", r.status, r.body)
	}
	n.do(t, "GET", "/api/admin/followers", "admin", nil).json(t, &fl)
	if fl.Total != 0 {
		t.Fatalf("the undo of our follow left it: %+v", fl)
	}
}

func TestFederationBlockedDomainRefused(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	enableFederation(t, n, false)
	p := newPeer(t, "spam")
	host, _, _ := strings.Cut(strings.TrimPrefix(p.URL(), "http://"), ":")
	if r := n.do(t, "POST", "/api/admin/config/federation/blockdomains", "admin", map[string]any{"value": []string{host}}); r.status != 200 {
		t.Fatal(r.status)
	}
	if r := p.post(t, inboxOf(n), p.follow(n), fedtest.SignOpts{}); r.status != 403 {
		t.Fatalf("blocked domain: %d %s", r.status, r.body)
	}
}

// TestFederationKeyRotation: the peer changes its key after Hearth cached
// the old one; the next activity, signed with the new key, is accepted
// after one refetch.
func TestFederationKeyRotation(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	enableFederation(t, n, false)
	p := newPeer(t, "rotator")
	if r := p.post(t, inboxOf(n), p.follow(n), fedtest.SignOpts{}); r.status != 202 {
		t.Fatalf("follow: %d %s", r.status, r.body)
	}
	p.next(t)
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p.SetKey(k)
	undo := map[string]any{"id": p.actor() + "#undo", "type": "Undo", "actor": p.actor(), "object": map[string]any{"type": "Follow"}}
	if r := p.post(t, inboxOf(n), undo, fedtest.SignOpts{}); r.status != 202 {
		t.Fatalf("after rotation: %d %s", r.status, r.body)
	}
}

// TestFederationDeliveryRetried: a failing inbox gets the activity again
// (retried with backoff) until it accepts it.
func TestFederationDeliveryRetried(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	enableFederation(t, n, false)
	p := newPeer(t, "flaky")
	p.FailNext(2)
	if r := p.post(t, inboxOf(n), p.follow(n), fedtest.SignOpts{}); r.status != 202 {
		t.Fatalf("follow: %d %s", r.status, r.body)
	}
	if a := p.next(t); a["type"] != "Accept" {
		t.Fatalf("got %v", a)
	}
}

func TestFederationRemoteFollow(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	enableFederation(t, n, false)
	p := newPeer(t, "dave")
	host := strings.TrimPrefix(p.URL(), "http://")
	var out struct{ RedirectURL string }
	r := n.do(t, "POST", "/api/remotefollow", "", map[string]any{"account": "dave@" + host})
	if r.status != 200 {
		t.Fatalf("remotefollow: %d %s", r.status, r.body)
	}
	r.json(t, &out)
	if out.RedirectURL != p.URL()+"/authorize_interaction?uri="+url.QueryEscape(n.url+"/federation/user/streamer") {
		t.Fatalf("redirectUrl = %q", out.RedirectURL)
	}
	if r := n.do(t, "POST", "/api/remotefollow", "", map[string]any{"account": "nohost"}); r.status != 400 {
		t.Fatalf("bad account: %d", r.status)
	}
}

// getNoFollow GETs without following redirects.
func getNoFollow(t *testing.T, u string, hdr []string) reply {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{status: res.StatusCode, header: res.Header, body: b}
}

// TestFederationShowEngagementOff: with "show engagement" off a follow is
// recorded but not shown in the chat.
func TestFederationShowEngagementOff(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	enableFederation(t, n, false)
	if r := n.do(t, "POST", "/api/admin/config/federation/showengagement", "admin", map[string]any{"value": false}); r.status != 200 {
		t.Fatal(r.status)
	}
	p := newPeer(t, "quiet")
	if r := p.post(t, inboxOf(n), p.follow(n), fedtest.SignOpts{}); r.status != 202 {
		t.Fatalf("follow: %d %s", r.status, r.body)
	}
	var actions struct{ Total int }
	n.do(t, "GET", "/api/admin/federation/actions", "admin", nil).json(t, &actions)
	if actions.Total != 1 {
		t.Fatalf("actions = %+v", actions)
	}
	var who registration
	n.do(t, "POST", "/api/chat/register", "", nil).json(t, &who)
	var history []map[string]any
	n.do(t, "GET", "/api/chat?accessToken="+url.QueryEscape(who.AccessToken), "", nil).json(t, &history)
	for _, m := range history {
		if typ, _ := m["type"].(string); strings.HasPrefix(typ, "FEDIVERSE_") {
			t.Fatalf("engagement shown with show-engagement off: %v", m)
		}
	}
}

// TestFederationProfileUpdate: changing the server name or the logo sends
// followers an Update of the actor; a bad username is refused.
func TestFederationProfileUpdate(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	enableFederation(t, n, false)
	p := newPeer(t, "erin")
	if r := p.post(t, inboxOf(n), p.follow(n), fedtest.SignOpts{}); r.status != 202 {
		t.Fatalf("follow: %d %s", r.status, r.body)
	}
	p.next(t) // Accept
	if r := n.do(t, "POST", "/api/admin/config/name", "admin", map[string]any{"value": "Renamed Stage"}); r.status != 200 {
		t.Fatal(r.status)
	}
	up := p.next(t)
	obj, _ := up["object"].(map[string]any)
	if up["type"] != "Update" || obj["name"] != "Renamed Stage" {
		t.Fatalf("expected Update of the actor, got %v", up)
	}
	icon := func(obj map[string]any) string {
		i, _ := obj["icon"].(map[string]any)
		s, _ := i["url"].(string)
		return s
	}
	if u := icon(obj); !strings.HasSuffix(u, "/logo/external") {
		t.Fatalf("default logo's avatar = %q", u)
	}
	// A new logo is a new avatar URL (Owncast's ?uc=), and followers are
	// told: their servers had cached the old image under the same URL.
	const logo = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
	if r := n.do(t, "POST", "/api/admin/config/logo", "admin", map[string]any{"value": logo}); r.status != 200 {
		t.Fatalf("logo: %d %s", r.status, r.body)
	}
	up = p.next(t)
	obj, _ = up["object"].(map[string]any)
	if u := icon(obj); up["type"] != "Update" || !strings.Contains(u, "/logo/external?uc=") {
		t.Fatalf("after a new logo: %v (avatar %q), want an Update naming the new logo", up, u)
	}
	for _, bad := range []string{"", "has space", "a/b", strings.Repeat("x", 31)} {
		if r := n.do(t, "POST", "/api/admin/config/federation/username", "admin", map[string]any{"value": bad}); r.status != 400 {
			t.Errorf("username %q: %d, want 400", bad, r.status)
		}
	}
}

// TestFederationEngagementWebhook: a follow fires Owncast's
// FEDIVERSE_ENGAGEMENT_FOLLOW webhook.
func TestFederationEngagementWebhook(t *testing.T) {
	t.Parallel()
	got := make(chan map[string]any, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		_ = json.NewDecoder(r.Body).Decode(&ev)
		got <- ev
	}))
	t.Cleanup(hook.Close)
	n := newNode(t, nodeOpts{allow: func(ap netip.AddrPort) bool { return ap.Addr().IsLoopback() }})
	enableFederation(t, n, false)
	if r := n.do(t, "POST", "/api/admin/webhooks/create", "admin", map[string]any{"url": hook.URL,
		"events": []string{"FEDIVERSE_ENGAGEMENT_FOLLOW"}}); r.status != 200 {
		t.Fatalf("webhook: %d %s", r.status, r.body)
	}
	p := newPeer(t, "hooked")
	if r := p.post(t, inboxOf(n), p.follow(n), fedtest.SignOpts{}); r.status != 202 {
		t.Fatalf("follow: %d %s", r.status, r.body)
	}
	select {
	case ev := <-got:
		data, _ := ev["eventData"].(map[string]any)
		if ev["type"] != "FEDIVERSE_ENGAGEMENT_FOLLOW" || data["link"] != p.actor() {
			t.Fatalf("webhook = %v", ev)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook")
	}
}

// TestFederationChatSignIn: a chat user names their fediverse account, the
// peer receives a direct message with a one-time code, and entering it
// authenticates the chat user.
func TestFederationChatSignIn(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	enableFederation(t, n, false)
	p := newPeer(t, "frank")
	var who registration
	n.do(t, "POST", "/api/chat/register", "", map[string]any{"displayName": "frank"}).json(t, &who)
	account := "frank@" + strings.TrimPrefix(p.URL(), "http://")
	if r := n.do(t, "POST", "/api/auth/fediverse?accessToken="+url.QueryEscape(who.AccessToken), "", map[string]any{"account": account}); r.status != 200 {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
	dm := p.next(t)
	note, _ := dm["object"].(map[string]any)
	to, _ := dm["to"].([]any)
	if dm["type"] != "Create" || len(to) != 1 || to[0] != p.actor() {
		t.Fatalf("expected a direct Create/Note to the peer, got %v", dm)
	}
	content, _ := note["content"].(string)
	i := strings.LastIndex(content, ": ")
	if i < 0 {
		t.Fatalf("no code in %q", content)
	}
	code := strings.TrimSuffix(content[i+2:], "</p>")
	if r := n.do(t, "POST", "/api/auth/fediverse/verify", "", map[string]any{"code": "WRONGCODE"}); r.status != 400 {
		t.Fatalf("wrong code: %d", r.status)
	}
	if r := n.do(t, "POST", "/api/auth/fediverse/verify", "", map[string]any{"code": code}); r.status != 200 {
		t.Fatalf("verify %q: %d %s", code, r.status, r.body)
	}
	u, err := n.chat.User(context.Background(), who.ID)
	if err != nil || u.AuthenticatedAt == nil {
		t.Fatalf("user not authenticated: %+v %v", u, err)
	}
	if r := n.do(t, "POST", "/api/auth/fediverse/verify", "", map[string]any{"code": code}); r.status != 400 {
		t.Fatalf("code reused: %d", r.status)
	}
}

// TestFederationTwoNodes: two Hearth nodes over one database and bus (one
// public URL behind a proxy) publish the same key, a follow taken by one
// is seen by the other, and a post made on the second node reaches the
// follower exactly once.
func TestFederationTwoNodes(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	shared := bus.NewLocal()
	t.Cleanup(func() { shared.Close() })
	a := newNode(t, nodeOpts{db: db, bus: shared})
	b := newNode(t, nodeOpts{db: db, bus: shared})
	for _, n := range []*node{a, b} {
		for _, c := range []struct {
			path  string
			value any
		}{
			{"/api/admin/config/serverurl", a.url},
			{"/api/admin/config/federation/username", "streamer"},
			{"/api/admin/config/federation/enable", true},
		} {
			if r := n.do(t, "POST", c.path, "admin", map[string]any{"value": c.value}); r.status != 200 {
				t.Fatalf("%s: %d %s", c.path, r.status, r.body)
			}
		}
	}
	keyOf := func(n *node) string {
		var actor map[string]any
		n.do(t, "GET", "/federation/user/streamer", "", nil, "Accept", "application/activity+json").json(t, &actor)
		pk, _ := actor["publicKey"].(map[string]any)
		return fmt.Sprint(pk["publicKeyPem"])
	}
	if ka, kb := keyOf(a), keyOf(b); ka != kb || !strings.Contains(ka, "PUBLIC KEY") {
		t.Fatal("the two nodes publish different keys")
	}
	p := newPeer(t, "grace")
	if r := p.post(t, inboxOf(a), p.follow(a), fedtest.SignOpts{}); r.status != 202 {
		t.Fatalf("follow: %d %s", r.status, r.body)
	}
	p.next(t) // Accept
	var fl followerList
	b.do(t, "GET", "/api/followers", "", nil).json(t, &fl)
	if fl.Total != 1 {
		t.Fatalf("node B followers = %+v", fl)
	}
	const posts = 3
	for range posts {
		if r := b.do(t, "POST", "/api/admin/federation/send", "admin", map[string]any{"value": "from node B"}); r.status != 200 {
			t.Fatalf("send: %d %s", r.status, r.body)
		}
	}
	seen := map[any]bool{}
	for range posts {
		c := p.next(t)
		if c["type"] != "Create" || seen[c["id"]] {
			t.Fatalf("unexpected or repeated delivery: %v", c)
		}
		seen[c["id"]] = true
	}
	var outbox struct{ TotalItems int }
	a.do(t, "GET", "/federation/user/streamer/outbox", "", nil, "Accept", "application/activity+json").json(t, &outbox)
	if outbox.TotalItems != posts {
		t.Fatalf("node A outbox = %d, want %d", outbox.TotalItems, posts)
	}
}

// TestFederationOversizedActorDocumentRefused: the signer's actor document
// is fetched with a size bound; one past it is not read, and the activity
// is refused.
func TestFederationOversizedActorDocumentRefused(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	enableFederation(t, n, false)
	p := newPeer(t, "huge")
	p.PadActor(300 << 10)
	if r := p.post(t, inboxOf(n), p.follow(n), fedtest.SignOpts{}); r.status != 401 {
		t.Fatalf("oversized actor document: %d %s", r.status, r.body)
	}
}
