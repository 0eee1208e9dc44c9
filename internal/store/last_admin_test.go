package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestLastActiveAdminKept: SetAdmin, SetDisabled and DeleteAccount refuse, with
// identity.ErrLastAdmin, to demote, disable or delete the last active
// admin, also when writes to different admins race, on every engine; a
// write that keeps an admin active, or touches no active admin, is not
// held back.
func TestLastActiveAdminKept(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			st := eng.Open(t).Identity()
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			mk := func(name string, admin bool) *identity.Account {
				t.Helper()
				a := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: name, IsAdmin: admin,
					PasswordHash: "h", CreatedAt: now, UpdatedAt: now}
				if err := st.CreateAccount(ctx, a); err != nil {
					t.Fatal(err)
				}
				return a
			}
			activeAdmins := func() int {
				t.Helper()
				all, err := st.Admins(ctx)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, a := range all {
					if !a.Disabled() {
						n++
					}
				}
				return n
			}

			// One at a time.
			boss, guest := mk("boss", true), mk("guest", false)
			if err := st.SetDisabled(ctx, guest.ID, &now, now); err != nil {
				t.Fatalf("disable a non-admin: %v", err)
			}
			boss.DisplayName = "Boss"
			if err := st.UpdateProfile(ctx, boss, identity.ProfileDisplayName); err != nil {
				t.Fatalf("rename the admin: %v", err)
			}
			if err := st.SetAdmin(ctx, boss.ID, true, now); err != nil {
				t.Fatalf("promote the admin again: %v", err)
			}
			if err := st.SetDisabled(ctx, boss.ID, nil, now); err != nil {
				t.Fatalf("enable the enabled admin: %v", err)
			}
			if err := st.SetAdmin(ctx, boss.ID, false, now); !errors.Is(err, identity.ErrLastAdmin) {
				t.Errorf("demote the last admin: %v, want ErrLastAdmin", err)
			}
			if err := st.SetDisabled(ctx, boss.ID, &now, now); !errors.Is(err, identity.ErrLastAdmin) {
				t.Errorf("disable the last admin: %v, want ErrLastAdmin", err)
			}
			if err := st.DeleteAccount(ctx, boss.ID); !errors.Is(err, identity.ErrLastAdmin) {
				t.Errorf("delete the last admin: %v, want ErrLastAdmin", err)
			}
			ghost := identity.NewID()
			for name, err := range map[string]error{"demote": st.SetAdmin(ctx, ghost, false, now),
				"disable": st.SetDisabled(ctx, ghost, &now, now), "promote": st.SetAdmin(ctx, ghost, true, now),
				"profile":  st.UpdateProfile(ctx, &identity.Account{ID: ghost, Username: "ghost"}, identity.ProfileUsername),
				"password": st.SetPasswordHash(ctx, ghost, "h", now)} {
				if !errors.Is(err, fault.NotFound) {
					t.Errorf("%s an unknown account: %v, want not found", name, err)
				}
			}
			if got, _ := st.AccountByID(ctx, boss.ID); !got.IsAdmin || got.Disabled() || got.DisplayName != "Boss" {
				t.Fatalf("the refused writes changed the admin: %+v", got)
			}
			deputy := mk("deputy", true)
			if err := st.SetAdmin(ctx, boss.ID, false, now); err != nil {
				t.Fatalf("demote with another admin: %v", err)
			}
			if err := st.DeleteAccount(ctx, deputy.ID); !errors.Is(err, identity.ErrLastAdmin) {
				t.Errorf("delete the now last admin: %v, want ErrLastAdmin", err)
			}

			// At the same moment: each of n admins demotes, disables or
			// deletes the next; at least one stays, the others are refused.
			const n = 8
			as := []*identity.Account{deputy}
			for i := 1; i < n; i++ {
				as = append(as, mk(fmt.Sprintf("adm%d", i), true))
			}
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, a := range as {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					switch i % 3 {
					case 0:
						errs[i] = st.SetAdmin(ctx, a.ID, false, now)
					case 1:
						errs[i] = st.SetDisabled(ctx, a.ID, &now, now)
					default:
						errs[i] = st.DeleteAccount(ctx, a.ID)
					}
				}()
			}
			close(start)
			wg.Wait()
			ok := 0
			for i, err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, identity.ErrLastAdmin):
					t.Errorf("admin %d: %v", i, err)
				}
			}
			if got := activeAdmins(); got != 1 || ok != n-1 {
				t.Fatalf("after the race: %d active admins, %d writes done; errors %v", got, ok, errs)
			}
		})
	}
}
