package federation_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestEmptyGoLiveMessageSendsNothing: an empty go-live message turns the
// go-live posts off, as Owncast's SendLive sends nothing then; with a
// message, the post is made.
func TestEmptyGoLiveMessageSendsNothing(t *testing.T) {
	t.Parallel()
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			db := e.Open(t)
			var msg atomic.Value
			msg.Store("  ")
			s := newService(t, db, federation.Config{
				Settings: func() federation.Settings {
					return federation.Settings{Enabled: true, Username: "streamer", ServerURL: "https://stage.example", Name: "Stage",
						GoLiveMessage: msg.Load().(string)}
				},
			})
			addFollower(t, db, "https://peer.example/users/a", "https://peer.example/inbox")
			ctx := context.Background()
			if err := s.GoLive(ctx, "", "Title"); err != nil {
				t.Fatal(err)
			}
			if _, n, err := db.Federation().Outbox(ctx, "streamer", 0, 10); err != nil || n != 0 {
				t.Fatalf("outbox after going live with no message = %d, %v; want nothing posted", n, err)
			}
			msg.Store("I've gone live!")
			if err := s.GoLive(ctx, "", "Title"); err != nil {
				t.Fatal(err)
			}
			if _, n, err := db.Federation().Outbox(ctx, "streamer", 0, 10); err != nil || n != 1 {
				t.Fatalf("outbox after going live = %d, %v; want the Create", n, err)
			}
		})
	}
}
