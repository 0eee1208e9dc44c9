package stagechat_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// TestOneIdentity: a signed-in account chats under its account name (not
// the name it asks for, nor a generated one); no guest may take an
// account's name, even one that never chatted; an account's rename
// reaches its chat user, once, as a NAME_CHANGE; and a signed-in chat
// user's NAME_CHANGE renames the account.
func TestOneIdentity(t *testing.T) {
	t.Parallel()
	s, pub, idn := newService(t, stagechat.PresenceConfig{})
	ctx := context.Background()
	alice, err := idn.Register(ctx, identity.RegisterInput{Username: "alice", Password: "correct horse", DisplayName: "Alice L"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := idn.Register(ctx, identity.RegisterInput{Username: "quiet", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}

	u, _, err := s.Register(ctx, "somebody else", "", &identity.Principal{Account: alice, SessionID: identity.NewID()})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != alice.ID || u.DisplayName != "Alice L" {
		t.Fatalf("signed-in chat user = %s %q, want the account and its name", u.ID, u.DisplayName)
	}

	for _, name := range []string{"quiet", "QUIET", "alice", "alice l"} {
		g, _, err := s.Register(ctx, name, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if g.ID == alice.ID || strings.EqualFold(g.DisplayName, name) {
			t.Fatalf("guest registered as %q got %q: an account's name", name, g.DisplayName)
		}
		if _, _, err := s.ChangeName(ctx, g, name); !errors.Is(err, stagechat.ErrNameTaken) {
			t.Fatalf("guest rename to %q: err = %v, want ErrNameTaken", name, err)
		}
	}

	// Renamed through another surface: the chat user follows, once.
	if _, err := idn.Rename(ctx, alice.ID, "Alice Pleasance"); err != nil {
		t.Fatal(err)
	}
	ev := identity.Renamed{ID: identity.NewID(), AccountID: alice.ID, Name: "Alice Pleasance", OldName: "Alice L"}
	for range 2 { // two nodes hear the same event
		if err := s.AccountRenamed(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.CachedUser(ctx, alice.ID); got.DisplayName != "Alice Pleasance" {
		t.Fatalf("chat name after the account's rename = %q", got.DisplayName)
	}
	if n := len(pub.ofType(stagechat.EventNameChange)); n != 1 {
		t.Fatalf("%d NAME_CHANGE events for one rename, want 1", n)
	}
	// A node that claimed a rename and was killed before it saved it: the
	// node hearing the same event still saves the name (its announcement
	// went with the dead node).
	if _, err := idn.Rename(ctx, alice.ID, "Alice Liddell"); err != nil {
		t.Fatal(err)
	}
	ev = identity.Renamed{ID: identity.NewID(), AccountID: alice.ID, Name: "Alice Liddell", OldName: "Alice Pleasance"}
	if first, err := s.ClaimOnce(ctx, "identity.renamed:"+ev.ID); err != nil || !first {
		t.Fatalf("the dead node's claim: %v %v", first, err)
	}
	if err := s.AccountRenamed(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.CachedUser(ctx, alice.ID); got.DisplayName != "Alice Liddell" {
		t.Fatalf("chat name after a rename whose claimer died = %q", got.DisplayName)
	}

	// Renamed in chat: the account follows.
	cur, _ := s.User(ctx, alice.ID)
	if _, _, err := s.ChangeName(ctx, cur, "Alice in Chat"); err != nil {
		t.Fatal(err)
	}
	if a, _ := idn.Account(ctx, alice.ID); a.Name() != "Alice in Chat" {
		t.Fatalf("account name after a chat rename = %q", a.Name())
	}
	if _, _, err := s.ChangeName(ctx, cur, "quiet"); !errors.Is(err, stagechat.ErrNameTaken) {
		t.Fatalf("account rename to another account's name: %v", err)
	}
}
