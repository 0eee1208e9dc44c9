package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/stagechat"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

func TestOwncastAuthStore(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			var accts []string
			for _, name := range []string{"a1", "a2"} {
				a := &identity.Account{ID: identity.NewID(), Kind: identity.Guest, Username: name, CreatedAt: now, UpdatedAt: now}
				if err := db.Identity().CreateAccount(ctx, a); err != nil {
					t.Fatal(err)
				}
				accts = append(accts, a.ID)
			}
			st := db.StageChat()
			r := &stagechat.AuthRequest{State: "s1", AccountID: accts[0], TokenHash: "h1", DisplayName: "x", Me: "https://me.example/",
				Endpoint: "https://me.example/auth", RedirectURI: "https://stage.example/cb", ClientID: "https://stage.example",
				CodeVerifier: "v", CreatedAt: now}
			if err := st.CreateAuthRequest(ctx, r); err != nil {
				t.Fatal(err)
			}
			old := *r
			old.State, old.CreatedAt = "s0", now.Add(-time.Hour)
			if err := st.CreateAuthRequest(ctx, &old); err != nil {
				t.Fatal(err)
			}
			if n, err := st.PendingAuthRequests(ctx, now.Add(-10*time.Minute)); err != nil || n != 1 {
				t.Fatalf("pending %d %v", n, err)
			}
			got, err := st.TakeAuthRequest(ctx, "s1")
			if err != nil || *got != *r {
				t.Fatalf("take %+v %v", got, err)
			}
			if _, err := st.TakeAuthRequest(ctx, "s1"); !errors.Is(err, fault.NotFound) {
				t.Fatalf("second take: %v", err)
			}
			if err := st.LinkAuth(ctx, stagechat.ProviderIndieAuth, "https://me.example", accts[0], now); err != nil {
				t.Fatal(err)
			}
			if err := st.LinkAuth(ctx, stagechat.ProviderIndieAuth, "https://me.example", accts[1], now); !errors.Is(err, fault.Conflict) {
				t.Fatalf("second link: %v", err)
			}
			if id, err := st.AuthAccount(ctx, stagechat.ProviderIndieAuth, "https://me.example"); err != nil || id != accts[0] {
				t.Fatalf("auth account %q %v", id, err)
			}
			if _, err := st.AuthAccount(ctx, stagechat.ProviderIndieAuth, "' OR 1=1--"); !errors.Is(err, fault.NotFound) {
				t.Fatalf("unknown identity: %v", err)
			}
			if err := st.CreateChatToken(ctx, "tokhash", accts[1], "", now); err != nil {
				t.Fatal(err)
			}
			if err := st.SetChatTokenAccount(ctx, "tokhash", accts[0]); err != nil {
				t.Fatal(err)
			}
			if id, _ := st.ChatTokenAccount(ctx, "tokhash"); id != accts[0] {
				t.Fatalf("token owner %q", id)
			}
			if err := st.SetChatTokenAccount(ctx, "missing", accts[0]); !errors.Is(err, fault.NotFound) {
				t.Fatalf("missing token: %v", err)
			}
		})
	}
}
