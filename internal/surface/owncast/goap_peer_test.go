package owncast_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	vocab "github.com/go-ap/activitypub"
)

// TestFederationGoAPPeer: a Mastodon-like account whose activities are
// built and read with a real ActivityPub library (go-ap/activitypub), not
// Hearth's own vocabulary: it follows the server actor and reads the
// Accept, fetches the outbox and the go-live-style post as an
// OrderedCollection and a Note, likes and boosts the note, and signs in to
// chat with the code Hearth sends it as a direct message. Signatures are
// go-fed/httpsig's (the peer in federation_test.go).
func TestFederationGoAPPeer(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	enableFederation(t, n, false)
	p := newPeer(t, "gopher")
	self := vocab.IRI(n.url + "/federation/user/streamer")
	me := vocab.IRI(p.actor())

	// read parses a delivery with go-ap and returns it as an activity.
	read := func(raw map[string]any, want vocab.ActivityVocabularyType) *vocab.Activity {
		t.Helper()
		b, _ := json.Marshal(raw)
		it, err := vocab.UnmarshalJSON(b)
		if err != nil {
			t.Fatalf("go-ap cannot read %s: %v", b, err)
		}
		act, err := vocab.ToActivity(it)
		if err != nil || act.GetType() != want {
			t.Fatalf("want %s, got %s (%v)", want, b, err)
		}
		return act
	}
	send := func(it vocab.Item) reply {
		t.Helper()
		b, err := vocab.MarshalJSON(it)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return p.post(t, inboxOf(n), m, signOpts{})
	}

	follow := vocab.FollowNew(vocab.IRI(p.actor()+"#follow-1"), self)
	follow.Actor = me
	if r := send(follow); r.status != 202 {
		t.Fatalf("follow: %d %s", r.status, r.body)
	}
	acc := read(p.next(t), vocab.AcceptType)
	if acc.Actor.GetLink() != self || acc.Object.GetLink() != follow.ID {
		t.Fatalf("Accept actor %s object %s", acc.Actor.GetLink(), acc.Object.GetLink())
	}

	if r := n.do(t, "POST", "/api/admin/federation/send", "admin", map[string]any{"value": "Live soon"}); r.status != 200 {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	create := read(p.next(t), vocab.CreateType)
	note, err := vocab.ToObject(create.Object)
	if err != nil || note.GetType() != vocab.NoteType || !strings.Contains(note.Content.String(), "Live soon") ||
		note.AttributedTo.GetLink() != self {
		t.Fatalf("note %+v (%v)", note, err)
	}

	// The outbox, fetched and read as an OrderedCollection.
	req, _ := http.NewRequest("GET", n.url+"/federation/user/streamer/outbox", nil)
	req.Header.Set("Accept", "application/activity+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	it, err := vocab.UnmarshalJSON(body)
	if err != nil {
		t.Fatalf("outbox: %v %s", err, body)
	}
	var items vocab.ItemCollection
	if err := vocab.OnOrderedCollection(it, func(c *vocab.OrderedCollection) error {
		items = c.OrderedItems
		return nil
	}); err != nil || len(items) != 1 || items[0].GetLink() != create.ID {
		t.Fatalf("outbox items %v (%v): %s", items, err, body)
	}

	like := vocab.LikeNew(vocab.IRI(p.actor()+"#like-1"), note.ID)
	like.Actor = me
	boost := vocab.AnnounceNew(vocab.IRI(p.actor()+"#boost-1"), note.ID)
	boost.Actor, boost.To = me, vocab.ItemCollection{vocab.PublicNS}
	for _, a := range []vocab.Item{like, boost} {
		if r := send(a); r.status != 202 {
			t.Fatalf("%s: %d %s", a.GetType(), r.status, r.body)
		}
	}
	var actions struct {
		Total   int
		Results []struct{ Type, ActorIRI string }
	}
	n.do(t, "GET", "/api/admin/federation/actions", "admin", nil).json(t, &actions)
	if actions.Total != 3 {
		t.Fatalf("actions = %+v", actions)
	}

	// Fediverse sign-in to chat: the code arrives as a direct note.
	var who registration
	n.do(t, "POST", "/api/chat/register", "", map[string]any{"displayName": "gopher"}).json(t, &who)
	account := "gopher@" + strings.TrimPrefix(p.URL(), "http://")
	if r := n.do(t, "POST", "/api/auth/fediverse?accessToken="+url.QueryEscape(who.AccessToken), "", map[string]any{"account": account}); r.status != 200 {
		t.Fatalf("sign-in start: %d %s", r.status, r.body)
	}
	dm := read(p.next(t), vocab.CreateType)
	dmNote, err := vocab.ToObject(dm.Object)
	if err != nil || len(dm.To) != 1 || dm.To[0].GetLink() != me {
		t.Fatalf("direct message to %v (%v)", dm.To, err)
	}
	content := dmNote.Content.String()
	i := strings.LastIndex(content, ": ")
	if i < 0 {
		t.Fatalf("no code in %q", content)
	}
	code := strings.TrimSuffix(content[i+2:], "</p>")
	if r := n.do(t, "POST", "/api/auth/fediverse/verify", "", map[string]any{"code": code}); r.status != 200 {
		t.Fatalf("verify: %d %s", r.status, r.body)
	}
	if u, err := n.chat.User(context.Background(), who.ID); err != nil || u.AuthenticatedAt == nil {
		t.Fatalf("not authenticated: %+v %v", u, err)
	}
}
