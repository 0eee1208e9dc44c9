package stagechat

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/html"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

// ProviderIndieAuth names IndieAuth identities.
const ProviderIndieAuth = "INDIEAUTH"

// IndieAuth limits (Owncast's: requests expire after 10 minutes).
const (
	indieAuthTimeout    = 10 * time.Minute
	maxPendingIndieAuth = 1000
	maxAuthPage         = 1 << 20
)

// AuthRequest is a pending IndieAuth sign-in.
type AuthRequest struct {
	State        string
	AccountID    string // the chat user who started it
	TokenHash    string // their chat token, hashed
	DisplayName  string
	Me           string // the profile URL the user claims
	Endpoint     string // its authorization endpoint
	RedirectURI  string
	ClientID     string
	CodeVerifier string
	CreatedAt    time.Time
}

// AuthStore is what IndieAuth needs from the store.
type AuthStore interface {
	CreateAuthRequest(ctx context.Context, r *AuthRequest) error
	TakeAuthRequest(ctx context.Context, state string) (*AuthRequest, error)
	PendingAuthRequests(ctx context.Context, before time.Time) (int, error)
	AuthAccount(ctx context.Context, provider, identifier string) (string, error)
	LinkAuth(ctx context.Context, provider, identifier, accountID string, at time.Time) error
	SetChatTokenAccount(ctx context.Context, hash, accountID string) error
}

// Fetcher sends the server's requests to user-supplied hosts: the SSRF-safe
// egress client, which refuses loopback, private, link-local and mapped
// addresses at dial time and on every redirect.
type Fetcher interface {
	Do(req *http.Request) (*http.Response, error)
	CheckURL(raw string) (*url.URL, error)
}

// IndieAuthConfig tunes the IndieAuth client.
type IndieAuthConfig struct {
	Client Fetcher
	// AllowHTTP accepts http:// profile URLs (tests only: Owncast, and
	// production, require https).
	AllowHTTP bool
}

// IndieAuth signs chat users in with their own web site (Owncast's
// /api/auth/indieauth).
type IndieAuth struct {
	chat *Service
	st   AuthStore
	cfg  IndieAuthConfig
}

// NewIndieAuth builds the IndieAuth client.
func NewIndieAuth(chat *Service, st AuthStore, cfg IndieAuthConfig) (*IndieAuth, error) {
	if chat == nil || st == nil || cfg.Client == nil {
		return nil, errors.New("stagechat: IndieAuth needs the chat, a store and an HTTP client")
	}
	return &IndieAuth{chat: chat, st: st, cfg: cfg}, nil
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Start begins a sign-in for u (who holds chatToken): it fetches authHost
// through the egress client, finds its authorization endpoint, stores the
// pending request and returns the URL to send the browser to.
func (a *IndieAuth) Start(ctx context.Context, u *User, chatToken, authHost string) (string, error) {
	serverURL := a.chat.Settings().ServerURL
	if serverURL == "" {
		return "", fault.New(fault.Invalid, "Owncast server URL must be set when using auth")
	}
	base, err := url.Parse(serverURL)
	if err != nil || base.Host == "" {
		return "", fault.New(fault.Invalid, "the server URL is not valid")
	}
	me, err := a.checkURL(strings.TrimSpace(authHost))
	if err != nil {
		return "", err
	}
	n, err := a.st.PendingAuthRequests(ctx, a.chat.now().Add(-indieAuthTimeout))
	if err != nil {
		return "", err
	}
	if n >= maxPendingIndieAuth {
		return "", fault.New(fault.RateLimited, "Please try again later. Too many pending requests.")
	}
	endpoint, err := a.authorizationEndpoint(ctx, me)
	if err != nil {
		return "", err
	}
	callback := *base
	callback.Path, callback.RawQuery, callback.Fragment = "/api/auth/indieauth/callback", "", ""
	clientID := base.String()
	verifier := randomToken(48)
	sum := sha256.Sum256([]byte(verifier))
	r := &AuthRequest{State: randomToken(20), AccountID: u.ID, TokenHash: identity.HashToken(chatToken), DisplayName: u.DisplayName,
		Me: me.String(), Endpoint: endpoint.String(), RedirectURI: callback.String(), ClientID: clientID, CodeVerifier: verifier,
		CreatedAt: a.chat.now().UTC()}
	if err := a.st.CreateAuthRequest(ctx, r); err != nil {
		return "", err
	}
	redirect := *endpoint
	q := redirect.Query()
	q.Set("response_type", "code")
	q.Set("client_id", clientID)
	q.Set("state", r.State)
	q.Set("code_challenge_method", "S256")
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	q.Set("me", r.Me)
	q.Set("redirect_uri", r.RedirectURI)
	redirect.RawQuery = q.Encode()
	return redirect.String(), nil
}

// checkURL applies the URL rules before anything is fetched: https (http
// only when allowed for tests) and an address the egress client may reach.
func (a *IndieAuth) checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || len(raw) > 2048 {
		return nil, fault.New(fault.Invalid, "authHost must be an absolute https URL")
	}
	if u.Scheme != "https" && !(a.cfg.AllowHTTP && u.Scheme == "http") {
		return nil, fault.New(fault.Invalid, "authHost must be an https URL")
	}
	if _, err := a.cfg.Client.CheckURL(u.String()); err != nil {
		return nil, fault.Wrap(fault.Invalid, "authHost must be a public address: loopback, private, link-local and metadata addresses are refused", err)
	}
	return u, nil
}

// authorizationEndpoint finds the profile's authorization endpoint: the
// HTTP Link header or the last <link rel="authorization_endpoint"> of the
// page, resolved against the page's URL.
func (a *IndieAuth) authorizationEndpoint(ctx context.Context, me *url.URL) (*url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, me.String(), nil)
	if err != nil {
		return nil, fault.New(fault.Invalid, "authHost must be an absolute https URL")
	}
	req.Header.Set("Accept", "text/html")
	resp, err := a.cfg.Client.Do(req)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, "unable to reach authHost (public addresses only)", err)
	}
	defer resp.Body.Close()
	var href string
	for _, l := range resp.Header.Values("Link") {
		for part := range strings.SplitSeq(l, ",") {
			target, params, ok := strings.Cut(part, ";")
			if ok && strings.Contains(params, "authorization_endpoint") {
				href = strings.Trim(strings.TrimSpace(target), "<>")
			}
		}
	}
	if href == "" {
		if href, err = authEndpointInPage(io.LimitReader(resp.Body, maxAuthPage)); err != nil {
			return nil, err
		}
	}
	if href == "" {
		return nil, fault.New(fault.Invalid, "url does not support indieauth")
	}
	ep, err := resp.Request.URL.Parse(href)
	if err != nil || (ep.Scheme != "https" && !(a.cfg.AllowHTTP && ep.Scheme == "http")) {
		return nil, fault.New(fault.Invalid, "unable to parse authorization endpoint")
	}
	return ep, nil
}

// authEndpointInPage is the href of the page's last <link
// rel="authorization_endpoint">, "" when there is none. It reads tokens and
// builds no document: a 1 MiB page of tiny elements parses into tens of MiB
// of nodes, and any chat user may name the page.
func authEndpointInPage(page io.Reader) (string, error) {
	var href string
	z := html.NewTokenizer(page)
	for {
		switch z.Next() {
		case html.ErrorToken:
			if !errors.Is(z.Err(), io.EOF) {
				return "", fault.New(fault.Invalid, "unable to parse html at remote auth host")
			}
			return href, nil
		case html.StartTagToken, html.SelfClosingTagToken:
			if !isLinkTag(z.Raw()) {
				continue // TagName would allocate for every tag
			}
			if _, hasAttr := z.TagName(); !hasAttr {
				continue
			}
			var rel, h string
			for more := true; more; {
				var k, v []byte
				k, v, more = z.TagAttr()
				switch string(k) {
				case "rel":
					rel = string(v)
				case "href":
					h = string(v)
				}
			}
			for f := range strings.FieldsSeq(rel) {
				if f == "authorization_endpoint" && h != "" {
					href = h
				}
			}
		}
	}
}

// isLinkTag reports whether a start tag's raw bytes open a <link> element
// (the name in any case, then white space, "/" or ">").
func isLinkTag(raw []byte) bool {
	if len(raw) < 6 || raw[0] != '<' || !strings.EqualFold(string(raw[1:5]), "link") {
		return false
	}
	switch raw[5] {
	case ' ', '\t', '\n', '\f', '\r', '/', '>':
		return true
	}
	return false
}

// Callback completes a sign-in: the code is redeemed at the authorization
// endpoint (through the egress client), the returned profile must be the
// one claimed, and the identity is linked to the chat user, or, when
// another chat user already owns it, the chat token moves to that user.
func (a *IndieAuth) Callback(ctx context.Context, state, code string) error {
	if state == "" || code == "" {
		return fault.New(fault.Invalid, "no auth requests pending")
	}
	r, err := a.st.TakeAuthRequest(ctx, state)
	if errors.Is(err, fault.NotFound) || (err == nil && a.chat.now().Sub(r.CreatedAt) > indieAuthTimeout) {
		return fault.New(fault.Invalid, "no auth requests pending")
	}
	if err != nil {
		return err
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {r.ClientID},
		"redirect_uri": {r.RedirectURI}, "code_verifier": {r.CodeVerifier}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.Endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fault.New(fault.Invalid, "invalid authorization endpoint")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := a.cfg.Client.Do(req)
	if err != nil {
		return fault.Wrap(fault.Invalid, "unable to reach the IndieAuth server", err)
	}
	defer resp.Body.Close()
	var out struct {
		Me               string `json:"me"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err := json.Unmarshal(body, &out); err != nil {
		return fault.New(fault.Invalid, "unable to parse IndieAuth response")
	}
	if out.Error != "" || out.ErrorDescription != "" {
		return fault.Newf(fault.Invalid, "IndieAuth error: %s - %s", out.Error, out.ErrorDescription)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fault.New(fault.Invalid, "there was an error authenticating against IndieAuth server")
	}
	if strings.TrimRight(out.Me, "/") != strings.TrimRight(r.Me, "/") {
		return fault.New(fault.Invalid, "indieauth response does not match the initial anticipated auth destination")
	}
	me := strings.TrimRight(r.Me, "/")
	now := a.chat.now().UTC()
	owner, err := a.st.AuthAccount(ctx, ProviderIndieAuth, me)
	switch {
	case err == nil && owner != r.AccountID:
		// Signing in as a known identity: this browser's token now
		// belongs to that user.
		if err := a.st.SetChatTokenAccount(ctx, r.TokenHash, owner); err != nil {
			return err
		}
		if u, err := a.chat.User(ctx, owner); err == nil && u.DisplayName != r.DisplayName {
			a.chat.Action(ctx, fmt.Sprintf("**%s** is now authenticated as **%s**", MarkdownText(r.DisplayName), MarkdownText(u.DisplayName)))
		}
		return nil
	case err == nil:
		return a.markAuthenticated(ctx, r.AccountID, now)
	case !errors.Is(err, fault.NotFound):
		return err
	}
	if err := a.st.LinkAuth(ctx, ProviderIndieAuth, me, r.AccountID, now); err != nil {
		return err
	}
	return a.markAuthenticated(ctx, r.AccountID, now)
}

func (a *IndieAuth) markAuthenticated(ctx context.Context, accountID string, at time.Time) error {
	u, err := a.chat.st.User(ctx, accountID)
	if err != nil {
		return err
	}
	u.AuthenticatedAt = &at
	if err := a.chat.st.SaveUser(ctx, u); err != nil {
		return err
	}
	a.chat.publish(ctx, Event{Type: EventUserUpdated, User: u})
	return nil
}
