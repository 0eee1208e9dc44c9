package community

// ServerPerms is the server-wide permission set of a member: role bits only;
// the owner and ADMINISTRATOR holders have every bit.
func ServerPerms(isOwner bool, roleIDs []string, roles map[string]*Role) int64 {
	if isOwner {
		return AllPerms
	}
	var p int64
	for _, id := range roleIDs {
		if r := roles[id]; r != nil {
			p |= r.Permissions
		}
	}
	if p&PermAdministrator != 0 {
		return AllPerms
	}
	return p
}

// ChannelPerms resolves a member's bits in a channel: the implicit member
// defaults OR'd with role bits (owner/ADMINISTRATOR: everything), then the
// role overrides (all denies cleared, then all allows added), then the
// member's own override.
func ChannelPerms(isOwner bool, accountID string, roleIDs []string, roles map[string]*Role, overrides []*Override) int64 {
	base := ServerPerms(isOwner, roleIDs, roles)
	if base == AllPerms {
		return AllPerms
	}
	base |= DefaultMemberPerms
	has := make(map[string]bool, len(roleIDs))
	for _, id := range roleIDs {
		has[id] = true
	}
	var allow, deny int64
	var user *Override
	for _, o := range overrides {
		switch {
		case o.RoleID != nil && has[*o.RoleID]:
			allow |= o.Allow
			deny |= o.Deny
		case o.AccountID != nil && *o.AccountID == accountID:
			user = o
		}
	}
	base = (base &^ deny) | allow
	if user != nil {
		base = (base &^ user.Deny) | user.Allow
	}
	return base
}
