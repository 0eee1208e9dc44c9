package stagechat_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// TestModeratorSetEnabledLimits: a chat moderator removes and restores
// guests, but neither removes the instance admin or a signed-up account nor
// restores a signed-up account (the admin may have disabled it anywhere);
// a chat user with no account is the moderator's.
func TestModeratorSetEnabledLimits(t *testing.T) {
	t.Parallel()
	s, _, idn := newService(t, stagechat.PresenceConfig{})
	ctx := context.Background()
	register := func(name string) *identity.Account {
		t.Helper()
		a, err := idn.Register(ctx, identity.RegisterInput{Username: name, Password: "correct horse"})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	admin := register("boss")
	admin.IsAdmin = true
	if err := idn.UpdateAdminState(ctx, admin.ID, &admin.IsAdmin, nil); err != nil {
		t.Fatal(err)
	}
	fan, off := register("fan"), register("off")
	if _, err := idn.SetDisabled(ctx, off.ID, true); err != nil {
		t.Fatal(err)
	}
	guest, _, err := s.Register(ctx, "visitor", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	gone, _, err := s.Register(ctx, "leaver", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := idn.DeleteAccount(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		id      string
		enabled bool
		want    error
	}{
		{"remove the admin", admin.ID, false, stagechat.ErrModeratorRemovesAdmin},
		{"remove a signed-up account", fan.ID, false, stagechat.ErrModeratorRemovesAccount},
		{"restore a disabled signed-up account", off.ID, true, stagechat.ErrModeratorEnablesAccount},
		{"enable an enabled signed-up account", fan.ID, true, nil},
		{"remove a guest", guest.ID, false, nil},
		{"restore a guest", guest.ID, true, nil},
		{"remove a user with no account", gone.ID, false, nil},
	} {
		if err := s.MayModeratorSetEnabled(ctx, tc.id, tc.enabled); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
