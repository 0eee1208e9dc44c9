package app

import (
	"context"
	"crypto/subtle"
	"net/http"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/surface/web"
)

// wireWeb serves the embedded web app: the catch-all "GET /" (every GET no
// API claims falls back to index.html), the admin UI under /admin/ (behind
// Owncast's Basic auth) and Owncast's embed paths. ServeMux picks the most
// specific pattern, so the API routes win whatever the wiring order.
func (a *App) wireWeb(ctx context.Context) error {
	s, err := web.New(web.Deps{Log: a.Log.With("component", "web"), AdminAuth: a.isAdminBasic})
	if err != nil {
		return err
	}
	s.Register(a.HTTP)
	return nil
}

// isAdminBasic accepts what Owncast's admin API accepts: Basic auth with an
// instance admin's username and password, or user "admin" with the
// password of an instance admin (Owncast clients always send "admin").
func (a *App) isAdminBasic(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok || pass == "" {
		return false
	}
	if acct, err := a.Identity.CheckCredentials(r.Context(), user, pass); err == nil {
		return acct.IsAdmin && !acct.Disabled()
	}
	if subtle.ConstantTimeCompare([]byte(user), []byte("admin")) != 1 {
		return false
	}
	accts, err := a.Identity.Store().ListAccounts(r.Context(), identity.Registered, 50, 0)
	if err != nil {
		return false
	}
	for _, acct := range accts {
		if acct.IsAdmin && !acct.Disabled() && identity.CheckPassword(pass, acct.PasswordHash) {
			return true
		}
	}
	return false
}
