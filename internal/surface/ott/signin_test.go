package ott_test

import (
	"strconv"
	"testing"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/watch"
)

// TestLoginBruteForceLimited: wrong passwords on /api/user/login reach
// OTT's login 429 ({error:{name:"TooManyRequests"}} with Retry-After), and
// then the right password is refused too (issue 13: 410 wrong passwords had
// all been 401 and the right one then worked).
func TestLoginBruteForceLimited(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	tok := h.grant()
	if r := h.do("POST", "/api/user/register", tok, map[string]any{"username": "alice", "password": "Passw0rdLong"}); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	r := loginUntil429(t, func() resp {
		return h.do("POST", "/api/user/login", tok, map[string]any{"user": "alice", "password": "wrong-password"})
	}, 401)
	if r.errName() != "TooManyRequests" || r.header.Get("Retry-After") == "" {
		t.Fatalf("limited login: %d %s %v", r.status, r.raw, r.header)
	}
	if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if r := h.do("POST", "/api/user/login", tok, map[string]any{"user": "alice", "password": "Passw0rdLong"}); r.status != 429 || r.errName() != "TooManyRequests" {
		t.Fatalf("right password while limited: %d %s", r.status, r.raw)
	}
}

// TestChangePasswordBruteForceLimited: PATCH /api/user/account re-asks the
// current password; wrong ones are sign-in failures of the account, so a
// stolen session cannot guess the password either. The 429 is OTT's error
// envelope, with Retry-After, and the right current password is refused
// while limited.
func TestChangePasswordBruteForceLimited(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	tok := h.grant()
	if r := h.do("POST", "/api/user/register", tok, map[string]any{"username": "bob", "password": "Passw0rdLong"}); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	r := loginUntil429(t, func() resp {
		return h.do("PATCH", "/api/user/account", tok, map[string]any{"currentPassword": "wrong-password", "newPassword": "NewPassw0rd"})
	}, 400)
	if r.errName() != "TooManyRequests" || r.body["success"] != false || r.header.Get("Retry-After") == "" {
		t.Fatalf("limited change: %d %s %v", r.status, r.raw, r.header)
	}
	r = h.do("PATCH", "/api/user/account", tok, map[string]any{"currentPassword": "Passw0rdLong", "newPassword": "NewPassw0rd"})
	if r.status != 429 {
		t.Fatalf("right current password while limited: %d %s", r.status, r.raw)
	}
	if _, err := h.id.CheckCredentials(t.Context(), "bob", "NewPassw0rd", "192.0.2.1"); err == nil {
		t.Fatal("the password changed while limited")
	}
}

// loginUntil429 repeats try until it answers 429, which must come within
// 50 tries; every earlier answer must have status fail.
func loginUntil429(t *testing.T, try func() resp, fail int) resp {
	t.Helper()
	for i := range 50 {
		r := try()
		if r.status == 429 {
			if i == 0 {
				t.Fatal("limited before any failure")
			}
			return r
		}
		if r.status != fail {
			t.Fatalf("try %d: %d %s", i, r.status, r.raw)
		}
	}
	t.Fatal("50 wrong passwords and no 429")
	return resp{}
}

// TestLoginWithAccessToken: Hearth's extension of /api/user/login links a
// watch-room token to the account of a live sign-in session's access token
// (what Hearth's web app sends when it signs in from stored tokens, without
// the password). Bad, revoked and bot tokens answer 401 and leave the
// session a guest.
func TestLoginWithAccessToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	ctx := t.Context()
	if r := h.do("POST", "/api/user/register", h.grant(), map[string]any{"username": "carol", "password": "Passw0rdLong"}); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	carol, toks, err := h.id.Login(ctx, "carol", "Passw0rdLong", "test", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	_, _, botRaw, err := h.id.CreateBot(ctx, carol.ID, "carolbot", "Carol's bot")
	if err != nil {
		t.Fatal(err)
	}
	botP, err := h.id.AuthenticateToken(ctx, identity.BotToken, botRaw)
	if err != nil {
		t.Fatal(err)
	}
	botAccess, _, err := h.id.ExchangeBotToken(ctx, botP)
	if err != nil {
		t.Fatal(err)
	}
	_, revoked, err := h.id.Login(ctx, "carol", "Passw0rdLong", "test", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.id.Logout(ctx, revoked.SessionID); err != nil {
		t.Fatal(err)
	}

	tok := h.grant()
	guest := func(what string) {
		t.Helper()
		if r := h.do("GET", "/api/user", tok, nil); r.status != 200 || r.body["loggedIn"] != false {
			t.Fatalf("%s: the session is not a guest: %d %s", what, r.status, r.raw)
		}
	}
	for _, c := range []struct{ name, token string }{
		{"garbage", "not-a-token"},
		{"refresh token", toks.RefreshToken},
		{"revoked session", revoked.AccessToken},
		{"bot", botAccess},
	} {
		if r := h.do("POST", "/api/user/login", tok, map[string]any{"accessToken": c.token}); r.status != 401 || r.body["success"] != false {
			t.Fatalf("%s: %d %s, want 401", c.name, r.status, r.raw)
		}
		guest(c.name)
	}

	r := h.do("POST", "/api/user/login", tok, map[string]any{"accessToken": toks.AccessToken})
	if r.status != 200 || r.body["success"] != true {
		t.Fatalf("link: %d %s", r.status, r.raw)
	}
	if u, _ := r.body["user"].(map[string]any); u["username"] != "carol" {
		t.Fatalf("link answered %s", r.raw)
	}
	if r := h.do("GET", "/api/user", tok, nil); r.status != 200 || r.body["loggedIn"] != true || r.body["username"] != "carol" {
		t.Fatalf("after linking: %d %s", r.status, r.raw)
	}
}

// TestPasswordChangeSignsOutOtherTokens: a password change signs out every
// OTT token signed in to the account (each acts as its guest again, as
// after OTT's logout) and closes their room sockets with 1001, so a token
// taken before the change does not outlive it; the token that changed the
// password over OTT stays signed in, as on OpenTogetherTube. A password
// set elsewhere (Together's change-password, the admin) signs out all of
// them.
func TestPasswordChangeSignsOutOtherTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	ctx := t.Context()
	mine := h.grant()
	if r := h.do("POST", "/api/user/register", mine, map[string]any{"username": "dora", "password": "Passw0rdLong"}); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	login := func(pw string) string {
		t.Helper()
		tok := h.grant()
		if r := h.do("POST", "/api/user/login", tok, map[string]any{"user": "dora", "password": pw}); r.status != 200 {
			t.Fatalf("login: %d %s", r.status, r.raw)
		}
		return tok
	}
	stolen := login("Passw0rdLong")
	h.createRoom(mine, "pwroom", nil)
	ws, _ := h.join("pwroom", stolen)
	own, _ := h.join("pwroom", mine)

	r := h.do("PATCH", "/api/user/account", mine, map[string]any{"currentPassword": "Passw0rdLong", "newPassword": "NewPassw0rd1"})
	if r.status != 200 {
		t.Fatalf("change: %d %s", r.status, r.raw)
	}
	if h.loggedIn(stolen) {
		t.Fatal("a token signed in before the password change is still signed in")
	}
	if r := h.do("GET", "/api/user/account", stolen, nil); r.status == 200 {
		t.Fatalf("the old token still reads the account: %s", r.raw)
	}
	if code := ws.closeCode(); code != websocket.StatusGoingAway {
		t.Fatalf("the old token's room socket: close %d, want 1001", code)
	}
	if !h.loggedIn(mine) {
		t.Fatal("the token that changed the password was signed out")
	}
	// The changer's own socket stays.
	own.req(watch.ReqChat, map[string]any{"text": "still here"})
	own.until("chat")

	// A password set by another surface signs out every token.
	other := login("NewPassw0rd1")
	acct, err := h.id.Store().AccountByUsername(ctx, "dora")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.id.SetPassword(ctx, acct.ID, "ThirdPassw0rd"); err != nil {
		t.Fatal(err)
	}
	if h.loggedIn(other) || h.loggedIn(mine) {
		t.Fatal("a token outlived a password set elsewhere")
	}
	if code := own.closeCode(); code != websocket.StatusGoingAway {
		t.Fatalf("room socket after a password set elsewhere: close %d, want 1001", code)
	}
	// A signed-out token can sign in again with the new password.
	if r := h.do("POST", "/api/user/login", other, map[string]any{"user": "dora", "password": "ThirdPassw0rd"}); r.status != 200 || !h.loggedIn(other) {
		t.Fatalf("login again: %d %s", r.status, r.raw)
	}
	// Disabling the account closes its sockets as a kick (4005) and signs
	// its tokens out.
	again, _ := h.join("pwroom", other)
	if _, err := h.id.SetDisabled(ctx, acct.ID, true); err != nil {
		t.Fatal(err)
	}
	if code := again.closeCode(); code != 4005 {
		t.Fatalf("room socket of a disabled account: close %d, want 4005", code)
	}
	if h.loggedIn(other) {
		t.Fatal("a disabled account's token is still signed in")
	}
}

// TestSessionRoutesWithTheAPIKeyAlone: the admin apikey lets a request
// through the token check without a token; the routes that act on the
// caller's session then have none and answer MissingToken (400), not a
// server error.
func TestSessionRoutesWithTheAPIKeyAlone(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	for _, c := range []struct {
		path string
		body map[string]any
	}{
		{"/api/user/logout", nil},
		{"/api/user", map[string]any{"username": "someone"}},
		{"/api/user/login", map[string]any{"user": "nobody", "password": "Passw0rdLong"}},
		{"/api/user/register", map[string]any{"username": "keyonly", "password": "Passw0rdLong"}},
	} {
		r := h.do("POST", c.path, "", c.body, "apikey", testAPIKey)
		if r.status != 400 || r.errName() != "MissingToken" {
			t.Errorf("%s with the apikey and no token: %d %s", c.path, r.status, r.raw)
		}
	}
}

// TestLogoutSignsOutLinkedTokens: an OTT token signed in with a Hearth
// access token (POST /api/user/login {accessToken}) is signed out when that
// session is (logout, or a refresh token's reuse revoking it): it acts as
// its guest again and its room socket is closed with 1001, as a password
// change does. Tokens linked with another session, or signed in with the
// password, stay. Before, the OTT token acted as the account for its 240
// days whatever became of the session that signed it in. Both engines.
func TestLogoutSignsOutLinkedTokens(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, opts{db: eng.Open})
			ctx := t.Context()
			pw := h.grant()
			if r := h.do("POST", "/api/user/register", pw, map[string]any{"username": "lena", "password": "Passw0rdLong"}); r.status != 201 {
				t.Fatalf("register: %d %s", r.status, r.raw)
			}
			link := func() (string, *identity.Tokens) {
				t.Helper()
				_, toks, err := h.id.Login(ctx, "lena", "Passw0rdLong", "test", "192.0.2.1")
				if err != nil {
					t.Fatal(err)
				}
				tok := h.grant()
				if r := h.do("POST", "/api/user/login", tok, map[string]any{"accessToken": toks.AccessToken}); r.status != 200 {
					t.Fatalf("link: %d %s", r.status, r.raw)
				}
				return tok, toks
			}
			linked, toks := link()
			other, _ := link()
			h.createRoom(pw, "linkroom", nil)
			ws, _ := h.join("linkroom", linked)

			if err := h.id.Logout(ctx, toks.SessionID); err != nil {
				t.Fatal(err)
			}
			if h.loggedIn(linked) {
				t.Fatal("a token signed in with a session's access token outlived the session's logout")
			}
			if r := h.do("GET", "/api/user/account", linked, nil); r.status == 200 {
				t.Fatalf("the signed-out token still reads the account: %s", r.raw)
			}
			if code := ws.closeCode(); code != websocket.StatusGoingAway {
				t.Fatalf("the signed-out token's room socket: close %d, want 1001", code)
			}
			if !h.loggedIn(other) || !h.loggedIn(pw) {
				t.Fatal("a token of another session, or signed in with the password, was signed out")
			}

			// A refresh token's reuse revokes its session, and the token goes too.
			reused, rt := link()
			if _, _, err := h.id.RefreshFrom(ctx, rt.RefreshToken, "test"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := h.id.RefreshFrom(ctx, rt.RefreshToken, "another client"); err == nil {
				t.Fatal("a reused refresh token was taken")
			}
			if h.loggedIn(reused) {
				t.Fatal("a token outlived its session's revocation for a reused refresh token")
			}
		})
	}
}
