package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestProfileEditKeepsPrivilegedFields: a profile edit made from a read
// taken before an admin demoted and disabled the account, and before its
// password changed, does not write the old admin role, disabled state or
// password hash back, on every engine. UpdateAccount wrote every column
// from the caller's copy, so a user's own edit racing an admin's demotion
// silently undid it.
func TestProfileEditKeepsPrivilegedFields(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			st := eng.Open(t).Identity()
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			mk := func(name string) *identity.Account {
				t.Helper()
				a := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: name, IsAdmin: true,
					PasswordHash: "old", CreatedAt: now, UpdatedAt: now}
				if err := st.CreateAccount(ctx, a); err != nil {
					t.Fatal(err)
				}
				return a
			}
			mk("boss")
			mole := mk("mole")
			stale, err := st.AccountByID(ctx, mole.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.SetAdmin(ctx, mole.ID, false, now); err != nil {
				t.Fatal(err)
			}
			if err := st.SetDisabled(ctx, mole.ID, &now, now); err != nil {
				t.Fatal(err)
			}
			if err := st.SetPasswordHash(ctx, mole.ID, "new", now); err != nil {
				t.Fatal(err)
			}
			stale.DisplayName, stale.AvatarURL = "Mole", "https://example.org/m.png"
			if err := st.UpdateProfile(ctx, stale); err != nil {
				t.Fatal(err)
			}
			got, err := st.AccountByID(ctx, mole.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.IsAdmin || !got.Disabled() || !got.DisabledAt.Equal(now) || got.PasswordHash != "new" {
				t.Fatalf("the stale profile edit undid the admin's change: admin %v, disabled %v, hash %q",
					got.IsAdmin, got.DisabledAt, got.PasswordHash)
			}
			if got.DisplayName != "Mole" || got.AvatarURL != "https://example.org/m.png" {
				t.Fatalf("the profile edit was lost: %+v", got)
			}

			// And the other way: a stale copy that says disabled and not
			// admin does not undo a re-enable and a promotion.
			if err := st.SetDisabled(ctx, mole.ID, nil, now); err != nil {
				t.Fatal(err)
			}
			if err := st.SetAdmin(ctx, mole.ID, true, now); err != nil {
				t.Fatal(err)
			}
			got.DisplayName = "Mole 2"
			if err := st.UpdateProfile(ctx, got); err != nil {
				t.Fatal(err)
			}
			if again, _ := st.AccountByID(ctx, mole.ID); !again.IsAdmin || again.Disabled() || again.DisplayName != "Mole 2" {
				t.Fatalf("the stale profile edit undid the re-enable: %+v", again)
			}
		})
	}
}
