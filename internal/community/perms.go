package community

import "github.com/hearth-community/hearth/internal/fault"

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

// The rules on a channel's messages beyond writing them (Post and Edit run
// CheckPost and CheckEdit), and on a community's emoji and export, as
// errors with fault kinds; a surface words them its own way (errors.Is).
var (
	ErrEditOthers    = fault.New(fault.Forbidden, "only its author edits a message")
	ErrDeleteMessage = fault.New(fault.Forbidden, "only the author, the owner or MANAGE_MESSAGES may delete a message")
	ErrReact         = fault.New(fault.Forbidden, "ADD_REACTIONS is needed to react")
	ErrPin           = fault.New(fault.Forbidden, "MANAGE_MESSAGES is needed to pin or unpin")
	ErrAttachOthers  = fault.New(fault.Forbidden, "files attach only to one's own messages")
	ErrAttach        = fault.New(fault.Forbidden, "ATTACH_FILES is needed to attach files")
	ErrManageEmojis  = fault.New(fault.Forbidden, "only the owner or MANAGE_SERVER manages emojis")
	ErrConnectVoice  = fault.New(fault.Forbidden, "CONNECT_VOICE is needed to join a call")
	ErrStopGoLive    = fault.New(fault.Forbidden, "only the broadcaster or MUTE_MEMBERS stops a Go Live session")
	ErrGoLive        = fault.New(fault.Forbidden, "You do not have permission to speak in this channel")
)

func isAuthor(authorID *string, accountID string) bool {
	return authorID != nil && *authorID == accountID
}

// CanView reports whether a member with channel bits perms sees the
// channel (VIEW_CHANNEL); fan-outs that hold every member's bits ask it.
func CanView(perms int64) bool { return perms&PermViewChannel != 0 }

// MayView: the channel is hidden (ErrChannelNotFound) from a member
// without VIEW_CHANNEL.
func (c *ChannelAccess) MayView() error {
	if !CanView(c.Perms) {
		return ErrChannelNotFound
	}
	return nil
}

// TimedOut reports whether the account is timed out in the community:
// its timeout ends after its standing was read. The owner never is: no one
// may time the owner out, and a timeout stored for them applies to nothing
// (Discord exempts the owner too).
func (a *Access) TimedOut() bool {
	return !a.IsOwner && a.TimeoutUntil != nil && a.read.Before(*a.TimeoutUntil)
}

// MayCommunicate: a member timed out in the community still reads it but
// says nothing there (ErrTimedOut, Together's refusal of a message) until
// the timeout ends or is lifted: no message, thread reply, edit, file,
// reaction, poll, vote, event or invite, no typing, and no call (voice,
// stage or watch channel; one they are in drops them) nor Go Live, as
// Discord's timeout. The rules of those acts (CanSend, MayEdit, MayReact,
// MayAttach, MayConnectVoice, MayGoLive, CreateInvite) ask it after their
// permission; everyone else, the moderators who acted included, is
// unaffected.
func (a *Access) MayCommunicate() error {
	if a.TimedOut() {
		return ErrTimedOut
	}
	return nil
}

// MayEdit: only its author edits a message, and not while timed out
// (an edit says something new as a message does).
func (c *ChannelAccess) MayEdit(authorID *string) error {
	if !isAuthor(authorID, c.AccountID) {
		return ErrEditOthers
	}
	return c.MayCommunicate()
}

// MayDelete: a message goes by its author, the community's owner, or a
// holder of MANAGE_MESSAGES in its channel.
func (c *ChannelAccess) MayDelete(authorID *string) error {
	if !isAuthor(authorID, c.AccountID) && !c.IsOwner && !c.Can(PermManageMessages) {
		return ErrDeleteMessage
	}
	return nil
}

// MayReact: adding a reaction needs ADD_REACTIONS and no timeout
// (removing one's own needs neither).
func (c *ChannelAccess) MayReact(add bool) error {
	if !add {
		return nil
	}
	if !c.Can(PermAddReactions) {
		return ErrReact
	}
	return c.MayCommunicate()
}

// MayPin: pinning and unpinning need MANAGE_MESSAGES in the channel.
func (c *ChannelAccess) MayPin() error {
	if !c.Can(PermManageMessages) {
		return ErrPin
	}
	return nil
}

// MayAttach: files attach to one's own message, with ATTACH_FILES and no
// timeout.
func (c *ChannelAccess) MayAttach(authorID *string) error {
	if !isAuthor(authorID, c.AccountID) {
		return ErrAttachOthers
	}
	if !c.Can(PermAttachFiles) {
		return ErrAttach
	}
	return c.MayCommunicate()
}

// MayConnectVoice: joining a channel's call (voice, stage or watch
// channel, mesh or SFU), and staying in it, needs CONNECT_VOICE and no
// timeout.
func (c *ChannelAccess) MayConnectVoice() error {
	if !c.Can(PermConnectVoice) {
		return ErrConnectVoice
	}
	return c.MayCommunicate()
}

// MayGoLive: streaming to a channel's call (Go Live) needs SPEAK there, as
// the SFU asks of any audio or video a participant sends (Hearth's rule:
// Together asks only that the broadcaster be in the call), and no timeout.
func (c *ChannelAccess) MayGoLive() error {
	if !c.Can(PermSpeak) {
		return ErrGoLive
	}
	return c.MayCommunicate()
}

// MayStopGoLive: a Go Live session is stopped by its broadcaster or by a
// holder of MUTE_MEMBERS in the channel.
func (c *ChannelAccess) MayStopGoLive(broadcasterID string) error {
	if broadcasterID != c.AccountID && !c.Can(PermMuteMembers) {
		return ErrStopGoLive
	}
	return nil
}

// MayManageEmojis: the owner or a holder of MANAGE_SERVER adds and
// removes a community's emoji.
func (a *Access) MayManageEmojis() error {
	if !a.IsOwner && !a.Has(PermManageServer) {
		return ErrManageEmojis
	}
	return nil
}

// MayExport: only the owner exports a community; to anyone else it is
// not there (ErrServerNotFound), members included.
func (a *Access) MayExport() error {
	if !a.IsOwner {
		return ErrServerNotFound
	}
	return nil
}
