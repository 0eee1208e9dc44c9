package admin

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/surface/together/rest"
)

const resetTTL = time.Hour

func resetKey(token string) string { return "together.reset." + identity.HashToken(token) }

// ForgotPassword lets the instance admin mint a one-hour reset token for an
// account (Together sends no email: the admin hands the token over).
func (s *API) ForgotPassword(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	// Together reads and validates the body (422, 400) before it checks
	// the caller is an admin (403), then looks the address up (404).
	var in struct {
		Email *string `json:"email"`
	}
	if err := rest.Decode(r, &in, false); err != nil {
		s.Bad(w, err)
		return
	}
	if in.Email == nil {
		rest.WriteError(w, http.StatusUnprocessableEntity, "email is required")
		return
	}
	// Together validates the address (400) before looking it up (404).
	if _, err := mail.ParseAddress(strings.TrimSpace(*in.Email)); err != nil || len(*in.Email) > 254 {
		s.Fail(w, rest.Invalid("Invalid email address"))
		return
	}
	if err := RequireAdmin(p); err != nil {
		s.Fail(w, err)
		return
	}
	ctx := r.Context()
	a, err := s.Identity.Store().AccountByEmail(ctx, strings.TrimSpace(*in.Email))
	if errors.Is(err, fault.NotFound) {
		err = fault.New(fault.NotFound, "No user found with email: "+strings.TrimSpace(*in.Email))
	}
	if err != nil {
		s.Fail(w, err)
		return
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		s.Fail(w, err)
		return
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	exp := time.Now().Add(resetTTL).Unix()
	if err := s.Identity.Store().SetInstanceValue(ctx, resetKey(token), a.ID+"|"+strconv.FormatInt(exp, 10)); err != nil {
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"message": "Password reset token generated", "token": token,
		"expires_in_seconds": int(resetTTL.Seconds()), "note": "Share this token with the user to reset their password"})
}

func (s *API) ResetPassword(w http.ResponseWriter, r *http.Request, _ *identity.Principal) {
	var in struct {
		Token       *string `json:"token"`
		NewPassword *string `json:"new_password"`
	}
	if err := rest.Decode(r, &in, false); err != nil {
		s.Bad(w, err)
		return
	}
	if in.Token == nil || in.NewPassword == nil {
		rest.WriteError(w, http.StatusUnprocessableEntity, "token and new_password are required")
		return
	}
	if n := len(*in.NewPassword); n < 8 || n > 128 {
		s.Fail(w, rest.Invalid("Password must be 8-128 characters"))
		return
	}
	ctx := r.Context()
	// An unknown, used or expired token is Together's 401 (AppError::Auth).
	bad := fault.New(fault.Unauthorized, "Invalid or expired reset token")
	if *in.Token == "" || len(*in.Token) > 128 {
		s.Fail(w, bad)
		return
	}
	key := resetKey(*in.Token)
	v, err := s.Identity.Store().InstanceValue(ctx, key)
	if err != nil || v == "" {
		s.Fail(w, bad)
		return
	}
	acct, expRaw, _ := strings.Cut(v, "|")
	exp, _ := strconv.ParseInt(expRaw, 10, 64)
	// Single use: burn the token before acting on it.
	if err := s.Identity.Store().SetInstanceValue(ctx, key, ""); err != nil {
		s.Fail(w, err)
		return
	}
	if time.Now().Unix() > exp {
		s.Fail(w, bad)
		return
	}
	if err := s.Identity.SetPassword(ctx, acct, *in.NewPassword); err != nil {
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusOK, map[string]string{"message": "Password has been reset successfully"})
}
