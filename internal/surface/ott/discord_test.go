package ott_test

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/models"
	"github.com/go-oauth2/oauth2/v4/server"
	oastore "github.com/go-oauth2/oauth2/v4/store"

	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/surface/ott"
)

const (
	discordClientID     = "hearth-test-client"
	discordClientSecret = "hearth-test-secret-0123456789"
)

// fakeDiscord is an OAuth2 provider standing in for Discord, built on
// go-oauth2's server: its consent step signs in whichever Discord user the
// test chose, and /api/users/@me answers that user's profile for the token.
type fakeDiscord struct {
	url     string
	addr    netip.AddrPort
	clients *oastore.ClientStore
	mu      sync.Mutex
	user    string                       // the Discord user id that consents next
	users   map[string]map[string]string // id → profile
}

func newFakeDiscord(t *testing.T) *fakeDiscord {
	t.Helper()
	m := manage.NewDefaultManager()
	m.MustTokenStorage(oastore.NewMemoryTokenStore())
	f := &fakeDiscord{clients: oastore.NewClientStore(), users: map[string]map[string]string{
		"100000000000000001": {"id": "100000000000000001", "username": "dan", "discriminator": "0", "global_name": "Dan Discord"},
		"100000000000000002": {"id": "100000000000000002", "username": "eve", "discriminator": "0", "global_name": ""},
	}}
	m.MapClientStorage(f.clients)
	srv := server.NewDefaultServer(m)
	srv.SetClientInfoHandler(server.ClientFormHandler)
	srv.SetUserAuthorizationHandler(func(http.ResponseWriter, *http.Request) (string, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.user, nil
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth2/authorize", func(w http.ResponseWriter, r *http.Request) {
		if err := srv.HandleAuthorizeRequest(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/api/oauth2/token", func(w http.ResponseWriter, r *http.Request) { _ = srv.HandleTokenRequest(w, r) })
	mux.HandleFunc("/api/users/@me", func(w http.ResponseWriter, r *http.Request) {
		ti, err := srv.ValidationBearerToken(r)
		if err != nil {
			http.Error(w, `{"message": "401: Unauthorized", "code": 0}`, http.StatusUnauthorized)
			return
		}
		f.mu.Lock()
		p := f.users[ti.GetUserID()]
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(p)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	f.url = ts.URL
	f.addr = netip.MustParseAddrPort(ts.Listener.Addr().String())
	return f
}

// config is Hearth's Discord configuration for this provider; calls go
// through the egress client, allowed to reach this one loopback port only.
func (f *fakeDiscord) config(t *testing.T) *ott.Discord {
	t.Helper()
	c, err := egress.New(egress.Config{AllowAddr: func(ap netip.AddrPort) bool { return ap == f.addr }})
	if err != nil {
		t.Fatal(err)
	}
	return &ott.Discord{ClientID: discordClientID, ClientSecret: discordClientSecret, AuthorizeURL: f.url + "/oauth2/authorize",
		TokenURL: f.url + "/api/oauth2/token", UserURL: f.url + "/api/users/@me", HTTP: c}
}

// allow registers Hearth's origin as the client's redirect domain.
func (f *fakeDiscord) allow(t *testing.T, hearthURL string) {
	t.Helper()
	if err := f.clients.Set(discordClientID, &models.Client{ID: discordClientID, Secret: discordClientSecret, Domain: hearthURL}); err != nil {
		t.Fatal(err)
	}
}

func (f *fakeDiscord) consentAs(id string) {
	f.mu.Lock()
	f.user = id
	f.mu.Unlock()
}

// browser is a client that follows redirects and keeps cookies, holding
// the OTT token cookie as OTT's web client leaves it.
func browser(t *testing.T, h *harness, tok string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(h.url)
	jar.SetCookies(u, []*http.Cookie{{Name: "token", Value: tok, Path: "/"}})
	return &http.Client{Jar: jar, Timeout: 20 * time.Second}
}

// navigate GETs path as a browser does and returns where it ended.
func navigate(t *testing.T, c *http.Client, h *harness, path string) *url.URL {
	t.Helper()
	req, err := http.NewRequest("GET", h.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.Request.URL
}

// TestDiscordSignIn runs OpenTogetherTube's "Log in with Discord" flow end
// to end against an OAuth2 provider: a new account, signing in to it again,
// linking a signed-in account, unlinking, and the refusals.
func TestDiscordSignIn(t *testing.T) {
	t.Parallel()
	f := newFakeDiscord(t)
	h := newHarness(t, opts{discord: f.config(t)})
	f.allow(t, h.url)

	// An anonymous token signs in with Discord: a new account, named as
	// OTT names it (Hearth's username rule drops the space), no password.
	f.consentAs("100000000000000001")
	anon := h.grant()
	if end := navigate(t, browser(t, h, anon), h, "/api/auth/discord?redirect=%2Froom%2Fmovies"); end.Path != "/room/movies" || end.Query().Get("discordError") != "" {
		t.Fatalf("sign-in ended at %s", end)
	}
	acct := h.do("GET", "/api/user/account", anon, nil)
	if acct.status != 200 || acct.body["username"] != "DanDiscord" || acct.body["discordLinked"] != true || acct.body["hasPassword"] != false {
		t.Fatalf("account after Discord sign-in: %d %s", acct.status, acct.raw)
	}
	if u := h.do("GET", "/api/user", anon, nil); u.body["loggedIn"] != true || u.body["discordLinked"] != true {
		t.Fatalf("user: %s", u.raw)
	}
	// Unlinking a Discord-only account needs a password first (OTT's rule).
	if r := h.do("DELETE", "/api/user/account/discord", anon, nil); r.status != 400 || r.errName() != "PasswordRequired" {
		t.Fatalf("unlink without password: %d %s", r.status, r.raw)
	}

	// Another token, same Discord user: the same account.
	again := h.grant()
	navigate(t, browser(t, h, again), h, "/api/auth/discord?redirect=/")
	if r := h.do("GET", "/api/user/account", again, nil); r.body["username"] != "DanDiscord" {
		t.Fatalf("second sign-in: %s", r.raw)
	}

	// A signed-in account links Discord, then unlinks it.
	reg := h.grant()
	if r := h.do("POST", "/api/user/register", reg, map[string]any{"username": "linker", "password": "Passw0rdLong"}); r.status != 201 {
		t.Fatalf("register: %s", r.raw)
	}
	f.consentAs("100000000000000002")
	if end := navigate(t, browser(t, h, reg), h, "/api/auth/discord?redirect=/account"); end.Path != "/account" || end.Query().Get("discordError") != "" {
		t.Fatalf("link ended at %s", end)
	}
	if r := h.do("GET", "/api/user/account", reg, nil); r.body["username"] != "linker" || r.body["discordLinked"] != true || r.body["hasPassword"] != true {
		t.Fatalf("linked account: %s", r.raw)
	}
	if r := h.do("DELETE", "/api/user/account/discord", reg, nil); r.status != 200 {
		t.Fatalf("unlink: %d %s", r.status, r.raw)
	}
	if r := h.do("GET", "/api/user/account", reg, nil); r.body["discordLinked"] != false {
		t.Fatalf("after unlink: %s", r.raw)
	}
	if r := h.do("DELETE", "/api/user/account/discord", reg, nil); r.errName() != "DiscordNotLinked" || r.body["error"].(map[string]any)["message"] != "This account is not linked to Discord." {
		t.Fatalf("unlink twice: %s", r.raw)
	}

	// A Discord user already linked to another account is refused.
	f.consentAs("100000000000000001")
	end := navigate(t, browser(t, h, reg), h, "/api/auth/discord?redirect=/account")
	if end.Path != "/account" || !strings.HasPrefix(end.Query().Get("discordError"), "Unable to link accounts.") {
		t.Fatalf("taken Discord user ended at %s", end)
	}

	// A callback without the state this browser started with is refused,
	// and the page to return to stays on this site.
	end = navigate(t, browser(t, h, h.grant()), h, "/api/auth/discord/callback?code=x&state=forged")
	if end.Path != "/" || !strings.Contains(end.Query().Get("discordError"), "expired") {
		t.Fatalf("forged callback ended at %s", end)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Get(h.url + "/api/auth/discord?redirect=//evil.example/x")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	c := res.Cookies()
	if res.StatusCode != 302 || len(c) != 1 || !strings.HasPrefix(res.Header.Get("Location"), f.url+"/oauth2/authorize?") {
		t.Fatalf("start: %d %v %s", res.StatusCode, c, res.Header.Get("Location"))
	}
}

// TestDiscordGoesThroughEgress: the token exchange uses the outbound-safe
// client, so a provider on loopback that the client is not told to allow is
// never reached; the browser comes back with the message.
func TestDiscordGoesThroughEgress(t *testing.T) {
	t.Parallel()
	f := newFakeDiscord(t)
	cfg := f.config(t)
	strict, err := egress.New(egress.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTP = strict
	h := newHarness(t, opts{discord: cfg})
	f.allow(t, h.url)
	f.consentAs("100000000000000001")
	tok := h.grant()
	end := navigate(t, browser(t, h, tok), h, "/api/auth/discord?redirect=/room/x")
	if end.Path != "/room/x" || end.Query().Get("discordError") != "Discord sign-in failed. Try again later." {
		t.Fatalf("ended at %s", end)
	}
	if r := h.do("GET", "/api/user", tok, nil); r.body["loggedIn"] != false {
		t.Fatalf("signed in anyway: %s", r.raw)
	}
}

// TestDiscordDisabled: without a Discord client, nothing OTT's client links
// to leads to a raw JSON page: a browser is sent back with the message, a
// script gets OTT's FeatureDisabledException.
func TestDiscordDisabled(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	const msg = "Sorry, this feature is disabled: Discord sign-in is not configured on this server."
	tok := h.grant()
	for _, path := range []string{"/api/auth/discord?redirect=%2Froom%2Fabc", "/api/auth/discord/callback?code=x&state=y"} {
		end := navigate(t, browser(t, h, tok), h, path)
		want := "/room/abc"
		if strings.Contains(path, "callback") {
			want = "/"
		}
		if end.Path != want || end.Query().Get("discordError") != msg {
			t.Errorf("%s: browser ended at %s", path, end)
		}
		r := h.do("GET", path, tok, nil, "Accept", "application/json")
		if e, _ := r.body["error"].(map[string]any); r.status != 400 || r.errName() != "FeatureDisabledException" || e["message"] != msg {
			t.Errorf("%s: %d %s", path, r.status, r.raw)
		}
	}
}

// TestDevDiscordLink: OTT's test routes link Discord for real, so
// discordLinked follows them.
func TestDevDiscordLink(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{dev: true})
	tok := h.grant()
	if r := h.do("POST", "/api/dev/user/create-social", tok, map[string]any{"username": "socialite"}); r.status != 200 {
		t.Fatalf("create-social: %d %s", r.status, r.raw)
	}
	if r := h.do("POST", "/api/dev/user/force-login", tok, map[string]any{"username": "socialite"}); r.status != 200 {
		t.Fatalf("force-login: %s", r.raw)
	}
	if r := h.do("GET", "/api/user/account", tok, nil); r.body["discordLinked"] != true || r.body["hasPassword"] != false {
		t.Fatalf("create-social account (OTT: discordLinked, no password): %s", r.raw)
	}
	if r := h.do("DELETE", "/api/user/account/discord", tok, nil); r.errName() != "PasswordRequired" {
		t.Fatalf("unlink without a password: %s", r.raw)
	}
	// OTT's flow: the Discord-only account sets a password (no current one
	// asked), then unlinking is allowed.
	if r := h.do("PATCH", "/api/user/account", tok, map[string]any{"newPassword": "Passw0rdLong"}); r.status != 200 {
		t.Fatalf("set first password: %d %s", r.status, r.raw)
	}
	if r := h.do("GET", "/api/user/account", tok, nil); r.body["hasPassword"] != true {
		t.Fatalf("after setting a password: %s", r.raw)
	}
	other := h.grant()
	if r := h.do("POST", "/api/user/register", other, map[string]any{"username": "plainuser", "password": "Passw0rdLong"}); r.status != 201 {
		t.Fatalf("register: %s", r.raw)
	}
	if r := h.do("GET", "/api/user/account", other, nil); r.body["discordLinked"] != false {
		t.Fatalf("before: %s", r.raw)
	}
	if r := h.do("POST", "/api/dev/user/set-discord-link", tok, map[string]any{"username": "plainuser", "discordId": "42"}); r.status != 200 {
		t.Fatalf("set-discord-link: %d %s", r.status, r.raw)
	}
	if r := h.do("GET", "/api/user/account", other, nil); r.body["discordLinked"] != true {
		t.Fatalf("after: %s", r.raw)
	}
	if r := h.do("POST", "/api/dev/user/set-discord-link", tok, map[string]any{"username": "nobody"}); r.status != 404 || r.errName() != "UserNotFound" {
		t.Fatalf("unknown user: %d %s", r.status, r.raw)
	}
}

// TestDiscordReturnStaysOnSite: the page a browser returns to after Discord
// sign-in is a path on this site however the redirect parameter is spelt.
// http.Redirect cleans the path, so "/./\evil.example" passed the check of
// its first characters and went out as "/\evil.example", which browsers
// follow to another host (they read "\" as "/"). Each sign-in completes; the
// callback's Location is checked as sent, not as Go's client resolves it.
func TestDiscordReturnStaysOnSite(t *testing.T) {
	t.Parallel()
	f := newFakeDiscord(t)
	h := newHarness(t, opts{discord: f.config(t)})
	f.allow(t, h.url)
	f.consentAs("100000000000000001")
	for _, back := range []string{`/./\evil.example`, `/x/../\evil.example/`, `/.\/evil.example`, "/./\t/evil.example",
		`/a\b`, "/\x7f/evil.example"} {
		c := browser(t, h, h.grant())
		var loc string
		c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if prev := via[len(via)-1]; prev.URL.Path == "/api/auth/discord/callback" {
				loc = req.Response.Header.Get("Location")
				return http.ErrUseLastResponse
			}
			return nil
		}
		navigate(t, c, h, "/api/auth/discord?redirect="+url.QueryEscape(back))
		if loc != "/" {
			t.Errorf("redirect=%q: the callback sent the browser to %q, want /", back, loc)
		}
	}
}
