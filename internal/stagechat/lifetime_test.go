package stagechat_test

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/stagechat"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestGoLiveRoundEndsAtShutdown: a round of go-live notifications runs on
// a timer, outside any request; ending the node's life (shutdown) cancels
// the Discord call its sender is waiting on, and the sender ends. Before,
// the round ran on a fresh background context and waited out its 2-minute
// timeout.
func TestGoLiveRoundEndsAtShutdown(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	s, _, _ := newServiceOn(t, db, stagechat.PresenceConfig{})
	if err := s.UpdateSettings(context.Background(), func(st *stagechat.Settings) error {
		st.Notifications.Discord.Enabled, st.Notifications.Discord.Webhook = true, "https://discord.example/hook"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	life, shutdown := context.WithCancel(context.Background())
	defer shutdown()
	doer := hangingDoer{started: make(chan struct{}, 1)}
	g, err := stagechat.NewGoLive(s, stagechat.GoLiveConfig{Delay: time.Millisecond, Client: doer, Queue: db.WebhookQueue(),
		Life: life, PushTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { _ = g.Run(life); close(stopped) }()
	round := g.Sent()
	g.StreamChanged(true)
	<-round
	<-doer.started
	shutdown()
	<-stopped // hangs (the test's deadline) if shutdown does not reach the send
}
