package identity_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestBotStopsWithItsMaker: a bot acts for the account that made it, so
// while the admin has disabled that account its bot token, the access
// token exchanged from it and the TURN check all refuse it, and the bot's
// sockets are told to close (a revocation naming the bot); re-enabled, the
// bot works again; once its maker is deleted, it never does. Before, a
// disabled or deleted account's bots went on posting, joining servers and
// opening DMs.
func TestBotStopsWithItsMaker(t *testing.T) {
	forEngine(t, func(t *testing.T, eng storetest.Engine) {
		s, rec, _ := newService(t, eng)
		ctx := context.Background()
		maker, err := s.Register(ctx, identity.RegisterInput{Username: "maker", Password: "password1"})
		if err != nil {
			t.Fatal(err)
		}
		bot, tok, raw, err := s.CreateBot(ctx, maker.ID, "makerbot", "Maker's bot")
		if err != nil {
			t.Fatal(err)
		}
		works := func() error {
			t.Helper()
			p, err := s.AuthenticateToken(ctx, identity.BotToken, raw)
			if err != nil {
				return err
			}
			access, _, err := s.ExchangeBotToken(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Authenticate(ctx, access); err != nil {
				t.Fatalf("the bot token works but its access token does not: %v", err)
			}
			if !s.StillValid(ctx, bot.ID, "", tok.ID) {
				t.Fatal("the bot token works but StillValid says no")
			}
			return nil
		}
		if err := works(); err != nil {
			t.Fatalf("a live maker's bot: %v", err)
		}
		p, err := s.AuthenticateToken(ctx, identity.BotToken, raw)
		if err != nil {
			t.Fatal(err)
		}
		access, _, err := s.ExchangeBotToken(ctx, p)
		if err != nil {
			t.Fatal(err)
		}

		if _, err := s.SetDisabled(ctx, maker.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AuthenticateToken(ctx, identity.BotToken, raw); !errors.Is(err, identity.ErrAccountDisabled) {
			t.Errorf("a disabled maker's bot token: %v, want ErrAccountDisabled", err)
		}
		if _, err := s.Authenticate(ctx, access); !errors.Is(err, identity.ErrAccountDisabled) {
			t.Errorf("a disabled maker's bot access token: %v, want ErrAccountDisabled", err)
		}
		if s.StillValid(ctx, bot.ID, "", tok.ID) {
			t.Error("a disabled maker's bot is still valid for TURN")
		}
		if !rec.has(identity.Revoked{AccountID: bot.ID}) {
			t.Error("the bot's sockets were not told to close when its maker was disabled")
		}

		if _, err := s.SetDisabled(ctx, maker.ID, false); err != nil {
			t.Fatal(err)
		}
		if err := works(); err != nil {
			t.Fatalf("a re-enabled maker's bot: %v", err)
		}

		if err := s.DeleteAccount(ctx, maker.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AuthenticateToken(ctx, identity.BotToken, raw); !errors.Is(err, identity.ErrInvalidToken) {
			t.Errorf("a deleted maker's bot token: %v, want ErrInvalidToken", err)
		}
		if _, err := s.Authenticate(ctx, access); !errors.Is(err, identity.ErrInvalidToken) {
			t.Errorf("a deleted maker's bot access token: %v, want ErrInvalidToken", err)
		}
	})
}
