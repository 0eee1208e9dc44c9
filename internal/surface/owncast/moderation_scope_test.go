package owncast_test

import (
	"testing"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
)

// TestChatModerationStaysInTheStageChat: Owncast's moderation reaches the
// stage chat only. A moderator's (or an integration's) hide naming a
// message of another conversation in the same store (a community channel,
// a DM, a watch room) leaves it as it was, while the stage chat's own
// message is hidden; a moderator cannot disable an instance admin or any
// signed-up account (a chat user is its account: that would lock it out
// everywhere), nor re-enable a signed-up account the admin disabled.
func TestChatModerationStaysInTheStageChat(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	ctx := t.Context()
	mod, author := n.register(t, "mod"), n.register(t, "author")
	if r := n.do(t, "POST", "/api/admin/chat/users/setmoderator", "admin", map[string]any{"userId": mod.ID, "isModerator": true}); r.status != 200 {
		t.Fatalf("setmoderator: %d %s", r.status, r.body)
	}
	var tok map[string]any
	n.do(t, "POST", "/api/admin/accesstokens/create", "admin", map[string]any{"name": "t",
		"scopes": []string{"HAS_ADMIN_ACCESS"}}).json(t, &tok)
	elsewhere, err := n.msgs.Post(ctx, messages.PostInput{ConversationID: "channel-of-a-private-server", Kind: messages.KindChannel,
		AuthorID: author.ID, Body: "not the stage chat's"})
	if err != nil {
		t.Fatal(err)
	}
	stage, err := n.msgs.Post(ctx, messages.PostInput{ConversationID: n.chat.Conversation(), Kind: messages.KindStage,
		AuthorID: author.ID, Body: "the stage chat's"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, auth string }{
		{"/api/chat/messagevisibility?accessToken=" + mod.AccessToken, ""},
		{"/api/integrations/chat/messagevisibility", "bearer:" + tok["accessToken"].(string)},
	} {
		n.do(t, "POST", c.path, c.auth, map[string]any{"idArray": []string{elsewhere.ID, stage.ID}, "visible": false})
		if m, err := n.msgs.Get(ctx, elsewhere.ID); err != nil || m.Hidden {
			t.Fatalf("%s hid another conversation's message: %+v %v", c.path, m, err)
		}
		if m, err := n.msgs.Get(ctx, stage.ID); err != nil || !m.Hidden {
			t.Fatalf("%s did not hide the stage chat's message: %+v %v", c.path, m, err)
		}
		n.do(t, "POST", "/api/admin/chat/messagevisibility", "admin", map[string]any{"idArray": []string{stage.ID}, "visible": true})
	}

	admin, err := n.id.Store().AccountByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	sess, err := n.id.OpenSession(ctx, admin, "test")
	if err != nil {
		t.Fatal(err)
	}
	var chat registration
	n.do(t, "POST", "/api/chat/register", "bearer:"+sess.AccessToken, map[string]any{}).json(t, &chat)
	if chat.ID != admin.ID {
		t.Fatalf("the admin's chat user %q", chat.ID)
	}
	if r := n.do(t, "POST", "/api/chat/users/setenabled?accessToken="+mod.AccessToken, "", map[string]any{"userId": admin.ID, "enabled": false}); r.status != 403 {
		t.Fatalf("a moderator disabling the instance admin: %d %s", r.status, r.body)
	}
	if r := n.do(t, "GET", "/api/admin/serverconfig", "admin", nil); r.status != 200 {
		t.Fatalf("the admin after a moderator's try: %d", r.status)
	}
	// Another chat user is still the moderator's to remove, and a guest the
	// moderator's to restore.
	if r := n.do(t, "POST", "/api/chat/users/setenabled?accessToken="+mod.AccessToken, "", map[string]any{"userId": author.ID, "enabled": false}); r.status != 200 {
		t.Fatalf("a moderator disabling a chat user: %d %s", r.status, r.body)
	}
	if r := n.do(t, "POST", "/api/chat/users/setenabled?accessToken="+mod.AccessToken, "", map[string]any{"userId": author.ID, "enabled": true}); r.status != 200 {
		t.Fatalf("a moderator re-enabling a guest: %d %s", r.status, r.body)
	}

	// A signed-up account the admin disabled (here through identity, as
	// Together's admin API does) stays disabled whatever a moderator says.
	fan, err := n.id.Register(ctx, identity.RegisterInput{Username: "fan", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := n.id.OpenSession(ctx, fan, "test")
	if err != nil {
		t.Fatal(err)
	}
	n.do(t, "POST", "/api/chat/register", "bearer:"+fs.AccessToken, map[string]any{})
	// Nor is it the moderator's to disable: that would lock its owner out
	// of every community and room.
	if r := n.do(t, "POST", "/api/chat/users/setenabled?accessToken="+mod.AccessToken, "", map[string]any{"userId": fan.ID, "enabled": false}); r.status != 403 {
		t.Fatalf("a moderator disabling a signed-up account: %d %s", r.status, r.body)
	}
	if a, err := n.id.Account(ctx, fan.ID); err != nil || a.Disabled() {
		t.Fatalf("the account after a moderator's disable: %+v %v", a, err)
	}
	if _, err := n.id.SetDisabled(ctx, fan.ID, true); err != nil {
		t.Fatal(err)
	}
	if r := n.do(t, "POST", "/api/chat/users/setenabled?accessToken="+mod.AccessToken, "", map[string]any{"userId": fan.ID, "enabled": true}); r.status != 403 {
		t.Fatalf("a moderator re-enabling an account the admin disabled: %d %s", r.status, r.body)
	}
	if a, err := n.id.Account(ctx, fan.ID); err != nil || !a.Disabled() {
		t.Fatalf("the account after a moderator's re-enable: %+v %v", a, err)
	}
}
