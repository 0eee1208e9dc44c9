package owncast_test

import (
	"strings"
	"testing"
)

type featuredList struct {
	Servers []struct {
		ID, IRI, StreamTitle, URL, PreviewURL string
		IsOnline, Accepted                    bool
	}
}

// TestFederationFeaturedStreamRules: the admin follows a peer; the Follow
// reaches it signed. An Accept of some other Follow is refused; the right
// one marks it accepted. A followers-only note is not listed; a public
// go-live note (tagged #owncast) is, with the remote's links kept only when
// they are web links. A Create from an actor not followed is still refused
// as a reply, and a Reject forgets the following.
func TestFederationFeaturedStreamRules(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	enableFederation(t, n, false)
	p, stranger := newPeer(t, "ivy"), newPeer(t, "mallory")
	self := n.url + "/federation/user/streamer"

	if r := n.do(t, "POST", "/api/admin/federation/servers", "admin", map[string]any{"url": p.actor()}); r.status != 200 {
		t.Fatalf("follow: %d %s", r.status, r.body)
	}
	follow := p.next(t)
	if follow["type"] != "Follow" || follow["actor"] != self || follow["object"] != p.actor() {
		t.Fatalf("Follow = %v", follow)
	}
	var list featuredList
	n.do(t, "GET", "/api/admin/federation/servers", "admin", nil).json(t, &list)
	if len(list.Servers) != 1 || list.Servers[0].Accepted {
		t.Fatalf("before Accept: %+v", list)
	}
	n.do(t, "GET", "/api/federation/servers", "", nil).json(t, &list)
	if len(list.Servers) != 0 {
		t.Fatalf("an unaccepted follow is featured: %+v", list)
	}

	wrong := map[string]any{"id": p.actor() + "#accept-1", "type": "Accept", "actor": p.actor(), "object": n.url + "/federation/not-ours"}
	if r := p.post(t, inboxOf(n), wrong, signOpts{}); r.status != 400 {
		t.Fatalf("Accept of another Follow: %d %s", r.status, r.body)
	}
	accept := map[string]any{"id": p.actor() + "#accept-2", "type": "Accept", "actor": p.actor(), "object": follow}
	if r := p.post(t, inboxOf(n), accept, signOpts{}); r.status != 202 {
		t.Fatalf("Accept: %d %s", r.status, r.body)
	}
	n.do(t, "GET", "/api/federation/servers", "", nil).json(t, &list)
	if len(list.Servers) != 1 || list.Servers[0].IsOnline {
		t.Fatalf("after Accept: %+v", list)
	}

	note := func(id string, to []string, tags []any, link string) map[string]any {
		return map[string]any{"id": p.actor() + "#create-" + id, "type": "Create", "actor": p.actor(), "to": to,
			"object": map[string]any{"id": p.actor() + "/notes/" + id, "type": "Note", "attributedTo": p.actor(), "to": to,
				"content": "<p>Going <b>live</b>: " + id + "</p>", "url": link, "tag": tags,
				"attachment": []any{map[string]any{"type": "Document", "mediaType": "image/jpeg", "url": "javascript:alert(1)"}}}}
	}
	if r := p.post(t, inboxOf(n), note("private", []string{p.actor() + "/followers"}, nil, p.actor()), signOpts{}); r.status != 202 {
		t.Fatalf("followers-only note: %d %s", r.status, r.body)
	}
	n.do(t, "GET", "/api/federation/servers", "", nil).json(t, &list)
	if list.Servers[0].StreamTitle != "" {
		t.Fatalf("a followers-only note is shown: %+v", list)
	}
	live := note("concert", []string{"https://www.w3.org/ns/activitystreams#Public"},
		[]any{map[string]any{"type": "Hashtag", "name": "#owncast", "href": "https://directory.owncast.online/tags/owncast"}},
		"javascript:alert(2)")
	if r := p.post(t, inboxOf(n), live, signOpts{}); r.status != 202 {
		t.Fatalf("go-live note: %d %s", r.status, r.body)
	}
	n.do(t, "GET", "/api/federation/servers", "", nil).json(t, &list)
	s := list.Servers[0]
	if !s.IsOnline || s.StreamTitle != "Going live: concert" || s.URL != "" || s.PreviewURL != "" {
		t.Fatalf("after go-live: %+v", s)
	}

	reply := note("reply", []string{"https://www.w3.org/ns/activitystreams#Public"}, nil, stranger.actor())
	reply["actor"] = stranger.actor()
	reply["object"].(map[string]any)["attributedTo"] = stranger.actor()
	if r := stranger.post(t, inboxOf(n), reply, signOpts{}); r.status != 400 || !strings.Contains(string(r.body), "replies") {
		t.Fatalf("a stranger's Create: %d %s", r.status, r.body)
	}

	reject := map[string]any{"id": p.actor() + "#reject", "type": "Reject", "actor": p.actor(), "object": follow["id"]}
	if r := p.post(t, inboxOf(n), reject, signOpts{}); r.status != 202 {
		t.Fatalf("Reject: %d %s", r.status, r.body)
	}
	n.do(t, "GET", "/api/admin/federation/servers", "admin", nil).json(t, &list)
	if len(list.Servers) != 0 {
		t.Fatalf("after Reject: %+v", list)
	}
}
