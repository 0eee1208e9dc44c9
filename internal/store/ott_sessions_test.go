package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

func TestOttSessionStoreContract(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			guest := &identity.Account{ID: identity.NewID(), Kind: identity.Guest, Username: "guest-x", CreatedAt: now, UpdatedAt: now}
			user := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: "user-x", CreatedAt: now, UpdatedAt: now}
			for _, a := range []*identity.Account{guest, user} {
				if err := db.Identity().CreateAccount(ctx, a); err != nil {
					t.Fatal(err)
				}
			}
			st := db.OttSessions()
			live := &store.OTTSession{TokenHash: "live", AccountID: guest.ID, GuestID: guest.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			old := &store.OTTSession{TokenHash: "old", AccountID: guest.ID, GuestID: guest.ID, CreatedAt: now, ExpiresAt: now.Add(-time.Hour)}
			for _, s := range []*store.OTTSession{live, old} {
				if err := st.CreateOttSession(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.CreateOttSession(ctx, live); !errors.Is(err, fault.Conflict) {
				t.Fatalf("duplicate: %v", err)
			}
			live.AccountID, live.ExpiresAt = user.ID, now.Add(240*24*time.Hour)
			if err := st.UpdateOttSession(ctx, live); err != nil {
				t.Fatal(err)
			}
			got, err := st.OttSessionByHash(ctx, "live")
			if err != nil || got.AccountID != user.ID || got.GuestID != guest.ID || !got.ExpiresAt.Equal(live.ExpiresAt) {
				t.Fatalf("by hash: %+v %v", got, err)
			}
			if n, err := st.DeleteExpiredOttSessions(ctx, now); err != nil || n != 1 {
				t.Fatalf("expire: %d %v", n, err)
			}
			if _, err := st.OttSessionByHash(ctx, "old"); !errors.Is(err, fault.NotFound) {
				t.Fatalf("expired session still there: %v", err)
			}
		})
	}
}
