package ott_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

// TestSweepExpiredGuests: once an anonymous token has gone unused past its
// lifetime its guest account is deleted, as Redis drops OTT's anonymous
// session, except while that guest is in a room on any node; a registered
// account behind an expired token stays, and live tokens are untouched.
func TestSweepExpiredGuests(t *testing.T) {
	t.Parallel()
	for name, build := range clusters(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n1, n2 := build(t)
			ctx := context.Background()
			idle, watching, member, fresh, observer := n1.grant(), n2.grant(), n1.grant(), n1.grant(), n2.grant()
			if r := n1.do("POST", "/api/user/register", member, map[string]any{"username": "sweepme" + name[:2], "password": "Passw0rdLong"}); r.status != 201 {
				t.Fatalf("register: %d %s", r.status, r.raw)
			}
			// The room runs on node 2; the sweep runs on node 1.
			n2.createRoom(observer, "sweeproom", nil)
			obs, _ := n2.join("sweeproom", observer)
			w, wID := n2.join("sweeproom", watching)

			session := func(tok string) (accountID, guestID string) {
				t.Helper()
				s, err := n1.db.OttSessions().OttSessionByHash(ctx, identity.HashToken(tok))
				if err != nil {
					t.Fatal(err)
				}
				return s.AccountID, s.GuestID
			}
			_, idleGuest := session(idle)
			_, watchingGuest := session(watching)
			memberAccount, memberGuest := session(member)
			_, freshGuest := session(fresh)
			// Their tokens' lifetimes run out (fresh and observer stay valid).
			for _, tok := range []string{idle, watching, member} {
				s, err := n1.db.OttSessions().OttSessionByHash(ctx, identity.HashToken(tok))
				if err != nil {
					t.Fatal(err)
				}
				s.ExpiresAt = time.Now().Add(-time.Minute)
				if err := n1.db.OttSessions().UpdateOttSession(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			exists := func(id string) bool {
				t.Helper()
				_, err := n1.id.Account(ctx, id)
				if err != nil && !errors.Is(err, fault.NotFound) {
					t.Fatal(err)
				}
				return err == nil
			}

			if n, err := n1.ott.Sweep(ctx); err != nil || n != 2 {
				t.Fatalf("first sweep deleted %d (%v), want 2", n, err)
			}
			for _, c := range []struct {
				what string
				id   string
				want bool
			}{
				{"idle guest", idleGuest, false},
				{"guest of a token now signed in", memberGuest, false},
				{"registered account", memberAccount, true},
				{"guest watching on node 2", watchingGuest, true},
				{"guest with a live token", freshGuest, true},
			} {
				if got := exists(c.id); got != c.want {
					t.Errorf("%s exists = %v, want %v", c.what, got, c.want)
				}
			}
			if r := n1.do("GET", "/api/user", idle, nil); r.status != 401 {
				t.Errorf("expired token: %d %s", r.status, r.raw)
			}

			// The watcher leaves; the next sweep takes its guest.
			w.c.CloseNow()
			obs.until("user", func(m map[string]any) bool {
				u := m["update"].(map[string]any)
				return u["kind"] == "remove" && u["value"] == wID
			})
			if n, err := n1.ott.Sweep(ctx); err != nil || n != 1 {
				t.Fatalf("second sweep deleted %d (%v), want 1", n, err)
			}
			if exists(watchingGuest) {
				t.Error("guest that left the room was not deleted")
			}
			if !exists(freshGuest) || !exists(memberAccount) {
				t.Error("second sweep deleted a live guest or a registered account")
			}
			if _, err := n1.db.OttSessions().OttSessionByHash(ctx, identity.HashToken(watching)); !errors.Is(err, fault.NotFound) {
				t.Errorf("expired session of a deleted guest: %v", err)
			}
		})
	}
}
