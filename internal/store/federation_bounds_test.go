package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestFederationDomainFollowers: a local actor's followers from one
// domain are counted with its pending requests, without blocked ones, the
// follower named as other, other domains' and other actors'; the inboxes
// they are delivered to are counted once each (a shared inbox for all
// that give it); and an inbox is known when one of them is delivered to
// it.
func TestFederationDomainFollowers(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			fed := eng.Open(t).Federation()
			now := time.Now().UTC().Truncate(time.Microsecond)
			put := func(actor, iri, domain, inbox, shared string, approved, blocked bool) {
				t.Helper()
				f := &federation.Follower{Actor: actor, IRI: iri, Inbox: inbox, SharedInbox: shared, Domain: domain, CreatedAt: now}
				if approved {
					f.ApprovedAt = &now
				}
				if blocked {
					f.DisabledAt = &now
				}
				if err := fed.PutFollower(ctx, f); err != nil {
					t.Fatal(err)
				}
			}
			put("streamer", "https://a.evil.example/u/1", "evil.example", "https://a.evil.example/u/1/inbox", "https://a.evil.example/inbox", true, false)
			put("streamer", "https://a.evil.example/u/2", "evil.example", "https://a.evil.example/u/2/inbox", "https://a.evil.example/inbox", false, false)
			put("streamer", "https://b.evil.example/u/3", "evil.example", "https://b.evil.example/u/3/inbox", "", true, false)
			put("streamer", "https://b.evil.example/u/4", "evil.example", "https://b.evil.example/u/4/inbox", "", true, true)
			put("streamer", "https://good.example/u/5", "good.example", "https://good.example/u/5/inbox", "", true, false)
			put("stage-x", "https://c.evil.example/u/6", "evil.example", "https://c.evil.example/u/6/inbox", "", true, false)
			check := func(inbox, other string, wantN, wantInboxes int, wantKnown bool) {
				t.Helper()
				n, inboxes, known, err := fed.DomainFollowers(ctx, "streamer", "evil.example", inbox, other)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := fmt.Sprint(n, inboxes, known), fmt.Sprint(wantN, wantInboxes, wantKnown); got != want {
					t.Errorf("DomainFollowers(%q, other %q) = %s, want %s", inbox, other, got, want)
				}
			}
			check("https://a.evil.example/inbox", "", 3, 2, true)
			check("https://b.evil.example/u/3/inbox", "", 3, 2, true)
			check("https://a.evil.example/u/1/inbox", "", 3, 2, false) // its own inbox is not where it is delivered
			check("https://b.evil.example/u/4/inbox", "", 3, 2, false) // blocked
			check("https://b.evil.example/u/3/inbox", "https://b.evil.example/u/3", 2, 1, false)
			check("https://a.evil.example/inbox", "https://a.evil.example/u/1", 2, 2, true)
			if n, inboxes, known, err := fed.DomainFollowers(ctx, "streamer", "none.example", "x", ""); err != nil || n != 0 || inboxes != 0 || known {
				t.Errorf("a domain with none = %d %d %v %v", n, inboxes, known, err)
			}
			// The domain is kept, and written again with the follower.
			f, err := fed.Follower(ctx, "streamer", "https://good.example/u/5")
			if err != nil || f.Domain != "good.example" {
				t.Fatalf("follower = %+v, %v", f, err)
			}
		})
	}
}

// TestFederationActionsBounded: recording an engagement action keeps the
// local actor's keep newest and deletes the older ones, not another
// actor's; a repeated one is a conflict and deletes nothing.
func TestFederationActionsBounded(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			fed := eng.Open(t).Federation()
			base := time.Now().UTC().Truncate(time.Microsecond)
			add := func(actor string, i int) error {
				return fed.AddAction(ctx, &federation.Action{IRI: fmt.Sprintf("https://p.example/%s/like/%d", actor, i), Actor: actor,
					ActorIRI: fmt.Sprintf("https://p.example/u/%d", i), Type: federation.EngagementLike, Object: "https://stage.example/federation/n",
					CreatedAt: base.Add(time.Duration(i) * time.Second)}, 3)
			}
			if err := add("stage-x", 0); err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				if err := add("streamer", i); err != nil {
					t.Fatal(err)
				}
			}
			if err := add("streamer", 4); err == nil {
				t.Error("a repeated action was recorded again")
			}
			as, total, err := fed.Actions(ctx, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range as {
				got = append(got, a.Actor+" "+a.ActorIRI[len("https://p.example/u/"):])
			}
			if total != 4 || fmt.Sprint(got) != "[streamer 4 streamer 3 streamer 2 stage-x 0]" {
				t.Errorf("actions = %d %v; want streamer's newest 3 and stage-x's", total, got)
			}
		})
	}
}
