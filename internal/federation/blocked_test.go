package federation_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/federation/fedtest"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// inboxServer serves the service's inboxes at /federation/user/{name}/inbox
// (202, or 403 / 404 / 401 / 429 with Retry-After / 400 by the error's
// kind) with the service's server URL its own.
func inboxServer(t *testing.T, serverURL *atomic.Value, s *federation.Service) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/federation/user/"), "/inbox")
		err := s.Inbox(r.Context(), name, r)
		switch fault.KindOf(err) {
		case fault.Forbidden:
			w.WriteHeader(http.StatusForbidden)
		case fault.NotFound:
			w.WriteHeader(http.StatusNotFound)
		case fault.Unauthorized:
			w.WriteHeader(http.StatusUnauthorized)
		case fault.RateLimited:
			var fe *fault.Error
			if errors.As(err, &fe) {
				ratelimit.SetRetryAfter(w.Header(), ratelimit.Decision{RetryAfter: fe.RetryAfter})
			}
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	t.Cleanup(srv.Close)
	serverURL.Store(srv.URL)
	return srv.URL
}

// TestBlockedAccountRefused: an account the admin blocked (a rejected
// follow request) is refused whatever it sends, as Owncast refuses a
// disabled follower at verification: its like and boost of a post are not
// recorded as engagement (nor shown in chat), its Undo does not delete the
// block (which would let it follow again), and it cannot follow again.
func TestBlockedAccountRefused(t *testing.T) {
	t.Parallel()
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			db := e.Open(t)
			var serverURL atomic.Value
			serverURL.Store("")
			var events atomic.Int32
			s := newService(t, db, federation.Config{
				Settings: func() federation.Settings {
					return federation.Settings{Enabled: true, Username: "streamer", ServerURL: serverURL.Load().(string), Name: "Stage"}
				},
				OnEngagement: func(context.Context, federation.Engagement) { events.Add(1) },
			})
			base := inboxServer(t, &serverURL, s.Service)
			self, inbox := base+"/federation/user/streamer", base+"/federation/user/streamer/inbox"
			ctx := context.Background()
			alice := fedtest.NewPeer(t, "alice")
			if r := alice.Post(t, inbox, alice.Follow(self), fedtest.SignOpts{}); r.Status != 202 {
				t.Fatalf("follow = %d %s", r.Status, r.Body)
			}
			if err := s.SendPublic(ctx, "hello"); err != nil {
				t.Fatal(err)
			}
			items, _, err := db.Federation().Outbox(ctx, "streamer", 0, 10)
			if err != nil || len(items) == 0 {
				t.Fatalf("outbox = %v, %v", items, err)
			}
			var note string
			for _, it := range items {
				if it.Type == "Note" {
					note = base + "/federation/" + it.ID
				}
			}
			if err := s.Approve(ctx, "", alice.Actor(), false); err != nil {
				t.Fatal(err)
			}
			for _, act := range []map[string]any{
				{"id": alice.Actor() + "#like", "type": "Like", "actor": alice.Actor(), "object": note},
				{"id": alice.Actor() + "#boost", "type": "Announce", "actor": alice.Actor(), "object": note},
				{"id": alice.Actor() + "#undo", "type": "Undo", "actor": alice.Actor(),
					"object": map[string]any{"type": "Follow", "actor": alice.Actor(), "object": self}},
				alice.Follow(self),
			} {
				if r := alice.Post(t, inbox, act, fedtest.SignOpts{}); r.Status != 403 {
					t.Errorf("%s from a blocked account = %d %s, want 403", act["type"], r.Status, r.Body)
				}
			}
			if _, n, err := s.Actions(ctx, 0, 10); err != nil || n != 1 {
				t.Errorf("actions = %d, %v; want only the follow from before the block", n, err)
			}
			if n := events.Load(); n != 1 {
				t.Errorf("engagement events = %d, want only the follow from before the block", n)
			}
			if fs, _, err := s.Followers(ctx, "", federation.Blocked, 0, 10); err != nil || len(fs) != 1 {
				t.Errorf("blocked = %v, %v; the block must stay", fs, err)
			}
		})
	}
}

// TestDeletedAccountStopsFollowing: a deleted account (Mastodon's) signs
// its Delete of itself with a key its server no longer serves (its actor
// document answers 410 Gone), so the signature can never be checked; the
// 410 from the actor's own server is the proof, and the follower is
// removed (202, so the sender stops retrying). Not without it: the same
// Delete while the account is not gone but signed with a key it does not
// publish, a gone account's Delete of something else, and a Delete of
// another account signed by a gone one are refused as before (401), and a
// gone blocked account's row (its block) stays.
func TestDeletedAccountStopsFollowing(t *testing.T) {
	t.Parallel()
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			db := e.Open(t)
			var serverURL atomic.Value
			serverURL.Store("")
			s := newService(t, db, federation.Config{
				Settings: func() federation.Settings {
					return federation.Settings{Enabled: true, Username: "streamer", ServerURL: serverURL.Load().(string), Name: "Stage"}
				},
			})
			base := inboxServer(t, &serverURL, s.Service)
			inbox := base + "/federation/user/streamer/inbox"
			ctx := context.Background()
			alice, bob, carol, dave := fedtest.NewPeer(t, "alice"), fedtest.NewPeer(t, "bob"), fedtest.NewPeer(t, "carol"), fedtest.NewPeer(t, "dave")
			for _, p := range []*fedtest.Peer{alice, bob, carol, dave} {
				addFollower(t, db, p.Actor(), p.Actor()+"/inbox")
			}
			if err := s.Approve(ctx, "", carol.Actor(), false); err != nil {
				t.Fatal(err)
			}
			del := func(p *fedtest.Peer, object string) map[string]any {
				return map[string]any{"id": p.Actor() + "#delete", "type": "Delete", "actor": p.Actor(), "object": object}
			}
			other, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			// Not gone: a Delete signed with a key dave does not publish
			// is refused, and he still follows. (The others' keys are
			// never fetched before they are gone: none is cached.)
			if r := dave.Post(t, inbox, del(dave, dave.Actor()), fedtest.SignOpts{Key: other}); r.Status != 401 {
				t.Errorf("a forged Delete of a live account = %d, want 401", r.Status)
			}
			alice.Gone()
			bob.Gone()
			carol.Gone()
			if r := bob.Post(t, inbox, del(bob, bob.Actor()+"/statuses/1"), fedtest.SignOpts{}); r.Status != 401 {
				t.Errorf("a gone account's Delete of a post = %d, want 401", r.Status)
			}
			if r := bob.Post(t, inbox, del(bob, alice.Actor()), fedtest.SignOpts{}); r.Status != 401 {
				t.Errorf("a gone account's Delete of another account = %d, want 401", r.Status)
			}
			if r := alice.Post(t, inbox, del(alice, alice.Actor()), fedtest.SignOpts{}); r.Status != 202 {
				t.Errorf("a deleted account's Delete of itself = %d %s, want 202", r.Status, r.Body)
			}
			if r := carol.Post(t, inbox, del(carol, carol.Actor()), fedtest.SignOpts{}); r.Status != 202 {
				t.Errorf("a deleted blocked account's Delete of itself = %d %s, want 202", r.Status, r.Body)
			}
			fs, _, err := s.Followers(ctx, "", federation.Approved, 0, 10)
			if err != nil || len(fs) != 2 || fs[0].IRI == alice.Actor() || fs[1].IRI == alice.Actor() {
				t.Errorf("followers = %v, %v; want bob and dave (alice deleted her account)", fs, err)
			}
			if fs, _, err := s.Followers(ctx, "", federation.Blocked, 0, 10); err != nil || len(fs) != 1 {
				t.Errorf("blocked = %v, %v; carol's block must stay", fs, err)
			}
		})
	}
}
