package identity

import (
	"context"

	"github.com/hearth-community/hearth/internal/fault"
)

// SetOperatorPassword replaces an instance admin's password with one the
// operator chose through an admin API (Owncast's admin password setter,
// whose default "abc123" is shorter than SetPassword allows). Only the
// argon2id hash is stored; sessions are signed out as with SetPassword.
func (s *Service) SetOperatorPassword(ctx context.Context, accountID, password string) error {
	if n := len(password); n == 0 || n > 128 {
		return fault.New(fault.Invalid, "password must be 1-128 characters")
	}
	a, err := s.st.AccountByID(ctx, accountID)
	if err != nil {
		return err
	}
	if !a.IsAdmin {
		return fault.New(fault.Forbidden, "only an instance admin's password can be set this way")
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return err
	}
	if err := s.st.SetPasswordHash(ctx, a.ID, hash, s.now().UTC()); err != nil {
		return err
	}
	if err := s.st.RevokeAccountSessions(ctx, accountID, s.now(), ""); err != nil {
		return err
	}
	if err := s.st.SignOutChatTokens(ctx, accountID); err != nil {
		return err
	}
	s.announce(ctx, Revoked{AccountID: accountID})
	return nil
}
