package app_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
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
	// Registering again with the signed-out access token is refused, not
	// turned into a guest: the page renews its token and asks again.
	for _, tok := range []string{first.AccessToken, "not-a-token"} {
		var g struct{ ID string }
		if code := call(t, "POST", base+"/api/chat/register", tok, map[string]any{}, &g); code != 401 {
			t.Errorf("chat register with a dead access token: %d (user %q), want 401", code, g.ID)
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

// TestChatSocketsOpenedDuringSignOut: chat sockets opened with a signed-in
// account's chat token while its session signs out are all closed, not
// only those registered before the revocation looked for them: a socket
// that passed the token check just before the logout, and was registered
// just after, stayed open and kept receiving the chat. Six rounds of 32
// dials racing one logout; a guest's line after each logout reaches none of
// them.
func TestChatSocketsOpenedDuringSignOut(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	wsBase := "ws" + strings.TrimPrefix(base, "http")
	register(t, base, "racer")
	var guest struct{ AccessToken string }
	if code := call(t, "POST", base+"/api/chat/register", "", map[string]any{}, &guest); code != 200 {
		t.Fatalf("guest register: %d", code)
	}
	gws := dialSocket(t, wsBase+"/ws?accessToken="+guest.AccessToken)
	gws.await("CONNECTED_USER_INFO", func(f map[string]any) bool { return f["type"] == "CONNECTED_USER_INFO" })
	for round := range 6 {
		var l login
		if code := call(t, "POST", base+"/auth/login", "", map[string]string{"username": "racer", "password": "password1"}, &l); code != 200 {
			t.Fatalf("sign-in: %d", code)
		}
		var reg struct{ AccessToken string }
		if code := call(t, "POST", base+"/api/chat/register", l.AccessToken, map[string]any{}, &reg); code != 200 {
			t.Fatalf("chat register: %d", code)
		}
		var mu sync.Mutex
		var conns []*websocket.Conn
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 33 {
			wg.Go(func() {
				<-start
				if i == 16 {
					req, _ := http.NewRequest("POST", base+"/auth/logout", nil)
					req.Header.Set("Authorization", "Bearer "+l.AccessToken)
					if res, err := http.DefaultClient.Do(req); err == nil {
						res.Body.Close()
					}
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
				defer cancel()
				c, _, err := websocket.Dial(ctx, wsBase+"/ws?accessToken="+reg.AccessToken, nil)
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		if code := call(t, "GET", base+"/api/chat?accessToken="+reg.AccessToken, "", nil, nil); code != 401 {
			t.Fatalf("round %d: the token after the logout: %d", round, code)
		}
		line := "after sign-out " + string(rune('a'+round))
		gws.send(map[string]any{"type": "CHAT", "body": line})
		gws.await("the guest's line", func(f map[string]any) bool {
			b, _ := f["body"].(string)
			return f["type"] == "CHAT" && strings.Contains(b, line)
		})
		open := 0
		for _, c := range conns {
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			for {
				_, data, err := c.Read(ctx)
				if err != nil {
					break // closed
				}
				if bytes.Contains(data, []byte(line)) {
					open++
					break
				}
			}
			cancel()
			_ = c.CloseNow()
		}
		if open > 0 {
			t.Fatalf("round %d: %d of %d chat sockets of the signed-out session still got the chat", round, open, len(conns))
		}
	}
}
