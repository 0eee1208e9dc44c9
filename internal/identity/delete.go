package identity

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/hearth-community/hearth/internal/fault"
)

// ErrOwnsCommunities is returned by DeleteAccount for an account that still
// owns communities: ownership must move first, so deleting a person never
// silently deletes everyone else's conversations.
var ErrOwnsCommunities = fault.New(fault.Invalid, "Cannot delete a user who owns servers. Transfer ownership first.")

// ErrLastAdmin is returned when a change would leave no active instance admin.
// The instance always keeps one: the store refuses, with this error, a write
// that demotes, disables or deletes the last active (not disabled) admin,
// counting the others in the same transaction as the write, so two admins
// removing each other at the same moment cannot both succeed.
var ErrLastAdmin = fault.New(fault.Invalid, "Cannot remove the last active admin")

// DeleteAccount deletes an account for good, in one transaction: its
// sessions and tokens, its memberships and reactions go, and the messages it
// wrote (in channels and DMs) stay with no author, so conversations keep
// their context. Every open socket of the account closes, on every node.
// It returns fault.NotFound for an unknown id and ErrOwnsCommunities when
// the account still owns a community.
func (s *Service) DeleteAccount(ctx context.Context, accountID string) error {
	// Its bots stop with it (checkBotMaker); their sockets are closed too.
	bots, err := s.st.BotsMadeBy(ctx, accountID)
	if err != nil {
		return err
	}
	if err := s.st.DeleteAccount(ctx, accountID); err != nil {
		return err
	}
	s.announce(ctx, Revoked{AccountID: accountID})
	s.announceBots(ctx, bots)
	return nil
}

// RemovesLastAdmin reports whether demoting or disabling the account would
// leave the instance without an active admin: the account is an admin and
// at most one active (not disabled) admin exists. It is Together's check,
// which also refuses to demote or disable an already disabled admin while a
// single active one is left; being a read before the write it is no
// guarantee under concurrency: the store's write is (ErrLastAdmin).
func (s *Service) RemovesLastAdmin(ctx context.Context, accountID string) (bool, error) {
	a, err := s.st.AccountByID(ctx, accountID)
	if errors.Is(err, fault.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !a.IsAdmin {
		return false, nil
	}
	admins, err := s.st.Admins(ctx)
	if err != nil {
		return false, err
	}
	active := 0
	for _, adm := range admins {
		if !adm.Disabled() {
			active++
		}
	}
	return active <= 1, nil
}

// announceDemoted tells every node that accountID is no instance admin
// any more (DemotedTopic).
func (s *Service) announceDemoted(ctx context.Context, accountID string) {
	if s.pub == nil {
		return
	}
	b, _ := json.Marshal(Demoted{AccountID: accountID})
	if err := s.pub.Publish(context.WithoutCancel(ctx), DemotedTopic, b); err != nil {
		s.log.Error("publish a demotion", "err", err)
	}
}

// UpdateAdminState is an instance admin's change to another account: its
// admin role (isAdmin) and disabled state (disabled), each left alone when
// nil. Demoting or disabling an admin while at most one active admin exists
// is refused with ErrLastAdmin (RemovesLastAdmin), and the writes keep the
// rule atomically whatever runs at the same time. An unknown account is
// fault.NotFound.
func (s *Service) UpdateAdminState(ctx context.Context, accountID string, isAdmin, disabled *bool) error {
	if (isAdmin != nil && !*isAdmin) || (disabled != nil && *disabled) {
		last, err := s.RemovesLastAdmin(ctx, accountID)
		if err == nil && last {
			err = ErrLastAdmin
		}
		if err != nil {
			return err
		}
	}
	if _, err := s.st.AccountByID(ctx, accountID); err != nil {
		return err
	}
	if isAdmin != nil {
		if err := s.st.SetAdmin(ctx, accountID, *isAdmin, s.now().UTC()); err != nil {
			return err
		}
		if !*isAdmin {
			// Announced whatever the role was before: a recheck of a
			// non-admin finds nothing to end, and no read can race a
			// demotion made at the same moment.
			s.announceDemoted(ctx, accountID)
		}
	}
	if disabled != nil {
		if _, err := s.SetDisabled(ctx, accountID, *disabled); err != nil {
			return err
		}
	}
	return nil
}
