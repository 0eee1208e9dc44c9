package app

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestEnabledMembersInstanceAdmin: the stage-channel rules' view of
// identity tells the WebRTC recheck who is an instance admin (who opened a
// WHEP session on any stage channel, a member of its community or not, and
// keeps it): an admin who may act, not one disabled since, not another
// account, not an unknown id.
func TestEnabledMembersInstanceAdmin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.OpenSQLite(t)
	b := bus.NewLocal()
	t.Cleanup(func() { _ = b.Close() })
	ids, err := identity.New(ctx, identity.Config{}, db.Identity(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	mk := func(name string, admin bool) string {
		t.Helper()
		a := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: name, IsAdmin: admin, CreatedAt: now, UpdatedAt: now}
		if err := db.Identity().CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	admin, user := mk("admin", true), mk("user", false)
	mk("another-admin", true) // so that admin may be disabled
	m := enabledMembers{&App{Identity: ids}}
	for _, c := range []struct {
		name, id string
		want     bool
	}{{"the admin", admin, true}, {"a user", user, false}, {"an unknown id", identity.NewID(), false}} {
		if got, err := m.InstanceAdmin(ctx, c.id); err != nil || got != c.want {
			t.Errorf("%s: %v %v, want %v", c.name, got, err, c.want)
		}
	}
	if _, err := ids.SetDisabled(ctx, admin, true); err != nil {
		t.Fatal(err)
	}
	if got, err := m.InstanceAdmin(ctx, admin); err != nil || got {
		t.Errorf("a disabled admin: %v %v, want false", got, err)
	}
}
