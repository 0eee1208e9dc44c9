package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/identity"
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

	// Renamed in the chat: the account is renamed on every surface.
	renamed := make(chan identity.Renamed, 4)
	sub, err := a.Bus.Subscribe(identity.RenamedTopic, func(m bus.Message) {
		var r identity.Renamed
		if json.Unmarshal(m.Data, &r) == nil {
			renamed <- r
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	ws.send(map[string]any{"type": "NAME_CHANGE", "newName": "Rosie"})
	select {
	case r := <-renamed:
		if r.AccountID != alice.User.ID || r.Name != "Rosie" || r.OldName != "Alice Liddell" {
			t.Fatalf("rename announced = %+v", r)
		}
	case <-time.After(hangGuard):
		t.Fatal("a signed-in NAME_CHANGE did not rename the account")
	}
	if acct, err := a.Identity.Account(context.Background(), alice.User.ID); err != nil || acct.Name() != "Rosie" {
		t.Fatalf("account after a chat rename: %v %v", acct, err)
	}
	// A chat rename into another account's name is refused.
	ws.send(map[string]any{"type": "NAME_CHANGE", "newName": "QUIETBOB"})
	if f := ws.await("the refusal", func(f map[string]any) bool {
		return f["type"] == "CHAT_ACTION" || (f["type"] == "NAME_CHANGE" && f["oldName"] == "Rosie")
	}); f["type"] != "CHAT_ACTION" {
		t.Fatalf("a rename into another account's name was applied: %v", f)
	}
	if acct, _ := a.Identity.Account(context.Background(), alice.User.ID); acct.Name() != "Rosie" {
		t.Fatalf("renamed into another account's name: %q", acct.Name())
	}
}

// TestRenameOnTwoNodes: two nodes on one PostgreSQL and one NATS. An
// account renamed through OTT's POST /api/user on node A shows under its
// new name on its Owncast chat socket on node B, announced once for the
// cluster (both nodes hear the rename; one renames the chat user).
func TestRenameOnTwoNodes(t *testing.T) {
	t.Parallel()
	a, b := clusterPair(t, nil)
	alice := register(t, a.HTTP.URL(), "alicetwo")
	var reg struct{ ID, AccessToken, DisplayName string }
	if code := call(t, "POST", b.HTTP.URL()+"/api/chat/register", alice.AccessToken, map[string]any{}, &reg); code != 200 || reg.DisplayName != "alicetwo" {
		t.Fatalf("register on B: %d %+v", code, reg)
	}
	ws := dialSocket(t, "ws"+strings.TrimPrefix(b.HTTP.URL(), "http")+"/ws?accessToken="+reg.AccessToken)
	ws.await("CONNECTED_USER_INFO", func(f map[string]any) bool { return f["type"] == "CONNECTED_USER_INFO" })
	if _, err := a.Identity.Rename(context.Background(), alice.User.ID, "Alice Two"); err != nil {
		t.Fatal(err)
	}
	ws.await("NAME_CHANGE", func(f map[string]any) bool {
		u, _ := f["user"].(map[string]any)
		return f["type"] == "NAME_CHANGE" && u["displayName"] == "Alice Two"
	})
	// A marker after the rename: every NAME_CHANGE for it came before.
	ws.send(map[string]any{"type": "CHAT", "body": "marker"})
	seen := 0
	ws.await("the marker", func(f map[string]any) bool {
		if f["type"] == "NAME_CHANGE" {
			seen++
		}
		return f["type"] == "CHAT" && f["body"] != nil && strings.Contains(f["body"].(string), "marker")
	})
	if seen != 0 {
		t.Fatalf("%d more NAME_CHANGE events for one rename", seen)
	}
	if u, err := b.StageChat.User(context.Background(), alice.User.ID); err != nil || u.DisplayName != "Alice Two" || len(u.PreviousNames) != 1 {
		t.Fatalf("chat user after one rename: %+v %v", u, err)
	}
}
