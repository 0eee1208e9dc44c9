package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/watch"
)

// TestWatchLoadedRoomDropsDeletedOwner: told an account was revoked, the
// watch service drops it as the owner of a loaded room only once the
// account is deleted (the store set the row's owner NULL), on every
// engine; another account may then claim the room. The loaded room kept
// the deleted account as its owner until it was loaded again.
func TestWatchLoadedRoomDropsDeletedOwner(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			owner, next := newAccount(t, db, "firstowner"), newAccount(t, db, "nextowner")
			svc := newWatch(t, watch.Config{SaveDelay: time.Hour, SyncDelay: time.Hour, DisableUnload: true}, db.Watch(), nopPub{})
			r, err := svc.Create(ctx, watch.CreateInput{Name: "inherited", OwnerID: owner})
			if err != nil {
				t.Fatal(err)
			}
			svc.AccountGone(ctx, owner) // signed out or disabled: still the owner
			if s := r.Snapshot(); s.OwnerID != owner {
				t.Fatalf("owner after revoking an existing account: %q", s.OwnerID)
			}
			if err := db.Identity().DeleteAccount(ctx, owner); err != nil {
				t.Fatal(err)
			}
			svc.AccountGone(ctx, owner)
			if s := r.Snapshot(); s.HasOwner || s.OwnerID != "" {
				t.Fatalf("after the owner's deletion: hasOwner %v, owner %q", s.HasOwner, s.OwnerID)
			}
			if err := svc.Claim(ctx, r, watch.Actor{AccountID: next, Name: "next", LoggedIn: true}); err != nil {
				t.Fatalf("claim after the owner's deletion: %v", err)
			}
			rec, err := db.Watch().RoomByName(ctx, "inherited")
			if err != nil || rec.OwnerID != next {
				t.Fatalf("stored owner %+v %v, want the new claimer", rec, err)
			}
		})
	}
}
