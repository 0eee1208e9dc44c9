package together

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

const resetTTL = time.Hour

func resetKey(token string) string { return "together.reset." + identity.HashToken(token) }

// forgotPassword lets the instance admin mint a one-hour reset token for an
// account (Together sends no email: the admin hands the token over).
func (s *Surface) forgotPassword(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := requireAdmin(p); err != nil {
		s.fail(w, err)
		return
	}
	var in struct {
		Email *string `json:"email"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	if in.Email == nil {
		writeError(w, http.StatusUnprocessableEntity, "email is required")
		return
	}
	ctx := r.Context()
	a, err := s.d.Identity.Store().AccountByEmail(ctx, strings.TrimSpace(*in.Email))
	if errors.Is(err, fault.NotFound) {
		err = fault.New(fault.NotFound, "No user with that email")
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		s.fail(w, err)
		return
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	exp := time.Now().Add(resetTTL).Unix()
	if err := s.d.Identity.Store().SetInstanceValue(ctx, resetKey(token), a.ID+"|"+strconv.FormatInt(exp, 10)); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "Password reset token generated", "token": token,
		"expires_in_seconds": int(resetTTL.Seconds()), "note": "Share this token with the user to reset their password"})
}

func (s *Surface) resetPassword(w http.ResponseWriter, r *http.Request, _ *identity.Principal) {
	var in struct {
		Token       *string `json:"token"`
		NewPassword *string `json:"new_password"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	if in.Token == nil || in.NewPassword == nil {
		writeError(w, http.StatusUnprocessableEntity, "token and new_password are required")
		return
	}
	if n := len(*in.NewPassword); n < 8 || n > 128 {
		s.fail(w, invalid("Password must be 8-128 characters"))
		return
	}
	ctx := r.Context()
	bad := invalid("Invalid or expired reset token")
	if *in.Token == "" || len(*in.Token) > 128 {
		s.fail(w, bad)
		return
	}
	key := resetKey(*in.Token)
	v, err := s.d.Identity.Store().InstanceValue(ctx, key)
	if err != nil || v == "" {
		s.fail(w, bad)
		return
	}
	acct, expRaw, _ := strings.Cut(v, "|")
	exp, _ := strconv.ParseInt(expRaw, 10, 64)
	// Single use: burn the token before acting on it.
	if err := s.d.Identity.Store().SetInstanceValue(ctx, key, ""); err != nil {
		s.fail(w, err)
		return
	}
	if time.Now().Unix() > exp {
		s.fail(w, bad)
		return
	}
	if err := s.d.Identity.SetPassword(ctx, acct, *in.NewPassword); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": "Password has been reset successfully"})
}

func (s *Surface) updateBot(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	b, err := s.myBot(r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	var in struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	if err := s.bots.Update(r.Context(), b, in.Name, in.Description); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toBot(b))
}
