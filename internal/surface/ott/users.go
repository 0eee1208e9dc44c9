package ott

import (
	"errors"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
)

// handleGrant answers GET /api/auth/grant: a still-valid Bearer token is
// echoed, otherwise a new anonymous token is minted. Either way the token
// cookie is set. The body is bare {token}.
func (s *Surface) handleGrant(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store, no-cache, must-revalidate, proxy-revalidate")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Expires", "0")
	tok := bearer(r)
	if tok != "" {
		if _, err := s.lookup(r.Context(), tok); err != nil {
			tok = ""
		}
	}
	if tok == "" {
		var err error
		if tok, _, err = s.grant(r.Context()); err != nil {
			s.writeError(w, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: "token", Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: !s.d.InsecureCookies, MaxAge: int(loggedTTL.Seconds())})
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"token": tok})
}

// handleGetUser answers GET /api/user (bare body).
func (s *Surface) handleGetUser(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if p == nil {
		s.writeError(w, ottErr(http.StatusBadRequest, "MissingToken", "Missing auth token. Get a token from /api/auth/grant first."))
		return
	}
	if p.loggedIn() {
		httpserver.WriteJSON(w, http.StatusOK, map[string]any{"username": displayName(p.account), "loggedIn": true, "discordLinked": s.discordLinked(r.Context(), p.account.ID)})
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"loggedIn": false, "username": displayName(p.account)})
}

// hasSession refuses a request that needs the caller's token when it has
// none: the admin apikey lets a request past the token check without one.
func (s *Surface) hasSession(w http.ResponseWriter, p *principal) bool {
	if p == nil {
		s.writeError(w, ottErr(http.StatusBadRequest, "MissingToken", "Missing auth token. Get a token from /api/auth/grant first."))
		return false
	}
	return true
}

func messageOnly(w http.ResponseWriter, status int, msg string) {
	httpserver.WriteJSON(w, status, map[string]any{"success": false, "error": map[string]any{"message": msg}})
}

// handleSetUsername answers POST /api/user {username}: the shown name of
// the session's account (anonymous or signed in) changes.
func (s *Surface) handleSetUsername(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if !s.hasSession(w, p) {
		return
	}
	var body struct {
		Username *string `json:"username"`
	}
	if err := decode(r, &body); err != nil {
		s.writeError(w, err)
		return
	}
	if body.Username == nil || strings.TrimSpace(*body.Username) == "" {
		messageOnly(w, http.StatusBadRequest, "Missing argument (username)")
		return
	}
	name := strings.TrimSpace(*body.Username)
	if utf8.RuneCountInString(name) > 48 {
		s.writeError(w, ottErr(http.StatusBadRequest, "LengthOutOfRangeException", "Username length must be less than or equal to 48"))
		return
	}
	// The one display-name rule: markup is stripped; a name with nothing
	// left is refused like an empty one.
	if name = identity.CleanName(name, 48); name == "" {
		messageOnly(w, http.StatusBadRequest, "username must be provided")
		return
	}
	if other, err := s.d.Identity.AccountByUsername(r.Context(), name); err == nil && other.ID != p.account.ID {
		s.writeError(w, ottErr(http.StatusBadRequest, "UsernameTaken", "Somebody else is already using that username."))
		return
	}
	// identity refuses a name another account holds (on any surface) and
	// announces the rename to the others.
	a, err := s.d.Identity.Rename(r.Context(), p.account.ID, name)
	if errors.Is(err, identity.ErrNameTaken) {
		s.writeError(w, ottErr(http.StatusBadRequest, "UsernameTaken", "Somebody else is already using that username."))
		return
	}
	if err != nil {
		s.writeError(w, err)
		return
	}
	p.account = a
	s.resyncSession(p)
	writeOK(w, http.StatusOK, nil)
}

// resyncSession re-sends the user info of every socket of this session,
// in rooms on every node.
func (s *Surface) resyncSession(p *principal) {
	s.d.Watch.RenameSessionEverywhere(s.d.Life, p.sessionID(), actor(p))
}

// handleLogin answers POST /api/user/login.
func (s *Surface) handleLogin(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if !s.hasSession(w, p) {
		return
	}
	var body struct {
		User     string `json:"user"`
		Email    string `json:"email"`
		Username string `json:"username"`
		Password string `json:"password"`
		// AccessToken is Hearth's extension: a signed-in account's access
		// token (Together's) instead of a password, so a client that signed
		// in once (Hearth's web app restoring stored tokens) links its
		// watch-room token to the same account without the password.
		AccessToken string `json:"accessToken"`
	}
	if err := decode(r, &body); err != nil {
		s.writeError(w, err)
		return
	}
	if body.AccessToken != "" {
		s.loginWithAccessToken(w, r, p, body.AccessToken)
		return
	}
	login := body.User
	if login == "" {
		login = body.Email
	}
	if login == "" {
		login = body.Username
	}
	if login == "" || body.Password == "" {
		messageOnly(w, http.StatusUnauthorized, "Either the user or password was not provided.")
		return
	}
	// identity's sign-in limiter counts wrong passwords per account and per
	// address, on every surface.
	a, err := s.d.Identity.CheckCredentials(r.Context(), login, body.Password, s.ip(r))
	if err != nil {
		switch fault.KindOf(err) {
		case fault.Unauthorized, fault.Forbidden:
			messageOnly(w, http.StatusUnauthorized, "Email or password is incorrect.")
		case fault.RateLimited:
			// OTT's login limiter answers without "success" (ott.md).
			setRetryAfter(w, err)
			httpserver.WriteJSON(w, http.StatusTooManyRequests, map[string]any{"error": map[string]any{"name": "TooManyRequests", "message": "Too many attempts."}})
		default:
			s.writeError(w, err)
		}
		return
	}
	if err := s.setAccount(r.Context(), p, a); err != nil {
		s.writeError(w, err)
		return
	}
	s.resyncSession(p)
	writeOK(w, http.StatusOK, map[string]any{"user": userShape(a)})
}

// loginWithAccessToken points the session at the account an access token
// of a live sign-in session belongs to. Bot and integration tokens, guests
// and revoked or expired tokens are refused with 401, and the session stays
// as it was.
func (s *Surface) loginWithAccessToken(w http.ResponseWriter, r *http.Request, p *principal, token string) {
	pr, err := s.d.Identity.Authenticate(r.Context(), token)
	if err != nil {
		switch fault.KindOf(err) {
		case fault.Unauthorized, fault.Forbidden:
			messageOnly(w, http.StatusUnauthorized, "The access token is not valid.")
		default:
			s.writeError(w, err)
		}
		return
	}
	if pr.SessionID == "" || pr.Account.Kind != identity.Registered {
		messageOnly(w, http.StatusUnauthorized, "Only a signed-in account's access token can log in.")
		return
	}
	if err := s.setAccountVia(r.Context(), p, pr.Account, pr.SessionID); err != nil {
		s.writeError(w, err)
		return
	}
	s.resyncSession(p)
	writeOK(w, http.StatusOK, map[string]any{"user": userShape(pr.Account)})
}

func userShape(a *identity.Account) map[string]any {
	var email any
	if a.Email != nil {
		email = *a.Email
	}
	return map[string]any{"email": email, "username": a.Username}
}

// handleLogout answers POST /api/user/logout: the token acts as its guest
// again, under a new random name.
func (s *Surface) handleLogout(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if !s.hasSession(w, p) {
		return
	}
	if !p.loggedIn() {
		messageOnly(w, http.StatusBadRequest, "Not logged in.")
		return
	}
	g, err := s.d.Identity.Account(r.Context(), p.sess.GuestID)
	if err != nil {
		s.writeError(w, err)
		return
	}
	g.DisplayName = randomName()
	if err := s.d.Identity.UpdateProfile(r.Context(), g, identity.ProfileDisplayName); err != nil {
		s.writeError(w, err)
		return
	}
	if err := s.setAccount(r.Context(), p, g); err != nil {
		s.writeError(w, err)
		return
	}
	s.resyncSession(p)
	writeOK(w, http.StatusOK, nil)
}

// OpenTogetherTube's own texts, which its client shows and its tests expect.
const (
	msgEmailTaken  = "Email is already associated with an account."
	msgBadPassword = "Password does not meet minimum requirements. Must be at least 8 characters long, and contain 2 of the following categories of characters: lowercase letters, uppercase letters, numbers, special characters."
)

// validPassword is OpenTogetherTube's rule: at least 8 characters from at
// least two of lower case, upper case, digits and !@#$%^&*.
func validPassword(pw string) bool {
	if len(pw) < 8 || len(pw) > 128 {
		return false
	}
	var lower, upper, digit, special bool
	for _, c := range pw {
		switch {
		case unicode.IsLower(c):
			lower = true
		case unicode.IsUpper(c):
			upper = true
		case unicode.IsDigit(c):
			digit = true
		case strings.ContainsRune("!@#$%^&*", c):
			special = true
		}
	}
	n := 0
	for _, b := range []bool{lower, upper, digit, special} {
		if b {
			n++
		}
	}
	return n >= 2
}

// handleRegister answers POST /api/user/register: a Hearth account, signed
// in on this token at once.
func (s *Surface) handleRegister(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if !s.hasSession(w, p) {
		return
	}
	var body struct {
		Email    string `json:"email"`
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decode(r, &body); err != nil {
		s.writeError(w, err)
		return
	}
	if !validPassword(body.Password) {
		s.writeError(w, ottErr(http.StatusBadRequest, "ValidationError", msgBadPassword))
		return
	}
	if !identity.ValidUsername(body.Username) {
		s.writeError(w, ottErr(http.StatusBadRequest, "ValidationError", "Username must be 1-32 letters, digits, '_', '-' or '.'."))
		return
	}
	ctx := r.Context()
	if _, err := s.d.Identity.AccountByUsername(ctx, body.Username); err == nil {
		writeFail(w, http.StatusBadRequest, errBody{Name: "AlreadyInUse", Message: "Username is already in use.", Fields: []string{"username"}})
		return
	}
	if body.Email != "" {
		if _, err := s.d.Identity.Store().AccountByEmail(ctx, body.Email); err == nil {
			writeFail(w, http.StatusBadRequest, errBody{Name: "AlreadyInUse", Message: msgEmailTaken, Fields: []string{"email"}})
			return
		}
	}
	a, err := s.d.Identity.Register(ctx, identity.RegisterInput{Username: body.Username, Email: body.Email, Password: body.Password})
	if err != nil {
		switch fault.KindOf(err) {
		case fault.Conflict:
			// Taken since it was looked up above (sign-ups of one name sent
			// at once): answer as that look-up would now.
			if _, err := s.d.Identity.AccountByUsername(ctx, body.Username); err == nil || body.Email == "" {
				writeFail(w, http.StatusBadRequest, errBody{Name: "AlreadyInUse", Message: "Username is already in use.", Fields: []string{"username"}})
			} else {
				writeFail(w, http.StatusBadRequest, errBody{Name: "AlreadyInUse", Message: msgEmailTaken, Fields: []string{"email"}})
			}
		case fault.Invalid:
			s.writeError(w, ottErr(http.StatusBadRequest, "ValidationError", fault.Message(err)))
		default:
			s.writeError(w, err)
		}
		return
	}
	if err := s.setAccount(ctx, p, a); err != nil {
		s.writeError(w, err)
		return
	}
	s.resyncSession(p)
	writeOK(w, http.StatusCreated, map[string]any{"user": userShape(a)})
}

// handleRecoverDisabled answers the account recovery routes: Hearth sends
// no mail, so recovery is disabled (reset passwords with the CLI).
func (s *Surface) handleRecoverDisabled(w http.ResponseWriter, r *http.Request) {
	httpserver.WriteJSON(w, http.StatusBadRequest, map[string]any{"success": false, "error": map[string]any{
		"name": "FeatureDisabledException", "message": "Sorry, this feature is disabled: Account recovery by email is not available."}})
}

func (s *Surface) requireLogin(w http.ResponseWriter, p *principal) bool {
	if p == nil || !p.loggedIn() {
		writeFail(w, http.StatusUnauthorized, errBody{Name: "Unauthorized", Message: "Not logged in."})
		return false
	}
	return true
}

// handleGetAccount answers GET /api/user/account.
func (s *Surface) handleGetAccount(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if !s.requireLogin(w, p) {
		return
	}
	if !s.charge(w, r, 1) {
		return
	}
	var email any
	if p.account.Email != nil {
		email = *p.account.Email
	}
	writeOK(w, http.StatusOK, map[string]any{"username": p.account.Username, "email": email, "discordLinked": s.discordLinked(r.Context(), p.account.ID),
		"hasPassword": p.account.PasswordHash != ""})
}

// handlePatchAccount answers PATCH /api/user/account.
func (s *Surface) handlePatchAccount(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if !s.requireLogin(w, p) {
		return
	}
	if !s.charge(w, r, 10) {
		return
	}
	var body struct {
		Email           *string `json:"email"`
		CurrentPassword string  `json:"currentPassword"`
		NewPassword     *string `json:"newPassword"`
	}
	if err := decode(r, &body); err != nil {
		// OTT's route parses its schema itself and answers a field of the
		// wrong type as every refusal of it: ValidationError, the first
		// issue's message alone.
		var ae *apiError
		if errors.As(err, &ae) && ae.body.Name == "ZodValidationError" && len(ae.body.Details) > 0 {
			err = ottErr(http.StatusBadRequest, "ValidationError", ae.body.Details[0].Message)
		}
		s.writeError(w, err)
		return
	}
	if body.Email == nil && body.NewPassword == nil {
		s.writeError(w, ottErr(http.StatusBadRequest, "ValidationError", "At least one field must be provided"))
		return
	}
	ctx := r.Context()
	if body.NewPassword != nil {
		if p.account.PasswordHash != "" {
			if body.CurrentPassword == "" {
				s.writeError(w, ottErr(http.StatusBadRequest, "CurrentPasswordRequired", "Current password is required."))
				return
			}
			if err := s.d.Identity.VerifyPassword(ctx, p.account.ID, body.CurrentPassword, s.ip(r)); err != nil {
				if fault.KindOf(err) == fault.Unauthorized {
					err = ottErr(http.StatusBadRequest, "InvalidPassword", "Current password is incorrect.")
				}
				s.writeError(w, err)
				return
			}
		}
		if !validPassword(*body.NewPassword) {
			s.writeError(w, ottErr(http.StatusBadRequest, "BadPasswordError", msgBadPassword))
			return
		}
	}
	if body.Email != nil {
		e := strings.TrimSpace(*body.Email)
		if e != "" && (!strings.Contains(e, "@") || len(e) > 254) {
			s.writeError(w, ottErr(http.StatusBadRequest, "ValidationError", "Invalid email"))
			return
		}
		if other, err := s.d.Identity.Store().AccountByEmail(ctx, e); e != "" && err == nil && other.ID != p.account.ID {
			writeFail(w, http.StatusBadRequest, errBody{Name: "AlreadyInUse", Message: msgEmailTaken, Fields: []string{"email"}})
			return
		}
		if e == "" {
			p.account.Email = nil
		} else {
			p.account.Email = &e
		}
		if err := s.d.Identity.UpdateProfile(ctx, p.account, identity.ProfileEmail); err != nil {
			if errors.Is(err, fault.Conflict) {
				writeFail(w, http.StatusBadRequest, errBody{Name: "AlreadyInUse", Message: msgEmailTaken, Fields: []string{"email"}})
				return
			}
			s.writeError(w, err)
			return
		}
	}
	if body.NewPassword != nil {
		// SetPassword signs out every session of the account, Hearth's and
		// every OTT token signed in to it; this OTT token stays signed in,
		// as on OpenTogetherTube.
		if err := s.d.Identity.SetPasswordKeeping(ctx, p.account.ID, *body.NewPassword, p.sess.TokenHash); err != nil {
			s.writeError(w, err)
			return
		}
	}
	writeOK(w, http.StatusOK, nil)
}

// handleUnlinkDiscord answers DELETE /api/user/account/discord. An account
// that signs in only through Discord must set a password first.
func (s *Surface) handleUnlinkDiscord(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if !s.requireLogin(w, p) {
		return
	}
	if !s.charge(w, r, 10) {
		return
	}
	if !s.discordLinked(r.Context(), p.account.ID) {
		s.writeError(w, ottErr(http.StatusBadRequest, "DiscordNotLinked", "This account is not linked to Discord."))
		return
	}
	if p.account.PasswordHash == "" {
		s.writeError(w, ottErr(http.StatusBadRequest, "PasswordRequired", "Add a password before unlinking Discord."))
		return
	}
	if err := s.d.Links.UnlinkAccount(r.Context(), discordProvider, p.account.ID); err != nil && !errors.Is(err, fault.NotFound) {
		s.writeError(w, err)
		return
	}
	writeOK(w, http.StatusOK, nil)
}
