package federation_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// queueFunc is a delivery queue of function fields: it refuses while
// refuse is set (the node dying, or its queue write failing, at the
// enqueue) and counts what it queued.
type queueFunc struct {
	refuse atomic.Bool
	queued atomic.Int32
}

func (q *queueFunc) Register(webhooks.Kind) error { return nil }

func (q *queueFunc) Enqueue(context.Context, string, string, string, []byte) bool {
	if q.refuse.Load() {
		return false
	}
	q.queued.Add(1)
	return true
}

// TestUnfollowQueuesItsUndoFirst: an unfollow whose Undo could not be
// queued (a kill between the two steps, or the queue refusing) leaves the
// following listed, so the unfollow can be asked again and the remote
// gets its Undo. Before, the following was deleted first: the remote kept
// us as a follower, and the retry answered 404 with nothing left to undo.
func TestUnfollowQueuesItsUndoFirst(t *testing.T) {
	t.Parallel()
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := e.Open(t)
			q := &queueFunc{}
			out, err := egress.New(egress.Config{})
			if err != nil {
				t.Fatal(err)
			}
			s, err := federation.New(federation.Config{Settings: func() federation.Settings {
				return federation.Settings{Enabled: true, Username: "streamer", ServerURL: "https://stage.example", Name: "Stage"}
			}}, db.Federation(), q, out, nil)
			if err != nil {
				t.Fatal(err)
			}
			f := &federation.Following{ID: "0190f3a0-0000-7000-8000-000000000001", Actor: "streamer",
				IRI: "https://peer.example/users/a", Inbox: "https://peer.example/inbox",
				FollowIRI: "https://stage.example/federation/f1", CreatedAt: time.Now().UTC()}
			if err := db.Federation().PutFollowing(ctx, f); err != nil {
				t.Fatal(err)
			}
			q.refuse.Store(true)
			if err := s.Unfollow(ctx, f.ID); err == nil {
				t.Fatal("an unfollow whose Undo was not queued succeeded")
			}
			if _, err := db.Federation().FollowingByID(ctx, f.ID); err != nil {
				t.Fatalf("the following is gone though its Undo was never queued: %v", err)
			}
			q.refuse.Store(false)
			if err := s.Unfollow(ctx, f.ID); err != nil {
				t.Fatalf("the unfollow asked again: %v", err)
			}
			if n := q.queued.Load(); n != 1 {
				t.Fatalf("%d Undos queued, want 1", n)
			}
			if _, err := db.Federation().FollowingByID(ctx, f.ID); fault.KindOf(err) != fault.NotFound {
				t.Fatalf("the following after its unfollow: %v", err)
			}
		})
	}
}
