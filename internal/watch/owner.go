package watch

import (
	"context"
)

// AccountGone drops accountID as the owner of the rooms this node runs
// whose stored row no longer names it: the account was deleted (deleting
// an account sets its rooms' owner_id NULL, and a save writes the owner
// only while the account exists). A loaded room kept the id in memory
// until it was loaded again, so the deleted account still counted as the
// room's owner (hasOwner, the owner's role and permissions, a claim
// refused as "already has an owner"). Call it on every node when an
// account is revoked (identity.RevokedTopic: a deletion, but also a
// disabled account or a sign-out, which keep the row's owner and change
// nothing here). A room whose row it finds missing was deleted elsewhere
// and is retired as a delete retires it (goneLocked).
func (s *Service) AccountGone(ctx context.Context, accountID string) {
	if accountID == "" {
		return
	}
	for _, r := range s.Loaded() {
		r.mu.Lock()
		owned := r.ownerID == accountID && !r.unloaded
		r.mu.Unlock()
		if !owned {
			continue
		}
		rec, err := s.st.RoomByName(ctx, r.name)
		if isNotFound(err) {
			// The row is gone (the room was deleted elsewhere): retired
			// as a save that finds no row retires it.
			r.mu.Lock()
			s.goneLocked(r)
			r.mu.Unlock()
			continue
		}
		if err != nil {
			s.log.Warn("room owner's account revoked: read the room", "room", r.name, "err", err)
			continue
		}
		if rec.OwnerID != "" {
			continue // the account exists (disabled, signed out), or the row is another copy's
		}
		r.mu.Lock()
		if r.ownerID == accountID && !r.unloaded {
			r.ownerID = ""
			r.markDirty(FieldHasOwner)
			for _, m := range r.members {
				if m.AccountID == accountID {
					r.publish(Event{Type: EvUser, User: updated(r.info(m))})
				}
			}
		}
		r.mu.Unlock()
	}
}
