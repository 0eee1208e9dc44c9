package owncast_test

import (
	"testing"

	"github.com/hearth-community/hearth/internal/identity"
)

// TestPasswordChangeSignsOutChatTokens: a Hearth account's stage chat
// tokens (registered with its access token) are signed out by a password
// change, as its sessions and OTT tokens are: the REST routes answer 401
// and an open chat socket is told to register again and closed, so a token
// taken before the change does not keep chatting (or moderating) as the
// account. Another user's token is untouched, and the account registers
// again with a fresh session.
func TestPasswordChangeSignsOutChatTokens(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	ctx := t.Context()
	acct, err := n.id.Register(ctx, identity.RegisterInput{Username: "chatter", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	session := func() string {
		t.Helper()
		tk, err := n.id.OpenSession(ctx, acct, "test")
		if err != nil {
			t.Fatal(err)
		}
		return "bearer:" + tk.AccessToken
	}
	var stolen registration
	if r := n.do(t, "POST", "/api/chat/register", session(), map[string]any{}); r.status != 200 {
		t.Fatalf("register: %d %s", r.status, r.body)
	} else {
		r.json(t, &stolen)
	}
	if stolen.ID != acct.ID {
		t.Fatalf("chat user %q is not the account %q", stolen.ID, acct.ID)
	}
	guest := n.register(t, "guest")
	ws := n.dial(t, stolen.AccessToken)
	ws.await("CONNECTED_USER_INFO", nil)
	gws := n.dial(t, guest.AccessToken)
	gws.await("CONNECTED_USER_INFO", nil)

	if err := n.id.SetPassword(ctx, acct.ID, "password2"); err != nil {
		t.Fatal(err)
	}
	if r := n.do(t, "GET", "/api/chat?accessToken="+stolen.AccessToken, "", nil); r.status != 401 {
		t.Fatalf("the old chat token after the password change: %d %s", r.status, r.body)
	}
	ws.await("ERROR_NEEDS_REGISTRATION", nil)
	ws.awaitClosed()
	if r := n.do(t, "GET", "/api/chat?accessToken="+guest.AccessToken, "", nil); r.status != 200 {
		t.Fatalf("another user's token: %d", r.status)
	}
	gws.send(map[string]any{"type": "CHAT", "body": "still here"})
	gws.await("CHAT", nil)

	var again registration
	n.do(t, "POST", "/api/chat/register", session(), map[string]any{}).json(t, &again)
	if again.ID != acct.ID {
		t.Fatalf("registered again as %q", again.ID)
	}
	if r := n.do(t, "GET", "/api/chat?accessToken="+again.AccessToken, "", nil); r.status != 200 {
		t.Fatalf("the new chat token: %d", r.status)
	}
}
