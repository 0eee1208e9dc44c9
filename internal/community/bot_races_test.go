package community_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestBotEditFromOldReadKeepsRevocation: a bot edit (rename) made from a
// read taken before the bot's token was regenerated, or before the bot was
// revoked, writes neither the old token nor "not revoked" back, on every
// engine; and two regenerations from the same read leave no live token the
// bot's revoke cannot reach. The bot row was written whole from the
// caller's copy, so a rename racing a regenerate pointed the bot at its old
// token, and the revoke that followed left the new one working.
func TestBotEditFromOldReadKeepsRevocation(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			ids, err := identity.New(ctx, identity.Config{Secret: strings.Repeat("s", 40),
				Argon2: identity.Argon2Params{Memory: 1024, Time: 1, Threads: 1}}, db.Identity(), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			bots, err := community.NewBots(db.TogetherBots(), ids)
			if err != nil {
				t.Fatal(err)
			}
			owner, err := ids.Register(ctx, identity.RegisterInput{Username: "owner", Password: "password1"})
			if err != nil {
				t.Fatal(err)
			}
			live := func(raw string) bool {
				t.Helper()
				_, err := ids.AuthenticateToken(ctx, identity.BotToken, raw)
				return err == nil
			}
			b, _, err := bots.Create(ctx, owner.ID, "Deploy", nil)
			if err != nil {
				t.Fatal(err)
			}
			read := func() *community.Bot {
				t.Helper()
				got, err := bots.Get(ctx, owner.ID, b.ID)
				if err != nil {
					t.Fatal(err)
				}
				return got
			}

			// A rename from a read older than a regenerate, then a revoke.
			stale, fresh := read(), read()
			raw, err := bots.Regenerate(ctx, fresh)
			if err != nil || !live(raw) {
				t.Fatalf("regenerate: %v", err)
			}
			if err := bots.Update(ctx, stale, str("Renamed"), nil); err != nil {
				t.Fatal(err)
			}
			if err := bots.Revoke(ctx, read()); err != nil {
				t.Fatal(err)
			}
			if live(raw) {
				t.Fatal("the regenerated token works after the revoke: the rename wrote the old token back")
			}

			// A rename from a read older than the revoke.
			b, _, err = bots.Create(ctx, owner.ID, "Second", nil)
			if err != nil {
				t.Fatal(err)
			}
			stale = read()
			if err := bots.Revoke(ctx, read()); err != nil {
				t.Fatal(err)
			}
			if err := bots.Update(ctx, stale, str("Renamed"), nil); !errors.Is(err, community.ErrBotRevokedEdit) {
				t.Fatalf("rename after the revoke: %v, want ErrBotRevokedEdit", err)
			}
			if got := read(); got.RevokedAt == nil || got.Name != "Second" {
				t.Fatalf("the rename undid the revoke: %+v", got)
			}
			if _, err := bots.Regenerate(ctx, read()); !errors.Is(err, community.ErrBotRevoked) {
				t.Fatalf("regenerate a revoked bot: %v", err)
			}

			// Two regenerations from one read: the second finds the token
			// changed and its own token is revoked, not left live.
			b, _, err = bots.Create(ctx, owner.ID, "Third", nil)
			if err != nil {
				t.Fatal(err)
			}
			one, two := read(), read()
			raw1, err := bots.Regenerate(ctx, one)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bots.Regenerate(ctx, two); err == nil {
				t.Fatal("a second regenerate from the same read succeeded")
			}
			if err := bots.Revoke(ctx, read()); err != nil {
				t.Fatal(err)
			}
			if live(raw1) {
				t.Fatal("a token works after the revoke")
			}
			tokens, err := ids.Store().ListTokens(ctx, identity.BotToken)
			if err != nil {
				t.Fatal(err)
			}
			for _, tk := range tokens {
				if tk.RevokedAt == nil {
					t.Fatalf("a bot token is still live after every bot was revoked: %+v", tk)
				}
			}
		})
	}
}
