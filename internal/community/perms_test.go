package community_test

import (
	"errors"
	"testing"

	"github.com/hearth-community/hearth/internal/community"
)

func sp(s string) *string { return &s }

func TestChannelPermsResolution(t *testing.T) {
	t.Parallel()
	roles := map[string]*community.Role{
		"mod":   {ID: "mod", Permissions: community.PermManageMessages | community.PermKickMembers},
		"admin": {ID: "admin", Permissions: community.PermAdministrator},
		"muted": {ID: "muted"},
	}
	const u = "user"
	cases := []struct {
		name  string
		owner bool
		roles []string
		ovs   []*community.Override
		want  int64
	}{
		{"plain member gets the implicit 123", false, nil, nil, 123},
		{"role bits add", false, []string{"mod"}, nil, 123 | 4 | 256},
		{"owner gets everything", true, nil, []*community.Override{{AccountID: sp(u), Deny: 1}}, community.AllPerms},
		{"administrator gets everything", false, []string{"admin"}, []*community.Override{{RoleID: sp("admin"), Deny: 1}}, community.AllPerms},
		{"role deny clears", false, []string{"muted"}, []*community.Override{{RoleID: sp("muted"), Deny: community.PermSendMessages}}, 121},
		{"role allow wins over another role's deny", false, []string{"muted", "mod"}, []*community.Override{
			{RoleID: sp("muted"), Deny: community.PermSendMessages}, {RoleID: sp("mod"), Allow: community.PermSendMessages}}, 123 | 4 | 256},
		{"user override last", false, []string{"mod"}, []*community.Override{
			{RoleID: sp("mod"), Allow: 0}, {AccountID: sp(u), Deny: community.PermViewChannel}}, (123 | 4 | 256) &^ 1},
		{"other user's override ignored", false, nil, []*community.Override{{AccountID: sp("other"), Deny: 1}}, 123},
		{"role override of a role not held ignored", false, nil, []*community.Override{{RoleID: sp("mod"), Deny: 1}}, 123},
	}
	for _, c := range cases {
		if got := community.ChannelPerms(c.owner, u, c.roles, roles, c.ovs); got != c.want {
			t.Errorf("%s: got %d want %d", c.name, got, c.want)
		}
	}
	if got := community.ServerPerms(false, nil, roles); got != 0 {
		t.Errorf("server perms have no implicit defaults: %d", got)
	}
}

// TestMessageRules: who may view, edit, delete, react in, pin in and attach
// to a channel's messages, and manage or export a community, is decided
// here, whichever surface asks.
func TestMessageRules(t *testing.T) {
	t.Parallel()
	me, other := "me", "other"
	ca := func(owner bool, server, channel int64) *community.ChannelAccess {
		return &community.ChannelAccess{Access: &community.Access{AccountID: me, IsOwner: owner, Perms: server}, Perms: channel}
	}
	member := ca(false, community.DefaultMemberPerms, community.DefaultMemberPerms)
	bare := ca(false, 0, 0)
	mod := ca(false, community.PermManageMessages, community.PermManageMessages|community.PermViewChannel)
	owner := ca(true, community.AllPerms, community.AllPerms)
	if !community.CanView(community.DefaultMemberPerms) || community.CanView(community.AllPerms&^community.PermViewChannel) {
		t.Error("CanView does not follow VIEW_CHANNEL")
	}
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"member views", member.MayView(), nil},
		{"no VIEW_CHANNEL", bare.MayView(), community.ErrChannelNotFound},
		{"author edits", bare.MayEdit(&me), nil},
		{"owner edits another's", owner.MayEdit(&other), community.ErrEditOthers},
		{"edit a system message", owner.MayEdit(nil), community.ErrEditOthers},
		{"author deletes", bare.MayDelete(&me), nil},
		{"member deletes another's", member.MayDelete(&other), community.ErrDeleteMessage},
		{"MANAGE_MESSAGES deletes", mod.MayDelete(&other), nil},
		{"owner deletes", owner.MayDelete(nil), nil},
		{"member reacts", member.MayReact(true), nil},
		{"no ADD_REACTIONS", bare.MayReact(true), community.ErrReact},
		{"remove own reaction", bare.MayReact(false), nil},
		{"member pins", member.MayPin(), community.ErrPin},
		{"MANAGE_MESSAGES pins", mod.MayPin(), nil},
		{"attach to own", member.MayAttach(&me), nil},
		{"attach to another's", owner.MayAttach(&other), community.ErrAttachOthers},
		{"no ATTACH_FILES", bare.MayAttach(&me), community.ErrAttach},
		{"member manages emojis", member.MayManageEmojis(), community.ErrManageEmojis},
		{"MANAGE_SERVER manages emojis", ca(false, community.PermManageServer, 0).MayManageEmojis(), nil},
		{"owner manages emojis", owner.MayManageEmojis(), nil},
		{"member exports", member.MayExport(), community.ErrServerNotFound},
		{"owner exports", owner.MayExport(), nil},
		{"member joins a call", member.MayConnectVoice(), nil},
		{"no CONNECT_VOICE", bare.MayConnectVoice(), community.ErrConnectVoice},
		{"broadcaster stops Go Live", bare.MayStopGoLive(me), nil},
		{"member stops another's Go Live", member.MayStopGoLive(other), community.ErrStopGoLive},
		{"MUTE_MEMBERS stops another's Go Live", ca(false, 0, community.PermMuteMembers).MayStopGoLive(other), nil},
	} {
		if !errors.Is(tc.err, tc.want) || (tc.want == nil) != (tc.err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
}
