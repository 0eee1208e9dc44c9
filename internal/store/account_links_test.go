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

// TestAccountLinksContract: one account per Discord user, one Discord user
// per account, on every engine.
func TestAccountLinksContract(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			now := time.Now().UTC()
			mk := func(name string) string {
				a := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: name, CreatedAt: now, UpdatedAt: now}
				if err := db.Identity().CreateAccount(ctx, a); err != nil {
					t.Fatal(err)
				}
				return a.ID
			}
			ann, bob := mk("ann"), mk("bob")
			l := db.AccountLinks()
			if _, err := l.AccountLink(ctx, "discord", ann); !errors.Is(err, fault.NotFound) {
				t.Fatalf("no link yet: %v", err)
			}
			if err := l.LinkAccount(ctx, "discord", "111", ann, now); err != nil {
				t.Fatal(err)
			}
			if err := l.LinkAccount(ctx, "discord", "111", ann, now); err != nil {
				t.Fatalf("linking again is a no-op: %v", err)
			}
			if err := l.LinkAccount(ctx, "discord", "111", bob, now); !errors.Is(err, fault.Conflict) {
				t.Fatalf("subject of another account: %v", err)
			}
			if err := l.LinkAccount(ctx, "discord", "222", ann, now); err != nil {
				t.Fatal(err)
			}
			if id, err := l.LinkedAccount(ctx, "discord", "222"); err != nil || id != ann {
				t.Fatalf("relinked: %q %v", id, err)
			}
			if _, err := l.LinkedAccount(ctx, "discord", "111"); !errors.Is(err, fault.NotFound) {
				t.Fatalf("old subject released: %v", err)
			}
			if err := l.LinkAccount(ctx, "discord", "111", bob, now); err != nil {
				t.Fatalf("released subject: %v", err)
			}
			if err := l.UnlinkAccount(ctx, "discord", ann); err != nil {
				t.Fatal(err)
			}
			if err := l.UnlinkAccount(ctx, "discord", ann); !errors.Is(err, fault.NotFound) {
				t.Fatalf("unlink twice: %v", err)
			}
			if err := db.Identity().DeleteAccount(ctx, bob); err != nil {
				t.Fatal(err)
			}
			if _, err := l.LinkedAccount(ctx, "discord", "111"); !errors.Is(err, fault.NotFound) {
				t.Fatalf("link of a deleted account: %v", err)
			}
		})
	}
}
