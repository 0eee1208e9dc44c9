package community_test

import (
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
