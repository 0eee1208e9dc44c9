package app_test

import (
	"context"
	"strings"
	"testing"
)

// TestOneIdentityAcrossSurfaces: Owncast's chat register with a Hearth
// access token chats as the account under its account name; a guest
// cannot register or rename into an account's name, even one that never
// chatted; and an account's rename on any surface reaches its stage chat
// user as Owncast's NAME_CHANGE.
func TestOneIdentityAcrossSurfaces(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	alice := register(t, base, "alice")
	register(t, base, "quietbob") // never chats

	var reg struct{ ID, AccessToken, DisplayName string }
	if code := call(t, "POST", base+"/api/chat/register", alice.AccessToken, map[string]string{"displayName": "someone"}, &reg); code != 200 {
		t.Fatalf("register with a token: %d", code)
	}
	if reg.ID != alice.User.ID || reg.DisplayName != "alice" {
		t.Fatalf("signed-in chat user = %s %q, want %s \"alice\"", reg.ID, reg.DisplayName, alice.User.ID)
	}

	for _, name := range []string{"ALICE", "QuietBob"} {
		var g struct{ ID, AccessToken, DisplayName string }
		if code := call(t, "POST", base+"/api/chat/register", "", map[string]string{"displayName": name}, &g); code != 200 {
			t.Fatalf("guest register: %d", code)
		}
		if strings.EqualFold(g.DisplayName, name) || g.ID == alice.User.ID {
			t.Fatalf("a guest registered as %q got %q (an account's name)", name, g.DisplayName)
		}
	}

	ws := dialSocket(t, "ws"+strings.TrimPrefix(base, "http")+"/ws?accessToken="+reg.AccessToken)
	ws.await("CONNECTED_USER_INFO", func(f map[string]any) bool { return f["type"] == "CONNECTED_USER_INFO" })
	if _, err := a.Identity.Rename(context.Background(), alice.User.ID, "Alice Liddell"); err != nil {
		t.Fatal(err)
	}
	f := ws.await("NAME_CHANGE", func(f map[string]any) bool { return f["type"] == "NAME_CHANGE" })
	if u, _ := f["user"].(map[string]any); u["displayName"] != "Alice Liddell" || f["oldName"] != "alice" {
		t.Fatalf("NAME_CHANGE = %v", f)
	}
}
