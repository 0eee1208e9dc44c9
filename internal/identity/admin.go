package identity

import (
	"context"
	"crypto/subtle"
	"errors"

	"github.com/hearth-community/hearth/internal/fault"
)

// OwncastAdminUser is the user name Owncast's admin clients always send with
// Basic auth.
const OwncastAdminUser = "admin"

// CheckAdminBasic is the one rule for admin Basic credentials (Owncast's
// admin API and Hearth's admin UI): either an instance admin's own username
// and password, or user "admin" with the password of any live instance
// admin, since Owncast's clients always send "admin". It returns
// fault.Unauthorized when neither matches.
func (s *Service) CheckAdminBasic(ctx context.Context, user, pass string) (*Account, error) {
	if pass == "" {
		return nil, errBadLogin
	}
	a, err := s.CheckCredentials(ctx, user, pass)
	switch {
	case err == nil && a.IsAdmin:
		return a, nil
	case err != nil && !errors.Is(err, fault.Unauthorized):
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(user), []byte(OwncastAdminUser)) != 1 {
		return nil, errBadLogin
	}
	admins, err := s.st.Admins(ctx)
	if err != nil {
		return nil, err
	}
	for _, adm := range admins {
		if adm.Disabled() || adm.PasswordHash == "" {
			continue
		}
		ok, err := s.checkPassword(ctx, pass, adm.PasswordHash)
		if err != nil {
			return nil, err
		}
		if ok {
			return adm, nil
		}
	}
	return nil, errBadLogin
}
