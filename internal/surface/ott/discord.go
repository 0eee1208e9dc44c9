package ott

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

// LinkStore keeps accounts linked to an outside sign-in (package store).
// Lookups that match nothing return fault.NotFound; a subject another
// account holds is fault.Conflict.
type LinkStore interface {
	LinkAccount(ctx context.Context, provider, subject, accountID string, at time.Time) error
	LinkedAccount(ctx context.Context, provider, subject string) (string, error)
	AccountLink(ctx context.Context, provider, accountID string) (string, error)
	UnlinkAccount(ctx context.Context, provider, accountID string) error
}

// Doer sends an outbound request (the egress client).
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// Discord configures sign-in with Discord (OAuth2 authorization code, scope
// identify), as OpenTogetherTube's passport-discord does. Empty ClientID or
// ClientSecret turns it off.
type Discord struct {
	ClientID     string
	ClientSecret string
	AuthorizeURL string
	TokenURL     string
	UserURL      string
	// CallbackURL is the redirect URI registered at Discord; empty derives
	// it from the request (<scheme>://<host>/api/auth/discord/callback).
	CallbackURL string
	// HTTP sends the token and profile requests (the egress client).
	HTTP Doer
}

const (
	discordProvider    = "discord"
	discordStateCookie = "ott_discord_state"
	msgDiscordDisabled = "Sorry, this feature is disabled: Discord sign-in is not configured on this server."
	msgDiscordFailed   = "Discord sign-in failed. Try again later."
	msgDiscordState    = "Discord sign-in expired or was not started here. Try again."
	msgDiscordTaken    = "Unable to link accounts. Another account is linked to this discord account."
)

func (s *Surface) discordOn() bool {
	d := s.d.Discord
	return d.ClientID != "" && d.ClientSecret != "" && d.HTTP != nil && s.d.Links != nil
}

// localPath keeps a post-login redirect on this site: a path, never another
// host ("//evil") or a scheme. A backslash or a control character anywhere
// is refused, not only after the first slash: browsers read "\" as "/" and
// drop tabs and newlines, and http.Redirect cleans the path it is given, so
// "/./\evil.example" went out as "Location: /\evil.example", which a browser
// follows to https://evil.example/.
func localPath(raw string) string {
	if !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") || len(raw) > 2048 ||
		strings.ContainsFunc(raw, func(r rune) bool { return r == '\\' || r < 0x20 || r == 0x7f }) {
		return "/"
	}
	return raw
}

// discordFail answers a failed sign-in: a browser (it navigated here) goes
// back to the page it came from with the message in ?discordError=, never to
// a raw JSON page; a script gets OpenTogetherTube's error shape.
func discordFail(w http.ResponseWriter, r *http.Request, back string, status int, name, msg string) {
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		u, err := url.Parse(back)
		if err != nil {
			u = &url.URL{Path: "/"}
		}
		q := u.Query()
		q.Set("discordError", msg)
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
		return
	}
	writeFail(w, status, errBody{Name: name, Message: msg})
}

func (s *Surface) discordCallbackURL(r *http.Request) string {
	if s.d.Discord.CallbackURL != "" {
		return s.d.Discord.CallbackURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if s.d.TrustProxy {
		if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
			scheme = p
		}
	}
	return scheme + "://" + r.Host + "/api/auth/discord/callback"
}

// handleDiscordStart answers GET /api/auth/discord?redirect=<path>: it sends
// the browser to Discord's consent page. The state is kept in a short-lived
// cookie with the page to return to, so the callback may reach any node.
func (s *Surface) handleDiscordStart(w http.ResponseWriter, r *http.Request) {
	back := localPath(r.URL.Query().Get("redirect"))
	if !s.discordOn() {
		discordFail(w, r, back, http.StatusBadRequest, "FeatureDisabledException", msgDiscordDisabled)
		return
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		s.writeError(w, err)
		return
	}
	state := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: discordStateCookie, Value: state + "." + base64.RawURLEncoding.EncodeToString([]byte(back)),
		Path: "/api/auth/discord", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: !s.d.InsecureCookies, MaxAge: 600})
	q := url.Values{"response_type": {"code"}, "client_id": {s.d.Discord.ClientID}, "scope": {"identify"},
		"state": {state}, "redirect_uri": {s.discordCallbackURL(r)}}
	sep := "?"
	if strings.Contains(s.d.Discord.AuthorizeURL, "?") {
		sep = "&"
	}
	http.Redirect(w, r, s.d.Discord.AuthorizeURL+sep+q.Encode(), http.StatusFound)
}

// handleDiscordCallback answers GET /api/auth/discord/callback: Discord's
// code becomes the user's profile; a signed-in token links it to its
// account, any other token signs in to the account linked to it, or to a new
// account made for it (as OpenTogetherTube does). The browser then returns
// to the page it started from.
func (s *Surface) handleDiscordCallback(w http.ResponseWriter, r *http.Request) {
	back, state := "/", ""
	if c, err := r.Cookie(discordStateCookie); err == nil {
		if st, enc, ok := strings.Cut(c.Value, "."); ok {
			if raw, err := base64.RawURLEncoding.DecodeString(enc); err == nil {
				back, state = localPath(string(raw)), st
			}
		}
	}
	http.SetCookie(w, &http.Cookie{Name: discordStateCookie, Value: "", Path: "/api/auth/discord", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: !s.d.InsecureCookies, MaxAge: -1})
	if !s.discordOn() {
		discordFail(w, r, back, http.StatusBadRequest, "FeatureDisabledException", msgDiscordDisabled)
		return
	}
	q := r.URL.Query()
	if state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(q.Get("state"))) != 1 {
		discordFail(w, r, back, http.StatusBadRequest, "BadApiArgumentException", msgDiscordState)
		return
	}
	if q.Get("error") != "" || q.Get("code") == "" {
		discordFail(w, r, back, http.StatusBadRequest, "BadApiArgumentException", "Discord sign-in was cancelled.")
		return
	}
	tok := requestToken(r)
	if tok == "" {
		discordFail(w, r, back, http.StatusBadRequest, "MissingToken", "Missing auth token. Get a token from /api/auth/grant first.")
		return
	}
	ctx := r.Context()
	p, err := s.lookup(ctx, tok)
	if err != nil {
		discordFail(w, r, back, http.StatusUnauthorized, "MissingToken", "Missing valid auth token. Get a token from /api/auth/grant first.")
		return
	}
	prof, err := s.discordProfile(ctx, q.Get("code"), s.discordCallbackURL(r))
	if err != nil {
		s.log.Warn("discord sign-in", "err", err)
		discordFail(w, r, back, http.StatusBadGateway, "DiscordError", msgDiscordFailed)
		return
	}
	a, err := s.discordAccount(ctx, p, prof)
	if err != nil {
		if errors.Is(err, fault.Conflict) {
			discordFail(w, r, back, http.StatusBadRequest, "AlreadyInUse", msgDiscordTaken)
			return
		}
		s.log.Error("discord sign-in", "err", err)
		discordFail(w, r, back, http.StatusInternalServerError, "Unknown", "An unknown error occurred. Try again later.")
		return
	}
	if err := s.setAccount(ctx, p, a); err != nil {
		discordFail(w, r, back, http.StatusInternalServerError, "Unknown", "An unknown error occurred. Try again later.")
		return
	}
	s.resyncSession(p)
	http.Redirect(w, r, back, http.StatusFound)
}

// discordAccount links the profile to the signed-in account, or finds or
// makes the account for it.
func (s *Surface) discordAccount(ctx context.Context, p *principal, prof *discordUser) (*identity.Account, error) {
	if p.loggedIn() {
		if err := s.d.Links.LinkAccount(ctx, discordProvider, prof.ID, p.account.ID, s.now()); err != nil {
			return nil, err
		}
		return p.account, nil
	}
	id, err := s.d.Links.LinkedAccount(ctx, discordProvider, prof.ID)
	if err == nil {
		return s.d.Identity.Account(ctx, id)
	}
	if !errors.Is(err, fault.NotFound) {
		return nil, err
	}
	// A new account with no password, named from the profile as OTT does
	// (a random name when that one is taken or not a legal username).
	name := prof.name()
	var a *identity.Account
	for i := range 5 {
		try := usernameFrom(name)
		if i > 0 || try == "" {
			try = randomName() + "_" + randomSuffix()[:4]
		}
		if _, err := s.d.Identity.AccountByUsername(ctx, try); err == nil {
			continue
		}
		a, err = s.d.Identity.Register(ctx, identity.RegisterInput{Username: try, NoPassword: true})
		if err == nil {
			break
		}
		if fault.KindOf(err) != fault.Conflict {
			return nil, err
		}
	}
	if a == nil {
		return nil, fmt.Errorf("ott: no free username for discord user %s", prof.ID)
	}
	if err := s.d.Links.LinkAccount(ctx, discordProvider, prof.ID, a.ID, s.now()); err != nil {
		return nil, err
	}
	return a, nil
}

// usernameFrom keeps the characters of name that Hearth's username rule
// allows; "" when none are left.
func usernameFrom(name string) string {
	var b strings.Builder
	n := 0
	for _, c := range name {
		if n == 32 {
			break
		}
		if identity.ValidUsername(string(c)) {
			b.WriteRune(c)
			n++
		}
	}
	if !identity.ValidUsername(b.String()) {
		return ""
	}
	return b.String()
}

// discordUser is the part of Discord's /users/@me that sign-in reads.
type discordUser struct {
	ID            string `json:"id"`
	Username      string `json:"username"`
	Discriminator string `json:"discriminator"`
	GlobalName    string `json:"global_name"`
}

// name is OpenTogetherTube's username for a Discord profile.
func (u *discordUser) name() string {
	if u.Discriminator == "" || u.Discriminator == "0" {
		if u.GlobalName != "" {
			return u.GlobalName
		}
		return u.Username
	}
	return u.Username + "#" + u.Discriminator
}

// discordProfile trades the code for an access token and reads the profile.
func (s *Surface) discordProfile(ctx context.Context, code, redirectURI string) (*discordUser, error) {
	d := s.d.Discord
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"client_id": {d.ClientID}, "client_secret": {d.ClientSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := doJSON(d.HTTP, req, &tok); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	if tok.AccessToken == "" {
		return nil, errors.New("token: no access_token")
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, d.UserURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/json")
	var u discordUser
	if err := doJSON(d.HTTP, req, &u); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if u.ID == "" || len(u.ID) > 64 || !utf8.ValidString(u.ID) {
		return nil, errors.New("profile: no id")
	}
	return &u, nil
}

func doJSON(c Doer, req *http.Request, v any) error {
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", res.StatusCode)
	}
	return json.Unmarshal(body, v)
}

// discordLinked reports whether an account is linked to Discord.
func (s *Surface) discordLinked(ctx context.Context, accountID string) bool {
	if s.d.Links == nil {
		return false
	}
	_, err := s.d.Links.AccountLink(ctx, discordProvider, accountID)
	return err == nil
}
