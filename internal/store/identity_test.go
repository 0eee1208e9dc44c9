package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestIdentityStoreContract runs the identity store contract on every engine.
func TestIdentityStoreContract(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			st := eng.Open(t).Identity()
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			email := "Ann@Example.org"
			a := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: "Ann", Email: &email,
				PasswordHash: "h", CreatedAt: now, UpdatedAt: now}
			if err := st.CreateAccount(ctx, a); err != nil {
				t.Fatal(err)
			}
			dup := *a
			dup.ID = identity.NewID()
			dup.Username = "ANN"
			dup.Email = nil
			if err := st.CreateAccount(ctx, &dup); !errors.Is(err, fault.Conflict) {
				t.Fatalf("duplicate username (case-folded): got %v, want conflict", err)
			}
			got, err := st.AccountByUsername(ctx, "aNN")
			if err != nil || got.ID != a.ID || !got.CreatedAt.Equal(now) || got.Username != "Ann" {
				t.Fatalf("by username: %+v %v", got, err)
			}
			if got, err := st.AccountByEmail(ctx, "ann@EXAMPLE.org"); err != nil || got.ID != a.ID || *got.Email != "Ann@Example.org" {
				t.Fatalf("by email (found ignoring case, returned as typed): %+v %v", got, err)
			}
			other, otherEmail := *a, "ANN@example.ORG"
			other.ID, other.Username, other.Email = identity.NewID(), "Other", &otherEmail
			if err := st.CreateAccount(ctx, &other); !errors.Is(err, fault.Conflict) {
				t.Fatalf("duplicate email (case-folded): got %v, want conflict", err)
			}
			if _, err := st.AccountByID(ctx, "nope' OR 1=1--"); !errors.Is(err, fault.NotFound) {
				t.Fatalf("missing account: %v", err)
			}
			if any, _ := st.AnyAdmin(ctx); any {
				t.Fatal("no admin yet")
			}
			if err := st.SetDisabled(ctx, a.ID, &now, now); err != nil {
				t.Fatal(err)
			}
			if err := st.SetAdmin(ctx, a.ID, true, now); err != nil {
				t.Fatal(err)
			}
			if any, _ := st.AnyAdmin(ctx); !any {
				t.Fatal("admin expected")
			}
			got, _ = st.AccountByID(ctx, a.ID)
			if !got.Disabled() || !got.IsAdmin || *got.Email != "Ann@Example.org" {
				t.Fatalf("update lost: %+v", got)
			}
			if n, _ := st.CountAccounts(ctx, identity.Registered); n != 1 {
				t.Fatalf("count = %d", n)
			}

			s := &identity.Session{ID: identity.NewID(), AccountID: a.ID, RefreshHash: "h1", CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := st.CreateSession(ctx, s, 3); err != nil {
				t.Fatal(err)
			}
			// SessionAccount: the session and its account in one query,
			// every field as the two lookups give them.
			ga, gs, err := st.SessionAccount(ctx, s.ID)
			wantA, _ := st.AccountByID(ctx, a.ID)
			wantS, _ := st.SessionByID(ctx, s.ID)
			if err != nil || ga.ID != a.ID || ga.Username != wantA.Username || *ga.Email != *wantA.Email || ga.PasswordHash != wantA.PasswordHash ||
				ga.IsAdmin != wantA.IsAdmin || !ga.Disabled() || !ga.CreatedAt.Equal(wantA.CreatedAt) || !ga.UpdatedAt.Equal(wantA.UpdatedAt) ||
				gs.ID != s.ID || gs.AccountID != a.ID || gs.RefreshHash != wantS.RefreshHash || !gs.ExpiresAt.Equal(wantS.ExpiresAt) || gs.RevokedAt != nil {
				t.Fatalf("session account: %+v %+v %v; want %+v %+v", ga, gs, err, wantA, wantS)
			}
			if _, _, err := st.SessionAccount(ctx, identity.NewID()); !errors.Is(err, fault.NotFound) {
				t.Fatalf("session account of a missing session: %v", err)
			}
			if r, err := st.LastRotation(ctx, s.ID, now); err != nil || r != (identity.Rotation{}) {
				t.Fatalf("a session never rotated: %+v %v", r, err)
			}
			rot := identity.Rotation{From: "h1", Pair: "sealed", Client: "c1", Until: now.Add(10 * time.Second).Truncate(time.Microsecond)}
			if ok, err := st.RotateSession(ctx, s.ID, "h1", "h2", now, now.Add(time.Hour), rot); !ok || err != nil {
				t.Fatalf("rotate: %v %v", ok, err)
			}
			if r, err := st.LastRotation(ctx, s.ID, now); err != nil || r.From != rot.From || r.Pair != rot.Pair || r.Client != rot.Client || !r.Until.Equal(rot.Until) {
				t.Fatalf("last rotation: %+v %v, want %+v", r, err, rot)
			}
			// A failed compare-and-set records nothing.
			if ok, _ := st.RotateSession(ctx, s.ID, "h1", "h3", now, now.Add(time.Hour), identity.Rotation{From: "h1", Pair: "other"}); ok {
				t.Fatal("rotation with a stale hash must fail")
			}
			if r, _ := st.LastRotation(ctx, s.ID, now); r.Pair != rot.Pair {
				t.Fatalf("a failed rotation was recorded: %+v", r)
			}
			if _, err := st.LastRotation(ctx, s.ID, now.Add(2*time.Hour)); !errors.Is(err, fault.NotFound) {
				t.Fatalf("last rotation of an expired session: %v", err)
			}
			if err := st.RevokeAccountSessions(ctx, a.ID, now, ""); err != nil {
				t.Fatal(err)
			}
			if _, gs, err := st.SessionAccount(ctx, s.ID); err != nil || gs.RevokedAt == nil {
				t.Fatalf("session account of a revoked session: %+v %v", gs, err)
			}
			if ok, _ := st.RotateSession(ctx, s.ID, "h2", "h4", now, now.Add(time.Hour), identity.Rotation{}); ok {
				t.Fatal("rotation of a revoked session must fail")
			}
			if _, err := st.LastRotation(ctx, s.ID, now); !errors.Is(err, fault.NotFound) {
				t.Fatalf("last rotation of a revoked session: %v", err)
			}

			// An account keeps its newest sessions: three more with a
			// bound of 3 leave those three, and s (revoked, the oldest) goes.
			var newest []string
			for i := range 3 {
				at := now.Add(time.Duration(i+1) * time.Second)
				x := &identity.Session{ID: identity.NewID(), AccountID: a.ID, RefreshHash: fmt.Sprint("n", i), CreatedAt: at, LastUsedAt: at, ExpiresAt: at.Add(time.Hour)}
				if err := st.CreateSession(ctx, x, 3); err != nil {
					t.Fatal(err)
				}
				newest = append(newest, x.ID)
			}
			if _, err := st.SessionByID(ctx, s.ID); !errors.Is(err, fault.NotFound) {
				t.Fatalf("the oldest session past the bound: %v, want it gone", err)
			}
			for _, id := range newest {
				if _, err := st.SessionByID(ctx, id); err != nil {
					t.Fatalf("a session within the bound: %v", err)
				}
			}

			tok := &identity.Token{ID: identity.NewID(), AccountID: a.ID, Kind: identity.IntegrationToken, Name: "bot",
				Hash: "th", Scopes: []string{"CAN_SEND_MESSAGES", "HAS_ADMIN_ACCESS"}, CreatedAt: now}
			if err := st.CreateToken(ctx, tok); err != nil {
				t.Fatal(err)
			}
			gt, err := st.TokenByHash(ctx, "th")
			if err != nil || len(gt.Scopes) != 2 || !gt.HasScope("HAS_ADMIN_ACCESS") {
				t.Fatalf("token: %+v %v", gt, err)
			}
			if err := st.RevokeToken(ctx, tok.ID, now); err != nil {
				t.Fatal(err)
			}
			if gt, _ := st.TokenByID(ctx, tok.ID); gt.RevokedAt == nil {
				t.Fatal("revoked_at not set")
			}
			if err := st.RevokeToken(ctx, "missing", now); !errors.Is(err, fault.NotFound) {
				t.Fatalf("revoke missing: %v", err)
			}
			if list, _ := st.ListTokens(ctx, identity.IntegrationToken); len(list) != 1 {
				t.Fatalf("list tokens: %d", len(list))
			}

			v1, err := st.SetInstanceValueOnce(ctx, "k", "first")
			if err != nil || v1 != "first" {
				t.Fatalf("kv once: %q %v", v1, err)
			}
			if v2, _ := st.SetInstanceValueOnce(ctx, "k", "second"); v2 != "first" {
				t.Fatalf("kv once overwrote: %q", v2)
			}
			if err := st.SetInstanceValue(ctx, "k", "third"); err != nil {
				t.Fatal(err)
			}
			if v, _ := st.InstanceValue(ctx, "k"); v != "third" {
				t.Fatalf("kv set: %q", v)
			}
		})
	}
}
