package app_test

import (
	"strings"
	"testing"
	"time"
)

// TestLogoutSignsOutTheSessionsChatTokens: an Owncast chat token taken with
// a Hearth access token (POST /api/chat/register with Authorization) lasts
// as long as the session it was taken with. Signing that session out
// (POST /auth/logout) deletes the token, so the REST routes answer 401 and
// its open chat socket is closed; a reconnect is told to register again. A
// token the same account took with another session, and a guest's, keep
// working.
func TestLogoutSignsOutTheSessionsChatTokens(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	wsBase := "ws" + strings.TrimPrefix(base, "http")
	first := register(t, base, "leaver")
	var second login
	if code := call(t, "POST", base+"/auth/login", "", map[string]string{"username": "leaver", "password": "password1"}, &second); code != 200 {
		t.Fatalf("second sign-in: %d", code)
	}
	type reg struct{ ID, AccessToken string }
	var mine, other, guest reg
	for _, c := range []struct {
		token string
		into  *reg
	}{{first.AccessToken, &mine}, {second.AccessToken, &other}, {"", &guest}} {
		if code := call(t, "POST", base+"/api/chat/register", c.token, map[string]any{}, c.into); code != 200 {
			t.Fatalf("chat register: %d", code)
		}
	}
	if mine.ID != first.User.ID || other.ID != first.User.ID {
		t.Fatalf("chat users %q %q, want the account %q", mine.ID, other.ID, first.User.ID)
	}
	ws := dialSocket(t, wsBase+"/ws?accessToken="+mine.AccessToken)
	ws.await("CONNECTED_USER_INFO", func(f map[string]any) bool { return f["type"] == "CONNECTED_USER_INFO" })

	if code := call(t, "POST", base+"/auth/logout", first.AccessToken, nil, nil); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	if code := call(t, "GET", base+"/api/chat?accessToken="+mine.AccessToken, "", nil, nil); code != 401 {
		t.Fatalf("the signed-out session's chat token: %d, want 401", code)
	}
	// The open socket is closed.
	deadline := time.After(hangGuard)
	for open := true; open; {
		select {
		case _, open = <-ws.frames:
		case <-deadline:
			t.Fatal("the signed-out session's chat socket stayed open")
		}
	}
	again := dialSocket(t, wsBase+"/ws?accessToken="+mine.AccessToken)
	again.await("ERROR_NEEDS_REGISTRATION", func(f map[string]any) bool { return f["type"] == "ERROR_NEEDS_REGISTRATION" })
	for name, tok := range map[string]string{"another session's": other.AccessToken, "a guest's": guest.AccessToken} {
		if code := call(t, "GET", base+"/api/chat?accessToken="+tok, "", nil, nil); code != 200 {
			t.Errorf("%s chat token after the logout: %d, want 200", name, code)
		}
	}
}
