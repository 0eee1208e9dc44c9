package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestSignOutChatTokens: signing out an account's Owncast chat tokens
// deletes every token that acts as it and no other account's.
func TestSignOutChatTokens(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			user := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: "user-c", CreatedAt: now, UpdatedAt: now}
			other := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: "user-d", CreatedAt: now, UpdatedAt: now}
			for _, a := range []*identity.Account{user, other} {
				if err := db.Identity().CreateAccount(ctx, a); err != nil {
					t.Fatal(err)
				}
			}
			for h, a := range map[string]string{"u1": user.ID, "u2": user.ID, "o1": other.ID} {
				if err := db.StageChat().CreateChatToken(ctx, h, a, "", now); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Identity().SignOutChatTokens(ctx, user.ID); err != nil {
				t.Fatal(err)
			}
			for _, h := range []string{"u1", "u2"} {
				if _, err := db.StageChat().ChatTokenAccount(ctx, h); !errors.Is(err, fault.NotFound) {
					t.Errorf("%s: %v, want NotFound", h, err)
				}
			}
			if id, err := db.StageChat().ChatTokenAccount(ctx, "o1"); err != nil || id != other.ID {
				t.Errorf("another account's token: %q %v", id, err)
			}
		})
	}
}
