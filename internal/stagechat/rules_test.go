package stagechat_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// TestTogetherBotMeetsChatModes: the established-user mode lets the
// admin's integrations post (Owncast's integration routes pass it), but a
// Together bot, which any account makes for itself in a moment and which
// posts into the chat through a stage channel bound to the default stage,
// meets it as a new account does. Before, every bot account was exempt, so
// a new account's bot chatted where the account could not. A bot's access
// token does not register in the chat (ErrNoSession).
func TestTogetherBotMeetsChatModes(t *testing.T) {
	t.Parallel()
	s, _, idn := newService(t, stagechat.PresenceConfig{})
	ctx := context.Background()
	if err := s.UpdateSettings(ctx, func(st *stagechat.Settings) error {
		st.ChatEstablishedUserMode = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	bot, _, _, err := idn.CreateBot(ctx, "", "newbot", "New Bot")
	if err != nil {
		t.Fatal(err)
	}
	// A Together bot cannot register in the chat (it has no session to end
	// with), but it posts there through a bound stage channel, as this
	// chat user.
	if _, _, err := s.Register(ctx, "", "", &identity.Principal{Account: bot}); !errors.Is(err, stagechat.ErrNoSession) {
		t.Fatalf("a bot's access token registered in chat: %v", err)
	}
	bu, err := s.UserForAccount(ctx, bot)
	if err != nil {
		t.Fatal(err)
	}
	if !bu.IsBot {
		t.Fatal("a bot's chat user is not shown as a bot")
	}
	if _, err := s.Send(ctx, bu, "hello from a new bot"); !errors.Is(err, stagechat.ErrNotEstablished) {
		t.Errorf("a new Together bot's message in established-user mode: %v, want ErrNotEstablished", err)
	}
	integ, _, _, err := idn.CreateIntegrationToken(ctx, "Integration", []string{"CAN_SEND_MESSAGES"})
	if err != nil {
		t.Fatal(err)
	}
	iu, err := s.UserForAccount(ctx, integ)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := s.Send(ctx, iu, "hello from the admin's integration"); err != nil || m == nil {
		t.Errorf("an integration's message in established-user mode: %v, %v", m, err)
	}
}
