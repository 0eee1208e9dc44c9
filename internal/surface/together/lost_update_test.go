package together_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// heldProfiles holds the next profile write once armed, until the test
// lets it go: the write then runs with the account as the request read it.
type heldProfiles struct {
	identity.Store
	armed   *atomic.Bool
	reached chan struct{}
	release chan struct{}
}

func (s heldProfiles) UpdateProfile(ctx context.Context, a *identity.Account) error {
	if s.armed.CompareAndSwap(true, false) {
		close(s.reached)
		<-s.release
	}
	return s.Store.UpdateProfile(ctx, a)
}

// TestOwnProfileEditDoesNotUndoDemotion: a user's PATCH /users/@me that
// read the account before an admin's PATCH /api/admin/users/:id demoted
// and disabled it, and writes after, leaves the account demoted and
// disabled, on every engine. The edit wrote every column of the row from
// its old read, so the demotion and the disable were silently undone.
func TestOwnProfileEditDoesNotUndoDemotion(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			held := heldProfiles{Store: db.Identity(), armed: &atomic.Bool{}, reached: make(chan struct{}), release: make(chan struct{})}
			e := newNodeOver(t, db, bus.NewLocal(), held, db.Community())
			ctx := t.Context()
			root, mole := e.register("root"), e.register("mole")
			yes := true
			for _, id := range []string{root.id, mole.id} {
				if err := e.ident.UpdateAdminState(ctx, id, &yes, nil); err != nil {
					t.Fatal(err)
				}
			}

			held.armed.Store(true)
			edit := make(chan int, 1)
			go func() {
				resp, err := http.DefaultClient.Do(e.jsonReq("PATCH", "/users/@me", mole.access,
					map[string]any{"avatar_url": "https://example.org/m.png"}))
				if err != nil {
					edit <- 0
					return
				}
				resp.Body.Close()
				edit <- resp.StatusCode
			}()
			<-held.reached // the edit has read the account and is about to write
			e.must(200, "PATCH", "/api/admin/users/"+mole.id, root.access, map[string]any{"is_admin": false, "disabled": true})
			close(held.release)
			if code := <-edit; code != 200 {
				t.Fatalf("PATCH /users/@me: status %d", code)
			}

			got, err := e.ident.Account(ctx, mole.id)
			if err != nil {
				t.Fatal(err)
			}
			if got.IsAdmin || !got.Disabled() {
				t.Fatalf("the profile edit undid the admin's change: admin %v, disabled %v", got.IsAdmin, got.DisabledAt)
			}
			if got.AvatarURL != "https://example.org/m.png" {
				t.Fatalf("the profile edit was lost: avatar %q", got.AvatarURL)
			}
		})
	}
}
