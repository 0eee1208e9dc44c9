package stagechat_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/stagechat"
)

// stuckDoer answers no request until the request's context ends.
type stuckDoer struct{ started chan struct{} }

func (d stuckDoer) Do(r *http.Request) (*http.Response, error) {
	d.started <- struct{}{}
	<-r.Context().Done()
	return nil, r.Context().Err()
}

// TestGoLiveRoundEndsAtShutdown: a round of go-live notifications runs on
// a timer, outside any request; ending the node's life (shutdown) cancels
// the Discord call it is waiting on, and the round ends. Before, the round
// ran on a fresh background context and waited out its 2-minute timeout.
func TestGoLiveRoundEndsAtShutdown(t *testing.T) {
	t.Parallel()
	s, _, _ := newService(t, stagechat.PresenceConfig{})
	if err := s.UpdateSettings(context.Background(), func(st *stagechat.Settings) error {
		st.Notifications.Discord.Enabled, st.Notifications.Discord.Webhook = true, "https://discord.example/hook"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	life, shutdown := context.WithCancel(context.Background())
	defer shutdown()
	doer := stuckDoer{started: make(chan struct{}, 1)}
	g, err := stagechat.NewGoLive(s, stagechat.GoLiveConfig{Delay: time.Millisecond, Client: doer, Life: life})
	if err != nil {
		t.Fatal(err)
	}
	round := g.Sent()
	g.StreamChanged(true)
	<-doer.started
	shutdown()
	<-round // hangs (the test's deadline) if shutdown does not reach the round
}
