package federation_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/federation/fedtest"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// bounded is a service serving its inboxes over HTTP (inboxServer), its
// database, and its server actor's IRI and inbox.
type bounded struct {
	node
	db          *store.DB
	self, inbox string
}

// boundedNode starts a bounded service with cfg's bounds; private sets
// private mode.
func boundedNode(t *testing.T, e storetest.Engine, cfg federation.Config, private bool) bounded {
	t.Helper()
	db := e.Open(t)
	var serverURL atomic.Value
	serverURL.Store("")
	cfg.Settings = func() federation.Settings {
		return federation.Settings{Enabled: true, Private: private, ShowEngagement: true, Username: "streamer",
			ServerURL: serverURL.Load().(string), Name: "Stage"}
	}
	s := newService(t, db, cfg)
	base := inboxServer(t, &serverURL, s.Service)
	return bounded{s, db, base + "/federation/user/streamer", base + "/federation/user/streamer/inbox"}
}

// follow posts p's signed Follow of the local actor to its inbox.
func (n bounded) follow(t *testing.T, p *fedtest.Peer) fedtest.Reply {
	t.Helper()
	return p.Post(t, n.inbox, p.Follow(n.self), fedtest.SignOpts{})
}

// peers starts n peers. Every test peer is on 127.0.0.1: one remote
// domain.
func peers(t *testing.T, n int) []*fedtest.Peer {
	ps := make([]*fedtest.Peer, n)
	for i := range ps {
		ps[i] = fedtest.NewPeer(t, "p"+strconv.Itoa(i))
	}
	return ps
}

// TestDomainFollowersBounded: a local actor takes at most DomainFollowers
// followers and pending requests from one remote domain: past it a new
// Follow is refused (403, as a blocked domain), while an account already
// counted may follow again; an account the admin blocked stops counting.
// Without the bound the attacker's fourth follow request was stored.
func TestDomainFollowersBounded(t *testing.T) {
	t.Parallel()
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			n := boundedNode(t, e, federation.Config{DomainFollowers: 3}, true)
			ctx := context.Background()
			ps := peers(t, 4)
			for _, p := range ps[:3] {
				if r := n.follow(t, p); r.Status != 202 {
					t.Fatalf("follow = %d %s", r.Status, r.Body)
				}
			}
			if r := n.follow(t, ps[3]); r.Status != 403 {
				t.Fatalf("a follow past the domain's bound = %d %s, want 403", r.Status, r.Body)
			}
			if r := n.follow(t, ps[0]); r.Status != 202 {
				t.Errorf("a pending account's follow again = %d %s, want 202", r.Status, r.Body)
			}
			if err := n.Approve(ctx, "", ps[1].Actor(), true); err != nil {
				t.Fatal(err)
			}
			if r := n.follow(t, ps[3]); r.Status != 403 {
				t.Errorf("approved followers stopped counting: a follow past the bound = %d, want 403", r.Status)
			}
			if err := n.Approve(ctx, "", ps[2].Actor(), false); err != nil {
				t.Fatal(err)
			}
			if r := n.follow(t, ps[3]); r.Status != 202 {
				t.Errorf("a follow once the admin blocked one = %d %s, want 202", r.Status, r.Body)
			}
			pending, _, err := n.Followers(ctx, "", federation.Pending, 0, 10)
			if err != nil || len(pending) != 2 {
				t.Errorf("pending = %v, %v; want two", pending, err)
			}
		})
	}
}

// TestDomainInboxesBounded: the followers of one remote domain are
// delivered to at most DomainInboxes distinct inboxes, a shared inbox
// once: a follower bringing another is refused (403), and so is a
// follower whose inbox changed to a new one (its actor document rewritten,
// fetched again on its new key), while one keeping its inbox follows
// again. Without the bound every post went to each of an attacker's
// actors' own inboxes.
func TestDomainInboxesBounded(t *testing.T) {
	t.Parallel()
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			n := boundedNode(t, e, federation.Config{DomainInboxes: 2}, false)
			ps := peers(t, 3)
			// Another account of p0's server, sharing its inbox.
			now := time.Now().UTC()
			if err := n.db.Federation().PutFollower(context.Background(), &federation.Follower{Actor: "streamer",
				IRI: ps[0].URL() + "/users/other", Inbox: ps[0].URL() + "/users/other/inbox", SharedInbox: ps[0].URL() + "/inbox",
				Domain: "127.0.0.1", CreatedAt: now, ApprovedAt: &now}); err != nil {
				t.Fatal(err)
			}
			for _, p := range ps[:2] {
				if r := n.follow(t, p); r.Status != 202 {
					t.Fatalf("follow = %d %s", r.Status, r.Body)
				}
			}
			if r := n.follow(t, ps[2]); r.Status != 403 {
				t.Fatalf("a follow with a third inbox = %d %s, want 403", r.Status, r.Body)
			}
			if r := n.follow(t, ps[1]); r.Status != 202 {
				t.Errorf("a follower's follow again = %d %s, want 202", r.Status, r.Body)
			}
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			ps[0].SetKey(k)
			ps[0].SetInboxes("", ps[0].URL()+"/users/p0/another-inbox")
			if r := n.follow(t, ps[0]); r.Status != 403 {
				t.Errorf("a follower's follow with a new inbox = %d %s, want 403", r.Status, r.Body)
			}
			fs, _, err := n.Followers(context.Background(), "", federation.Approved, 0, 10)
			if err != nil || len(fs) != 3 {
				t.Fatalf("followers = %v, %v", fs, err)
			}
			for _, f := range fs {
				if f.IRI == ps[0].Actor() && f.SharedInbox != ps[0].URL()+"/inbox" {
					t.Errorf("the refused follow changed the follower's inbox to %q", f.SharedInbox)
				}
			}
		})
	}
}

// TestInboxPacedPerDomain: one remote domain's activities past
// DomainBurst are answered 429 with Retry-After (the sender delivers them
// later); requests whose signature fails cost the domain nothing, so
// nobody can spend a real server's pace by naming its keys.
func TestInboxPacedPerDomain(t *testing.T) {
	t.Parallel()
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			n := boundedNode(t, e, federation.Config{DomainBurst: 2, DomainPace: 0.001}, false)
			ps := peers(t, 2)
			forged, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if r := ps[0].Post(t, n.inbox, ps[0].Follow(n.self), fedtest.SignOpts{Key: forged}); r.Status != 401 {
					t.Fatalf("a forged follow = %d, want 401", r.Status)
				}
			}
			for _, p := range ps {
				if r := n.follow(t, p); r.Status != 202 {
					t.Fatalf("follow within the pace = %d %s", r.Status, r.Body)
				}
			}
			r := n.follow(t, ps[1])
			if r.Status != 429 {
				t.Fatalf("an activity past the domain's pace = %d %s, want 429", r.Status, r.Body)
			}
			if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs <= 0 {
				t.Errorf("Retry-After = %q, want seconds", r.Header.Get("Retry-After"))
			}
		})
	}
}

// TestActionsBounded: a local actor keeps its MaxActions newest engagement
// actions; recording one more deletes the oldest. Without the bound every
// like from an attacker's actors was a row kept for good.
func TestActionsBounded(t *testing.T) {
	t.Parallel()
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			n := boundedNode(t, e, federation.Config{MaxActions: 2}, false)
			ctx := context.Background()
			note := postedNote(t, n)
			ps := peers(t, 4)
			for i, p := range ps {
				like := map[string]any{"id": p.Actor() + "#like", "type": "Like", "actor": p.Actor(), "object": note}
				if r := p.Post(t, n.inbox, like, fedtest.SignOpts{}); r.Status != 202 {
					t.Fatalf("like %d = %d %s", i, r.Status, r.Body)
				}
			}
			as, total, err := n.Actions(ctx, 0, 10)
			if err != nil || total != 2 || len(as) != 2 {
				t.Fatalf("actions = %d (%d listed), %v; want 2", total, len(as), err)
			}
			if as[0].ActorIRI != ps[3].Actor() || as[1].ActorIRI != ps[2].Actor() {
				t.Errorf("kept %s and %s, want the newest two", as[0].ActorIRI, as[1].ActorIRI)
			}
		})
	}
}

// postedNote posts a public note as the server actor and returns its IRI
// (what likes and boosts name).
func postedNote(t *testing.T, s bounded) string {
	t.Helper()
	ctx := context.Background()
	if err := s.SendPublic(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	items, _, err := s.db.Federation().Outbox(ctx, "streamer", 0, 10)
	if err != nil || len(items) == 0 {
		t.Fatalf("outbox = %v, %v", items, err)
	}
	var create struct{ Object struct{ ID string } }
	if err := json.Unmarshal(items[0].Value, &create); err != nil || create.Object.ID == "" {
		t.Fatalf("create = %s, %v", items[0].Value, err)
	}
	return create.Object.ID
}

// TestEngagementNoticesPaced: a local actor's engagement notices keep
// NoticePace: past NoticeBurst an engagement is recorded and told to the
// listener (webhooks fire) but not shown in chat. Without the pace every
// like of an attacker's actors was a line in the stage chat.
func TestEngagementNoticesPaced(t *testing.T) {
	t.Parallel()
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var shown []bool
			n := boundedNode(t, e, federation.Config{NoticeBurst: 2, NoticePace: 0.001,
				OnEngagement: func(_ context.Context, en federation.Engagement) {
					mu.Lock()
					shown = append(shown, en.Show)
					mu.Unlock()
				}}, false)
			note := postedNote(t, n)
			for i, p := range peers(t, 4) {
				boost := map[string]any{"id": p.Actor() + "#boost", "type": "Announce", "actor": p.Actor(), "object": note}
				if r := p.Post(t, n.inbox, boost, fedtest.SignOpts{}); r.Status != 202 {
					t.Fatalf("boost %d = %d %s", i, r.Status, r.Body)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if fmt.Sprint(shown) != "[true true false false]" {
				t.Errorf("shown in chat = %v, want the first two", shown)
			}
			if _, n, err := n.Actions(context.Background(), 0, 10); err != nil || n != 4 {
				t.Errorf("actions = %d, %v; every boost is recorded", n, err)
			}
		})
	}
}
