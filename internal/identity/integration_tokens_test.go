package identity_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestIntegrationTokenReadback: an integration token is stored only as a
// hash, yet the service can show it again; a token that does not match its
// derivation (issued before, or under another secret) is never shown.
func TestIntegrationTokenReadback(t *testing.T) {
	forEngine(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		db := eng.Open(t)
		s, err := identity.New(ctx, identity.Config{Secret: "first-secret-0123456789", Argon2: fastArgon}, db.Identity(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, tok, raw, err := s.CreateIntegrationToken(ctx, "reader", []string{"HAS_ADMIN_ACCESS"})
		if err != nil {
			t.Fatal(err)
		}
		if tok.Hash != identity.HashToken(raw) || strings.Contains(tok.Hash, raw) {
			t.Fatal("the stored value must be the token's hash")
		}
		list, err := s.ListTokens(ctx, identity.IntegrationToken)
		if err != nil || len(list) != 1 {
			t.Fatalf("list %v %v", list, err)
		}
		got, ok := s.IntegrationTokenValue(list[0])
		if !ok || got != raw {
			t.Fatalf("readback %q %v, want %q", got, ok, raw)
		}
		if _, err := s.AuthenticateToken(ctx, identity.IntegrationToken, got); err != nil {
			t.Fatalf("read-back token must authenticate: %v", err)
		}

		// Another token's hash under the same id: not shown.
		forged := *list[0]
		forged.Hash = identity.HashToken("some random older token")
		if v, ok := s.IntegrationTokenValue(&forged); ok || v != "" {
			t.Fatalf("mismatched hash shown: %q", v)
		}
		// A bot token is never derived.
		bot := *list[0]
		bot.Kind = identity.BotToken
		if _, ok := s.IntegrationTokenValue(&bot); ok {
			t.Fatal("bot token shown")
		}
		// After the signing secret rotates, the old token is not shown (and
		// a wrong value never is).
		rotated, err := identity.New(ctx, identity.Config{Secret: "second-secret-0123456789", Argon2: fastArgon}, db.Identity(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := rotated.IntegrationTokenValue(list[0]); ok || v != "" {
			t.Fatalf("rotated secret shows %q", v)
		}
		// Distinct tokens get distinct values.
		_, _, raw2, err := s.CreateIntegrationToken(ctx, "other", []string{"CAN_SEND_MESSAGES"})
		if err != nil || raw2 == raw {
			t.Fatalf("second token %q %v", raw2, err)
		}
	})
}

// TestScopedTokenRefusalLeavesLastUsed: a token asked for a scope it lacks
// is refused like an unknown one and not marked used; with the scope it is
// authenticated and marked.
func TestScopedTokenRefusalLeavesLastUsed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.OpenSQLite(t)
	s, err := identity.New(ctx, identity.Config{Argon2: fastArgon}, db.Identity(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, raw, err := s.CreateIntegrationToken(ctx, "poster", []string{"CAN_SEND_MESSAGES"})
	if err != nil {
		t.Fatal(err)
	}
	lastUsed := func() *time.Time {
		list, err := s.ListTokens(ctx, identity.IntegrationToken)
		if err != nil || len(list) != 1 {
			t.Fatalf("list %v %v", list, err)
		}
		return list[0].LastUsedAt
	}
	for _, scope := range []string{"HAS_ADMIN_ACCESS", ""} {
		if _, err := s.AuthenticateScopedToken(ctx, identity.IntegrationToken, raw, scope); !errors.Is(err, identity.ErrInvalidToken) {
			t.Fatalf("scope %q: %v, want ErrInvalidToken", scope, err)
		}
	}
	if at := lastUsed(); at != nil {
		t.Fatalf("a refused token was marked used at %v", at)
	}
	if _, err := s.AuthenticateScopedToken(ctx, identity.IntegrationToken, raw, "CAN_SEND_MESSAGES"); err != nil {
		t.Fatal(err)
	}
	if lastUsed() == nil {
		t.Fatal("an allowed call did not mark the token used")
	}
}
