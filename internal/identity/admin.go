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

// AdminRealm is the realm of every admin Basic challenge (Owncast's admin
// API and the web app's /admin pages). It is Hearth's own: no Owncast client
// reads the realm (they send Basic up front), and it must be one string
// for all of them, since a browser keeps Basic credentials per realm and
// the admin pages rely on it sending the same ones to the admin API.
const AdminRealm = "Hearth admin"

// CheckAdminBasic is the one rule for admin Basic credentials (Owncast's
// admin API and Hearth's admin UI): either an instance admin's own username
// and password, or user "admin" with the password of any live instance
// admin, since Owncast's clients always send "admin". It returns
// fault.Unauthorized when neither matches. It is one attempt under the
// sign-in limits (signin.go), charged to the account user names (or to the
// name "admin") and to addr, the client's address; while either is limited
// it returns fault.RateLimited whatever the password.
func (s *Service) CheckAdminBasic(ctx context.Context, user, pass, addr string) (*Account, error) {
	if pass == "" {
		return nil, errBadLogin
	}
	named, err := s.lookupLogin(ctx, user)
	if err != nil {
		return nil, err
	}
	ctx, settle, err := s.beginAttempt(ctx, accountKey(named, user), addr)
	if err != nil {
		return nil, err
	}
	a, err := s.checkAdminBasic(ctx, named, user, pass)
	settle(err)
	return a, err
}

func (s *Service) checkAdminBasic(ctx context.Context, named *Account, user, pass string) (*Account, error) {
	a, err := s.checkCredentials(ctx, named, pass)
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
