package together

import (
	"errors"
	"net/http"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/surface/together/admin"
)

// changePassword is Hearth's own route (Together has none): the caller
// changes their password with the current one. Every session of the account
// is signed out, and the answer is a fresh AuthResponse so the caller stays
// signed in. A wrong current password is 403, not 401: the caller's token
// is fine, and a client must not take it for an expired one.
func (s *Surface) changePassword(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	var in struct {
		CurrentPassword *string `json:"current_password"`
		NewPassword     *string `json:"new_password"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	if in.CurrentPassword == nil || in.NewPassword == nil {
		writeError(w, http.StatusUnprocessableEntity, "current_password and new_password are required")
		return
	}
	if n := len(*in.NewPassword); n < 8 || n > 128 {
		s.fail(w, invalid("Password must be 8-128 characters"))
		return
	}
	if n := len(*in.CurrentPassword); n < 1 || n > 128 {
		s.fail(w, fault.New(fault.Forbidden, "Current password is incorrect"))
		return
	}
	ctx := r.Context()
	t, err := s.d.Identity.ChangePassword(ctx, p.Account.ID, *in.CurrentPassword, *in.NewPassword,
		ratelimit.ClientIP(r, s.d.TrustProxy), r.UserAgent())
	if err != nil {
		s.fail(w, err)
		return
	}
	a, err := s.d.Identity.Account(ctx, p.Account.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	resp, err := s.authResponse(ctx, a, t)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// adminSetPassword is Hearth's own admin route: an instance admin sets
// another account's password (the user is signed out everywhere). The
// admin's own password goes through /auth/change-password, which asks for
// the current one.
func (s *Surface) adminSetPassword(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := admin.RequireAdmin(p); err != nil {
		s.fail(w, err)
		return
	}
	id, err := pathID(r, "user_id", "User not found")
	if err != nil {
		s.fail(w, err)
		return
	}
	var in struct {
		NewPassword *string `json:"new_password"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	if in.NewPassword == nil {
		writeError(w, http.StatusUnprocessableEntity, "new_password is required")
		return
	}
	if id == p.Account.ID {
		s.fail(w, invalid("Change your own password with your current one (POST /auth/change-password)"))
		return
	}
	if n := len(*in.NewPassword); n < 8 || n > 128 {
		s.fail(w, invalid("Password must be 8-128 characters"))
		return
	}
	ctx := r.Context()
	a, err := s.d.Identity.Account(ctx, id)
	if errors.Is(err, fault.NotFound) {
		err = fault.New(fault.NotFound, "User not found")
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	if a.Kind != identity.Registered {
		s.fail(w, invalid("Only a registered account has a password"))
		return
	}
	if err := s.d.Identity.SetPassword(ctx, id, *in.NewPassword); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
