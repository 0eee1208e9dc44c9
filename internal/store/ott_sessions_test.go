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

// TestRevokeAccountSessionsSignsOutOttTokens: revoking an account's
// sessions (a password change, a disable) also signs out every OTT token
// signed in to it, each back to its own guest, but the one it is told to
// keep; other accounts' tokens, and tokens that are their own guest, stay.
func TestRevokeAccountSessionsSignsOutOttTokens(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			var accts []*identity.Account
			for _, n := range []string{"g1", "g2", "g3", "g4"} {
				accts = append(accts, &identity.Account{ID: identity.NewID(), Kind: identity.Guest, Username: "guest-" + n, CreatedAt: now, UpdatedAt: now})
			}
			user := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: "user-y", CreatedAt: now, UpdatedAt: now}
			other := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: "user-z", CreatedAt: now, UpdatedAt: now}
			for _, a := range append(accts, user, other) {
				if err := db.Identity().CreateAccount(ctx, a); err != nil {
					t.Fatal(err)
				}
			}
			st := db.OttSessions()
			sess := map[string]*store.OTTSession{
				"stolen": {TokenHash: "stolen", AccountID: user.ID, GuestID: accts[0].ID},
				"kept":   {TokenHash: "kept", AccountID: user.ID, GuestID: accts[1].ID},
				"other":  {TokenHash: "other", AccountID: other.ID, GuestID: accts[2].ID},
				"guest":  {TokenHash: "guest", AccountID: accts[3].ID, GuestID: accts[3].ID},
			}
			for _, s := range sess {
				s.CreatedAt, s.ExpiresAt = now, now.Add(time.Hour)
				if err := st.CreateOttSession(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Identity().RevokeAccountSessions(ctx, user.ID, now, "kept"); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"stolen": accts[0].ID, "kept": user.ID, "other": other.ID, "guest": accts[3].ID}
			for h, acct := range want {
				got, err := st.OttSessionByHash(ctx, h)
				if err != nil || got.AccountID != acct {
					t.Errorf("%s: %+v %v, want account %s", h, got, err, acct)
				}
			}
			if err := db.Identity().RevokeAccountSessions(ctx, user.ID, now, ""); err != nil {
				t.Fatal(err)
			}
			if got, err := st.OttSessionByHash(ctx, "kept"); err != nil || got.AccountID != accts[1].ID {
				t.Errorf("kept, revoked again keeping none: %+v %v", got, err)
			}
		})
	}
}
