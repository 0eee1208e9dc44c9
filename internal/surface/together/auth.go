package together

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"unicode/utf8"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/ratelimit"
)

type authResponse struct {
	AccessToken  string  `json:"access_token"`
	RefreshToken string  `json:"refresh_token"`
	User         userDTO `json:"user"`
}

func (s *Surface) authResponse(ctx context.Context, a *identity.Account, t *identity.Tokens) (authResponse, error) {
	u, err := s.userDTO(ctx, a)
	return authResponse{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, User: u}, err
}

// validTogetherUsername: 2–32 of [A-Za-z0-9_].
func validTogetherUsername(n string) bool {
	if len(n) < 2 || len(n) > 32 {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

func (s *Surface) register(w http.ResponseWriter, r *http.Request, _ *identity.Principal) {
	var in struct {
		Username   *string `json:"username"`
		Email      *string `json:"email"`
		Password   *string `json:"password"`
		InviteCode *string `json:"invite_code"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	ctx := r.Context()
	switch {
	case in.Username == nil || in.Password == nil:
		writeError(w, http.StatusUnprocessableEntity, "username and password are required")
		return
	case !validTogetherUsername(*in.Username):
		s.fail(w, invalid("Username must be 2-32 characters: letters, numbers and underscores"))
		return
	case len(*in.Password) < 8 || len(*in.Password) > 128:
		s.fail(w, invalid("Password must be 8-128 characters"))
		return
	}
	email := ""
	if in.Email != nil && *in.Email != "" {
		if _, err := mail.ParseAddress(*in.Email); err != nil || len(*in.Email) > 254 {
			s.fail(w, invalid("Invalid email address"))
			return
		}
		email = *in.Email
	}
	mode, err := s.admin.RegistrationMode(ctx)
	if err != nil {
		s.fail(w, err)
		return
	}
	var invite *community.Invite
	switch mode {
	case "closed":
		s.fail(w, fault.New(fault.Forbidden, "Registration is currently closed"))
		return
	case "invite_only":
		if in.InviteCode == nil || *in.InviteCode == "" {
			s.fail(w, invalid("An invite code is required to register"))
			return
		}
		// The invite is checked here and its use spent with the new
		// account's join (one transaction): a use taken before the account
		// was made was lost to a kill in between, no account and the invite
		// used up, so the invitee's retry was refused for good.
		inv, err := s.d.Community.UsableInvite(ctx, *in.InviteCode)
		switch {
		case errors.Is(err, community.ErrInviteUsedUp):
			s.fail(w, invalid("Invalid or expired invite code"))
			return
		case errors.Is(err, fault.NotFound):
			s.fail(w, invalid("Invalid invite code"))
			return
		case err != nil:
			s.fail(w, err)
			return
		}
		invite = inv
	}
	if _, err := s.d.Identity.AccountByUsername(ctx, *in.Username); err == nil {
		s.fail(w, fault.New(fault.Conflict, "Username already taken"))
		return
	}
	a, err := s.d.Identity.Register(ctx, identity.RegisterInput{Username: *in.Username, Email: email, Password: *in.Password})
	if errors.Is(err, fault.Conflict) {
		// The name may have been taken since it was looked up (sign-ups
		// of one name sent at once): say which one is taken now.
		err = fault.New(fault.Conflict, "Email already registered")
		if _, e := s.d.Identity.AccountByUsername(ctx, *in.Username); e == nil {
			err = fault.New(fault.Conflict, "Username already taken")
		}
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	if invite != nil {
		// The join spends the use; sign-ups sent at once past the invite's
		// uses are refused here, and their accounts go. A kill before the
		// join leaves an account that may still accept the invite.
		if _, err := s.d.Community.AcceptInvite(ctx, a.ID, invite.Code); err != nil {
			if derr := s.d.Identity.DeleteAccount(context.WithoutCancel(ctx), a.ID); derr != nil {
				s.log.Warn("remove the account of a refused sign-up", "err", derr)
			}
			if errors.Is(err, community.ErrInviteUsedUp) || errors.Is(err, fault.NotFound) {
				err = invalid("Invalid or expired invite code")
			}
			s.fail(w, err)
			return
		}
	}
	// As Together: a new account is offline until it connects (a login
	// marks it online); an account registered by a script never shows
	// online without a socket.
	if err := s.setStatus(ctx, a.ID, "offline"); err != nil {
		s.fail(w, err)
		return
	}
	t, err := s.d.Identity.OpenSession(ctx, a, r.UserAgent())
	if err != nil {
		s.fail(w, err)
		return
	}
	resp, err := s.authResponse(ctx, a, t)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, resp)
}

func (s *Surface) setStatus(ctx context.Context, accountID, status string) error {
	p, err := s.d.Community.Profile(ctx, accountID)
	if err != nil {
		return err
	}
	p.Status = status
	return s.d.Community.SaveProfile(ctx, p, community.ProfileStatus)
}

func (s *Surface) login(w http.ResponseWriter, r *http.Request, _ *identity.Principal) {
	var in struct {
		Username *string `json:"username"`
		Password *string `json:"password"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	if in.Username == nil || in.Password == nil {
		writeError(w, http.StatusUnprocessableEntity, "username and password are required")
		return
	}
	if n, m := len(*in.Username), len(*in.Password); n < 1 || n > 128 || m < 1 || m > 128 {
		s.fail(w, invalid("Username and password must be 1-128 characters"))
		return
	}
	ctx := r.Context()
	a, t, err := s.d.Identity.Login(ctx, *in.Username, *in.Password, r.UserAgent(), ratelimit.ClientIP(r, s.d.TrustProxy))
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.setStatus(ctx, a.ID, "online"); err != nil {
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

func (s *Surface) refresh(w http.ResponseWriter, r *http.Request, _ *identity.Principal) {
	var in struct {
		RefreshToken *string `json:"refresh_token"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	if in.RefreshToken == nil {
		writeError(w, http.StatusUnprocessableEntity, "refresh_token is required")
		return
	}
	// Together validates the token's length (1-2048) before reading it: 400.
	if n := len(*in.RefreshToken); n == 0 || n > 2048 {
		s.fail(w, invalid("refresh_token must be 1-2048 characters"))
		return
	}
	// The grace for a repeat is for the same client: two tabs of one
	// browser, or a retry; anyone else presenting a rotated token is reuse.
	client := r.UserAgent() + "|" + ratelimit.ClientIP(r, s.d.TrustProxy)
	a, t, err := s.d.Identity.RefreshFrom(r.Context(), *in.RefreshToken, client)
	if err != nil {
		s.fail(w, err)
		return
	}
	resp, err := s.authResponse(r.Context(), a, t)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// logout revokes the caller's session (Hearth addition; Together's client
// just drops its tokens).
func (s *Surface) logout(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if p.SessionID != "" {
		if err := s.d.Identity.Logout(r.Context(), p.SessionID); err != nil {
			s.fail(w, err)
			return
		}
	}
	noContent(w)
}

func (s *Surface) me(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	u, err := s.userDTO(r.Context(), p.Account)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func checkOpt(field string, v *string, max int) error {
	if v != nil && utf8.RuneCountInString(*v) > max {
		return fault.Newf(fault.Invalid, "%s must be at most %d characters", field, max)
	}
	return nil
}

func emptyToNil(v *string) *string {
	if v != nil && *v == "" {
		return nil
	}
	return v
}

func (s *Surface) updateMe(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	var in struct {
		AvatarURL    *string `json:"avatar_url"`
		Bio          *string `json:"bio"`
		Pronouns     *string `json:"pronouns"`
		Status       *string `json:"status"`
		CustomStatus *string `json:"custom_status"`
		Activity     *string `json:"activity"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	for _, c := range []struct {
		f   string
		v   *string
		max int
	}{{"avatar_url", in.AvatarURL, 2048}, {"bio", in.Bio, 500}, {"pronouns", in.Pronouns, 40}, {"custom_status", in.CustomStatus, 128}, {"activity", in.Activity, 128}} {
		if err := checkOpt(c.f, c.v, c.max); err != nil {
			s.fail(w, err)
			return
		}
	}
	// Checked before anything is saved, so a refused avatar changes nothing.
	if in.AvatarURL != nil {
		if err := identity.CheckURL("avatar_url", *in.AvatarURL); err != nil {
			s.fail(w, err)
			return
		}
	}
	ctx := r.Context()
	prof, err := s.d.Community.Profile(ctx, p.Account.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	// Only the fields sent are written: the others, as read above, may be
	// older than the row by then.
	var f community.ProfileFields
	if in.Bio != nil {
		prof.Bio, f = emptyToNil(in.Bio), f|community.ProfileBio
	}
	if in.Pronouns != nil {
		prof.Pronouns, f = emptyToNil(in.Pronouns), f|community.ProfilePronouns
	}
	if in.CustomStatus != nil {
		prof.CustomStatus, f = emptyToNil(in.CustomStatus), f|community.ProfileCustomStatus
	}
	if in.Activity != nil {
		prof.Activity, f = emptyToNil(in.Activity), f|community.ProfileActivity
	}
	if in.Status != nil {
		prof.Status, f = *in.Status, f|community.ProfileStatus
	}
	if err := s.d.Community.SaveProfile(ctx, prof, f); err != nil {
		s.fail(w, err)
		return
	}
	a := p.Account
	if in.AvatarURL != nil {
		a.AvatarURL = *in.AvatarURL
		if err := s.d.Identity.UpdateProfile(ctx, a, identity.ProfileAvatar); err != nil {
			s.fail(w, err)
			return
		}
	}
	// Answer with the rows as stored: an edit of other fields made since
	// this request read them is in them (and was kept).
	if fresh, err := s.d.Community.Profile(ctx, a.ID); err == nil {
		prof = fresh
	}
	if fresh, err := s.d.Identity.Account(ctx, a.ID); err == nil {
		a = fresh
	}
	// Announced within the account's presence pace (PresenceUpdates a
	// minute, shared with its PRESENCE_UPDATE frames); one past it is held
	// and announced when the pace allows, the last one always.
	s.pacePresence(a.ID, presenceIn{Status: prof.Status, CustomStatus: prof.CustomStatus, Activity: prof.Activity}, prof)
	writeJSON(w, http.StatusOK, toUser(a, prof))
}

func (s *Surface) getUser(w http.ResponseWriter, r *http.Request, _ *identity.Principal) {
	id, err := pathID(r, "user_id", "User not found")
	if err != nil {
		s.fail(w, err)
		return
	}
	ctx := r.Context()
	a, err := s.d.Identity.Account(ctx, id)
	if errors.Is(err, fault.NotFound) || (err == nil && a.Disabled()) {
		// As Together, a disabled account has no public profile.
		err = fault.New(fault.NotFound, "User not found")
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	u, err := s.userDTO(ctx, a)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, publicProfileDTO{ID: u.ID, Username: u.Username, AvatarURL: u.AvatarURL, Status: u.Status,
		CustomStatus: u.CustomStatus, Activity: u.Activity, Bio: u.Bio, Pronouns: u.Pronouns, CreatedAt: u.CreatedAt})
}
