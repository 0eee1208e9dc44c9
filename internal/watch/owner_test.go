package watch

import (
	"context"
	"errors"
	"testing"
)

// TestAccountGoneDropsOwner: once the owner's account is deleted (its
// row's owner set NULL by the store) the loaded room has no owner: the
// snapshot says so, members are told (hasOwner in the next sync), and
// another account may claim it. The room kept the deleted account as its
// owner until it was loaded again.
func TestAccountGoneDropsOwner(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	r := e.room("orphaned", "owner")
	e.st.mu.Lock()
	rec := e.st.rooms["orphaned"]
	rec.OwnerID = "" // as ON DELETE SET NULL leaves the row
	e.st.rooms["orphaned"] = rec
	e.st.mu.Unlock()
	e.rec.take()
	e.svc.AccountGone(ctx, "owner")
	if s := r.Snapshot(); s.HasOwner || s.OwnerID != "" {
		t.Fatalf("after the owner's deletion: hasOwner %v, owner %q", s.HasOwner, s.OwnerID)
	}
	if sync := e.flush(r); sync == nil || !sync.Fields.Has(FieldHasOwner) || sync.HasOwner {
		t.Fatalf("members were not told the room has no owner: %+v", sync)
	}
	if err := e.svc.Claim(ctx, r, registered("next")); err != nil {
		t.Fatalf("claim after the owner's deletion: %v", err)
	}
}

// TestAccountGoneKeepsExistingOwner: a revocation of an account that still
// exists (disabled, signed out) leaves its rooms' owner as it was.
func TestAccountGoneKeepsExistingOwner(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.room("kept", "owner")
	e.svc.AccountGone(context.Background(), "owner")
	if s := r.Snapshot(); !s.HasOwner || s.OwnerID != "owner" {
		t.Fatalf("owner after a revocation of an existing account: %v %q", s.HasOwner, s.OwnerID)
	}
}

// TestAccountGoneRetiresDeletedRoom: a loaded room whose row AccountGone
// finds missing (the room was deleted elsewhere, with or before its
// owner's account) is retired as a save finding no row retires it: its
// sockets are told it is gone and a Get finds nothing. It was skipped, and
// kept serving a room that no longer exists.
func TestAccountGoneRetiresDeletedRoom(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	r := e.room("deleted", "owner")
	if err := e.st.DeleteRoom(ctx, "deleted", 0); err != nil {
		t.Fatal(err)
	}
	e.rec.take()
	e.svc.AccountGone(ctx, "owner")
	if got := e.closes(r); len(got) != 1 || got[0] != CloseUnloaded {
		t.Fatalf("room closes %v, want one CloseUnloaded (the room is gone)", got)
	}
	if n := len(e.svc.Loaded()); n != 0 {
		t.Fatalf("%d rooms still loaded", n)
	}
	if _, err := e.svc.Get(ctx, "deleted"); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("Get after: %v, want ErrRoomNotFound", err)
	}
}
