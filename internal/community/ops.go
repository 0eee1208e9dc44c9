package community

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/fault"
)

// MaxPosition is the highest position a channel or role may be given, far
// above any real list and far enough below the database's 32-bit integers
// that the next channel (the highest position plus one) still fits: a
// position past them was a PostgreSQL error (500) where SQLite stored it.
const MaxPosition = 1_000_000

// ErrNotBanned is Unban's answer when the account was not banned (nothing
// changed, nothing is published).
var ErrNotBanned = fault.New(fault.NotFound, "Ban not found")

var errPosition = fault.Newf(fault.Invalid, "position must be between 0 and %d", MaxPosition)

// MaxReason bounds a kick, ban or timeout reason (characters), as
// Discord's audit-log reason; Together has no bound, and a reason is kept
// in the ban list and the audit log.
const MaxReason = 512

// ErrReasonTooLong refuses a longer reason.
var ErrReasonTooLong = fault.Newf(fault.Invalid, "reason must be at most %d characters", MaxReason)

// checkReason bounds a reason and refuses a NUL in one: a kick's or a
// timeout's is kept only in the audit log's JSON details, where the
// store's own NUL check cannot see it (a ban's is refused by the store).
func checkReason(reason *string) error {
	if reason != nil && len(*reason) > MaxReason && utf8.RuneCountInString(*reason) > MaxReason {
		return ErrReasonTooLong
	}
	if reason != nil && strings.IndexByte(*reason, 0) >= 0 {
		return fault.ErrNUL
	}
	return nil
}

// canManageChannels: the owner, or (Hearth, unlike Together) MANAGE_CHANNELS.
func canManageChannels(a *Access) error {
	if a.IsOwner || a.Has(PermManageChannels) {
		return nil
	}
	return fault.New(fault.Forbidden, "Only the server owner can manage channels")
}

// ChannelInput creates or changes a channel; nil fields are kept.
type ChannelInput struct {
	Name     *string
	Kind     string
	Topic    *string
	Category *string
	Position *int
}

// CreateChannel adds a channel at the end of the list.
func (s *Service) CreateChannel(ctx context.Context, actor, communityID string, in ChannelInput) (*Channel, error) {
	a, err := s.Access(ctx, actor, communityID)
	if err != nil {
		return nil, err
	}
	if err := canManageChannels(a); err != nil {
		return nil, err
	}
	if in.Name == nil {
		return nil, fault.New(fault.Invalid, "name is required")
	}
	if err := checkLen("name", *in.Name, 1, 100); err != nil {
		return nil, err
	}
	if !ValidKind(in.Kind) {
		return nil, fault.New(fault.Invalid, "type must be text, voice, watch or stage")
	}
	ch := &Channel{ID: newID(), CommunityID: communityID, Name: *in.Name, Kind: in.Kind, CreatedAt: s.at()}
	if err := applyChannel(ch, in); err != nil {
		return nil, err
	}
	max, err := s.st.MaxChannelPosition(ctx, communityID)
	if err != nil {
		return nil, err
	}
	ch.Position = max + 1
	if err := s.st.CreateChannel(ctx, ch, MaxChannels); err != nil {
		return nil, err
	}
	s.publish(ctx, Topic(communityID), Event{Type: EvChannelCreated, CommunityID: communityID, ActorID: actor, Channel: ch})
	return ch, nil
}

func applyChannel(ch *Channel, in ChannelInput) error {
	if in.Topic != nil {
		if err := checkLen("topic", *in.Topic, 0, 1024); err != nil {
			return err
		}
		ch.Topic = in.Topic
	}
	if in.Category != nil {
		if err := checkLen("category", *in.Category, 0, 100); err != nil {
			return err
		}
		ch.Category = in.Category
		if strings.TrimSpace(*in.Category) == "" {
			ch.Category = nil
		}
	}
	if in.Position != nil {
		if *in.Position < 0 || *in.Position > MaxPosition {
			return errPosition
		}
		ch.Position = *in.Position
	}
	return nil
}

// Channels lists the channels of a community the actor may view, by
// position.
func (s *Service) Channels(ctx context.Context, actor, communityID string) ([]*Channel, error) {
	a, err := s.Access(ctx, actor, communityID)
	if err != nil {
		return nil, err
	}
	chans, err := s.st.Channels(ctx, communityID)
	if err != nil || a.Perms == AllPerms {
		return chans, err
	}
	ovs, err := s.st.OverridesOfCommunity(ctx, communityID)
	if err != nil {
		return nil, err
	}
	return viewable(a, chans, ovs), nil
}

// viewable keeps, in place and in order, the channels of chans that a's
// account may view, ovs being every override of the community's channels.
func viewable(a *Access, chans []*Channel, ovs []*Override) []*Channel {
	if a.Perms == AllPerms {
		return chans
	}
	byChan := map[string][]*Override{}
	for _, o := range ovs {
		byChan[o.ChannelID] = append(byChan[o.ChannelID], o)
	}
	out := chans[:0]
	for _, ch := range chans {
		if ChannelPerms(a.IsOwner, a.AccountID, a.RoleIDs, a.Roles, byChan[ch.ID])&PermViewChannel != 0 {
			out = append(out, ch)
		}
	}
	return out
}

// CommunityListings lists the communities actor belongs to, in
// CommunitiesOf's order, each with its roles, every override of its
// channels, and the channels actor may view (as Channels answers for each
// community): a fixed number of queries, however many communities.
func (s *Service) CommunityListings(ctx context.Context, actor string) ([]*CommunityListing, error) {
	ls, err := s.st.CommunityListingsOf(ctx, actor)
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		a := s.accessOf(&Standing{Community: l.Community, Member: true, Roles: l.Roles, RoleIDs: l.RoleIDs}, actor)
		l.Channels = viewable(a, l.Channels, l.Overrides)
	}
	return ls, nil
}

// Channel returns one channel of a community.
func (s *Service) Channel(ctx context.Context, actor, communityID, channelID string) (*ChannelAccess, error) {
	ca, err := s.ChannelAccess(ctx, actor, channelID)
	if err != nil || ca.Channel.CommunityID != communityID {
		if err == nil || errors.Is(err, fault.NotFound) {
			return nil, ErrChannelNotFound
		}
		return nil, err
	}
	if !ca.Can(PermViewChannel) {
		return nil, ErrChannelNotFound
	}
	return ca, nil
}

// UpdateChannel changes a channel.
func (s *Service) UpdateChannel(ctx context.Context, actor, communityID, channelID string, in ChannelInput) (*Channel, error) {
	ca, err := s.Channel(ctx, actor, communityID, channelID)
	if err != nil {
		return nil, err
	}
	if err := canManageChannels(ca.Access); err != nil {
		return nil, err
	}
	ch := ca.Channel
	if in.Name != nil {
		if err := checkLen("name", *in.Name, 1, 100); err != nil {
			return nil, err
		}
		ch.Name = *in.Name
	}
	if err := applyChannel(ch, in); err != nil {
		return nil, err
	}
	if err := s.st.UpdateChannel(ctx, ch); err != nil {
		return nil, err
	}
	s.publish(ctx, Topic(communityID), Event{Type: EvChannelUpdated, CommunityID: communityID, ActorID: actor, Channel: ch})
	return ch, nil
}

// DeleteChannel removes a channel and its messages.
func (s *Service) DeleteChannel(ctx context.Context, actor, communityID, channelID string) error {
	ca, err := s.Channel(ctx, actor, communityID, channelID)
	if err != nil {
		return err
	}
	if err := canManageChannels(ca.Access); err != nil {
		return err
	}
	if err := s.st.DeleteChannel(ctx, channelID); err != nil {
		return err
	}
	if s.convs != nil {
		if err := s.convs.DeleteConversation(ctx, channelID); err != nil {
			s.log.Warn("delete channel messages", "channel", channelID, "err", err)
		}
	}
	s.publish(ctx, Topic(communityID), Event{Type: EvChannelDeleted, CommunityID: communityID, ActorID: actor, Channel: ca.Channel})
	return nil
}

// RoleInput creates or changes a role.
type RoleInput struct {
	Name        *string
	Permissions *int64
	Color       *string
	Position    *int
}

// CreateRole adds a role (MANAGE_ROLES).
func (s *Service) CreateRole(ctx context.Context, actor, communityID string, in RoleInput) (*Role, error) {
	a, err := s.Access(ctx, actor, communityID)
	if err != nil {
		return nil, err
	}
	if err := a.Require(PermManageRoles); err != nil {
		return nil, err
	}
	if in.Name == nil {
		return nil, fault.New(fault.Invalid, "name is required")
	}
	r := &Role{ID: newID(), CommunityID: communityID, CreatedAt: s.at()}
	if err := applyRole(r, in); err != nil {
		return nil, err
	}
	if err := a.mayCreateRole(r); err != nil {
		return nil, err
	}
	if err := s.st.CreateRole(ctx, r, MaxRoles); err != nil {
		return nil, err
	}
	s.publish(ctx, Topic(communityID), Event{Type: EvRoleCreated, CommunityID: communityID, ActorID: actor, Role: r})
	return r, nil
}

func applyRole(r *Role, in RoleInput) error {
	if in.Name != nil {
		if err := checkLen("name", *in.Name, 1, 100); err != nil {
			return err
		}
		r.Name = *in.Name
	}
	if in.Permissions != nil {
		if *in.Permissions < 0 || *in.Permissions > PermBits {
			return fault.New(fault.Invalid, "Permissions must be between 0 and 32767")
		}
		r.Permissions = *in.Permissions
	}
	if in.Color != nil {
		if len(*in.Color) > 7 {
			return fault.New(fault.Invalid, "color must be a hex color like #ff0000")
		}
		r.Color = in.Color
	}
	if in.Position != nil {
		if *in.Position < 0 || *in.Position > MaxPosition {
			return errPosition
		}
		r.Position = *in.Position
	}
	return nil
}

// Roles lists a community's roles for a member.
func (s *Service) Roles(ctx context.Context, actor, communityID string) ([]*Role, error) {
	if _, err := s.Access(ctx, actor, communityID); err != nil {
		return nil, err
	}
	return s.st.Roles(ctx, communityID)
}

// roleOf finds a role of the actor's community.
func roleOf(a *Access, roleID string) (*Role, error) {
	r := a.Roles[roleID]
	if r == nil {
		return nil, fault.New(fault.NotFound, "Role not found")
	}
	return r, nil
}

// roleTries bounds how often UpdateRole reads again when the role's
// permissions or position changed between its read and its write.
const roleTries = 3

// UpdateRole changes a role (MANAGE_ROLES, below the actor's highest role,
// and only to bits the actor holds). It writes only the fields in carries,
// and only while the role's permissions and position are those it checked
// (else it reads and checks again): an edit from an older read never puts
// back a permission another manager removed, nor lands on a role that has
// since moved above the actor or gained bits the actor lacks.
func (s *Service) UpdateRole(ctx context.Context, actor, communityID, roleID string, in RoleInput) (*Role, error) {
	for range roleTries {
		a, err := s.Access(ctx, actor, communityID)
		if err != nil {
			return nil, err
		}
		if err := a.Require(PermManageRoles); err != nil {
			return nil, err
		}
		old, err := roleOf(a, roleID)
		if err != nil {
			return nil, err
		}
		nu := *old
		r := &nu
		if err := applyRole(r, in); err != nil {
			return nil, err
		}
		if err := a.mayUpdateRole(old, r); err != nil {
			return nil, err
		}
		stored, ok, err := s.st.UpdateRole(ctx, old, r, in.fields())
		if err != nil {
			return nil, err
		}
		if !ok {
			continue // changed since the read: check the new row
		}
		s.publish(ctx, Topic(communityID), Event{Type: EvRoleUpdated, CommunityID: communityID, ActorID: actor, Role: stored})
		return stored, nil
	}
	return nil, fault.New(fault.Conflict, "Role was changed by another request, try again")
}

// fields names the fields in carries.
func (in RoleInput) fields() RoleFields {
	var f RoleFields
	if in.Name != nil {
		f |= RoleName
	}
	if in.Permissions != nil {
		f |= RolePermissions
	}
	if in.Color != nil {
		f |= RoleColor
	}
	if in.Position != nil {
		f |= RolePosition
	}
	return f
}

// DeleteRole removes a role.
func (s *Service) DeleteRole(ctx context.Context, actor, communityID, roleID string) error {
	a, err := s.Access(ctx, actor, communityID)
	if err != nil {
		return err
	}
	if err := a.Require(PermManageRoles); err != nil {
		return err
	}
	r, err := roleOf(a, roleID)
	if err != nil {
		return err
	}
	if err := a.mayDeleteRole(r); err != nil {
		return err
	}
	if err := s.st.DeleteRole(ctx, roleID); err != nil {
		return err
	}
	s.publish(ctx, Topic(communityID), Event{Type: EvRoleDeleted, CommunityID: communityID, ActorID: actor, RoleID: roleID})
	return nil
}

// SetMemberRole gives (add) or takes a role from a member.
func (s *Service) SetMemberRole(ctx context.Context, actor, communityID, accountID, roleID string, add bool) error {
	a, err := s.Access(ctx, actor, communityID)
	if err != nil {
		return err
	}
	if err := a.Require(PermManageRoles); err != nil {
		return err
	}
	r, err := roleOf(a, roleID)
	if err != nil {
		return err
	}
	if ok, err := s.st.IsMember(ctx, communityID, accountID); err != nil {
		return err
	} else if !ok {
		return fault.New(fault.NotFound, "Member not found")
	}
	if err := a.mayAssignRole(r, accountID, add); err != nil {
		return err
	}
	typ := EvMemberRoleAdded
	if add {
		err = s.st.AddMemberRole(ctx, communityID, accountID, roleID)
		if errors.Is(err, fault.Conflict) {
			err = nil
		}
	} else {
		typ = EvMemberRoleRemoved
		err = s.st.RemoveMemberRole(ctx, communityID, accountID, roleID)
	}
	if err != nil {
		return err
	}
	s.publish(ctx, Topic(communityID), Event{Type: typ, CommunityID: communityID, ActorID: actor, AccountID: accountID, RoleID: roleID})
	return nil
}

// Overrides lists a channel's overrides.
func (s *Service) Overrides(ctx context.Context, actor, channelID string) ([]*Override, error) {
	ca, err := s.ChannelAccess(ctx, actor, channelID)
	if err != nil {
		return nil, err
	}
	if !ca.Can(PermViewChannel) {
		return nil, ErrChannelNotFound
	}
	return s.st.Overrides(ctx, channelID)
}

// SetOverride creates or replaces the override of one role or one member.
func (s *Service) SetOverride(ctx context.Context, actor, channelID string, o *Override) (*Override, error) {
	ca, err := s.ChannelAccess(ctx, actor, channelID)
	if err != nil {
		return nil, err
	}
	// A channel the actor cannot see is not found, as on every other
	// channel route; MANAGE_ROLES is asked only of those who can.
	if !ca.Can(PermViewChannel) {
		return nil, ErrChannelNotFound
	}
	if err := ca.Access.Require(PermManageRoles); err != nil {
		return nil, err
	}
	if (o.RoleID == nil) == (o.AccountID == nil) {
		return nil, fault.New(fault.Invalid, "Exactly one of role_id or user_id must be set")
	}
	if o.RoleID != nil && ca.Roles[*o.RoleID] == nil {
		return nil, fault.New(fault.NotFound, "Role not found")
	}
	if o.AccountID != nil {
		if ok, err := s.st.IsMember(ctx, ca.Community.ID, *o.AccountID); err != nil {
			return nil, err
		} else if !ok {
			return nil, fault.New(fault.NotFound, "Member not found")
		}
	}
	// Together's checks, in its order: no bit both allowed and denied, then
	// each within the defined bits (0..32767).
	if o.Allow&o.Deny != 0 {
		return nil, fault.New(fault.Invalid, "allow and deny must not have overlapping bits")
	}
	if o.Allow < 0 || o.Allow > PermBits {
		return nil, fault.New(fault.Invalid, "allow must be between 0 and 32767")
	}
	if o.Deny < 0 || o.Deny > PermBits {
		return nil, fault.New(fault.Invalid, "deny must be between 0 and 32767")
	}
	o.ChannelID = channelID
	if !ca.IsOwner {
		// The override it replaces must be the actor's to remove, and the
		// new one the actor's to grant.
		ovs, err := s.st.Overrides(ctx, channelID)
		if err != nil {
			return nil, err
		}
		for _, old := range ovs {
			if sameTarget(old, o) {
				if err := s.mayOverride(ctx, ca, old, false); err != nil {
					return nil, err
				}
			}
		}
		if err := s.mayOverride(ctx, ca, o, true); err != nil {
			return nil, err
		}
	}
	o.ID = newID()
	saved, err := s.st.UpsertOverride(ctx, o, MaxOverrides)
	if err != nil {
		return nil, err
	}
	s.publish(ctx, Topic(ca.Community.ID), Event{Type: EvOverrideUpdated, CommunityID: ca.Community.ID, ActorID: actor, Override: saved, Channel: ca.Channel})
	return saved, nil
}

func sameTarget(a, b *Override) bool {
	if a.RoleID != nil && b.RoleID != nil {
		return *a.RoleID == *b.RoleID
	}
	return a.AccountID != nil && b.AccountID != nil && *a.AccountID == *b.AccountID
}

// mayOverride loads the target of o and checks the actor may set (grant) or
// remove it.
func (s *Service) mayOverride(ctx context.Context, ca *ChannelAccess, o *Override, grant bool) error {
	var role *Role
	var target *Access
	if o.RoleID != nil {
		role = ca.Roles[*o.RoleID]
	}
	if o.AccountID != nil {
		t, err := s.accessFor(ctx, ca.Community, *o.AccountID)
		if err != nil {
			return err
		}
		target = t
	}
	return ca.Access.mayOverride(o, role, target, ca.Perms, grant)
}

// DeleteOverride removes an override.
func (s *Service) DeleteOverride(ctx context.Context, actor, channelID, overrideID string) error {
	ca, err := s.ChannelAccess(ctx, actor, channelID)
	if err != nil {
		return err
	}
	if !ca.Can(PermViewChannel) {
		return ErrChannelNotFound
	}
	if err := ca.Access.Require(PermManageRoles); err != nil {
		return err
	}
	if !ca.IsOwner {
		ovs, err := s.st.Overrides(ctx, channelID)
		if err != nil {
			return err
		}
		var old *Override
		for _, o := range ovs {
			if o.ID == overrideID {
				old = o
			}
		}
		if old == nil {
			return fault.New(fault.NotFound, "Override not found")
		}
		if err := s.mayOverride(ctx, ca, old, false); err != nil {
			return err
		}
	}
	if err := s.st.DeleteOverride(ctx, channelID, overrideID); err != nil {
		if errors.Is(err, fault.NotFound) {
			return fault.New(fault.NotFound, "Override not found")
		}
		return err
	}
	s.publish(ctx, Topic(ca.Community.ID), Event{Type: EvOverrideDeleted, CommunityID: ca.Community.ID, ActorID: actor,
		Override: &Override{ID: overrideID, ChannelID: channelID}, Channel: ca.Channel})
	return nil
}

// CreateInvite makes an invite code (CREATE_INVITES or the owner; not
// while timed out, as Discord).
func (s *Service) CreateInvite(ctx context.Context, actor, communityID string, maxUses *int, expiresIn *time.Duration) (*Invite, error) {
	a, err := s.Access(ctx, actor, communityID)
	if err != nil {
		return nil, err
	}
	if err := a.Require(PermCreateInvites); err != nil {
		return nil, err
	}
	if err := a.MayCommunicate(); err != nil {
		return nil, err
	}
	if maxUses != nil && (*maxUses < 1 || *maxUses > 1000) {
		return nil, fault.New(fault.Invalid, "max_uses must be between 1 and 1000")
	}
	now := s.at()
	inv := &Invite{ID: newID(), CommunityID: communityID, Code: inviteCode(), CreatedBy: actor, MaxUses: maxUses, CreatedAt: now}
	if expiresIn != nil {
		if *expiresIn <= 0 || *expiresIn > 30*24*time.Hour {
			return nil, fault.New(fault.Invalid, "expires_in_hours must be between 1 and 720")
		}
		t := now.Add(*expiresIn)
		inv.ExpiresAt = &t
	}
	if err := s.st.CreateInvite(ctx, inv, MaxInvites, MaxDeadInvites); err != nil {
		return nil, err
	}
	s.publish(ctx, Topic(communityID), Event{Type: EvInviteCreated, CommunityID: communityID, ActorID: actor, Invite: inv})
	return inv, nil
}

// Invites lists a community's invites.
func (s *Service) Invites(ctx context.Context, actor, communityID string) ([]*Invite, error) {
	a, err := s.Access(ctx, actor, communityID)
	if err != nil {
		return nil, err
	}
	if err := a.Require(PermCreateInvites); err != nil {
		return nil, err
	}
	return s.st.Invites(ctx, communityID)
}

// DeleteInvite revokes an invite.
func (s *Service) DeleteInvite(ctx context.Context, actor, communityID, inviteID string) error {
	a, err := s.Access(ctx, actor, communityID)
	if err != nil {
		return err
	}
	if err := a.Require(PermCreateInvites); err != nil {
		return err
	}
	if err := s.st.DeleteInvite(ctx, communityID, inviteID); err != nil {
		if errors.Is(err, fault.NotFound) {
			return fault.New(fault.NotFound, "Invite not found")
		}
		return err
	}
	s.publish(ctx, Topic(communityID), Event{Type: EvInviteDeleted, CommunityID: communityID, ActorID: actor, Invite: &Invite{ID: inviteID, CommunityID: communityID}})
	return nil
}

// InviteByCode looks an invite and its community up (no membership needed).
func (s *Service) InviteByCode(ctx context.Context, code string) (*Invite, *Community, error) {
	if len(code) == 0 || len(code) > 32 {
		return nil, nil, fault.New(fault.NotFound, "Invite not found")
	}
	inv, err := s.st.InviteByCode(ctx, code)
	if errors.Is(err, fault.NotFound) {
		return nil, nil, fault.New(fault.NotFound, "Invite not found")
	}
	if err != nil {
		return nil, nil, err
	}
	c, err := s.st.Community(ctx, inv.CommunityID)
	if err != nil {
		return nil, nil, err
	}
	return inv, c, nil
}

// UsableInvite looks the invite named by code up for a sign-up under
// invite-only registration, before the account exists: ErrInviteUsedUp when
// it has no use left (or has expired) at now, NotFound when there is no such
// invite. It spends nothing: the sign-up spends the use with the new
// account's join (AcceptInvite, one transaction), which refuses a sign-up
// past the invite's uses when several are sent at once, and a sign-up cut
// off between its account and the join (a kill) leaves the use there for
// the account to accept, not spent on no one.
func (s *Service) UsableInvite(ctx context.Context, code string) (*Invite, error) {
	inv, _, err := s.InviteByCode(ctx, code)
	if err != nil {
		return nil, err
	}
	if (inv.ExpiresAt != nil && !inv.ExpiresAt.After(s.at())) || (inv.MaxUses != nil && inv.Uses >= *inv.MaxUses) {
		return nil, ErrInviteUsedUp
	}
	return inv, nil
}

// AcceptInvite joins actor to the invite's community.
func (s *Service) AcceptInvite(ctx context.Context, actor, code string) (*Community, error) {
	inv, c, err := s.InviteByCode(ctx, code)
	if err != nil {
		return nil, err
	}
	if ok, err := s.st.IsMember(ctx, c.ID, actor); err != nil {
		return nil, err
	} else if ok {
		return nil, fault.New(fault.Conflict, "Already a member of this server")
	}
	if banned, err := s.st.IsBanned(ctx, c.ID, actor); err != nil {
		return nil, err
	} else if banned {
		return nil, ErrBanned
	}
	// The use is spent with the join, in one step: accepts sent at once
	// by one account spend one use, and never more than the invite has.
	return c, s.addMember(ctx, c, actor, inv.ID)
}

// moderate checks actor may act on target with perm: not self, not the
// owner, and (unless owner, ADMINISTRATOR included) the target's highest
// role is below actor's.
//
// In Together's order: a member acting on themself (400) or on the owner
// (403 "Cannot moderate the server owner") is told so before the
// permission is asked, whatever they hold.
func (s *Service) moderate(ctx context.Context, actor, communityID, target string, perm int64) (*Access, error) {
	a, err := s.Access(ctx, actor, communityID)
	if err != nil {
		return nil, err
	}
	if actor == target {
		return nil, fault.New(fault.Invalid, "You cannot moderate yourself")
	}
	if target == a.Community.OwnerID {
		return nil, forbidden(msgModerateOwner)
	}
	if err := a.Require(perm); err != nil {
		return nil, err
	}
	ta, err := s.accessFor(ctx, a.Community, target)
	if err != nil {
		return nil, err
	}
	if err := a.mayModerate(ta); err != nil {
		return nil, err
	}
	return a, nil
}

// Kick removes a member (KICK_MEMBERS).
func (s *Service) Kick(ctx context.Context, actor, communityID, target string, reason *string) error {
	if err := checkReason(reason); err != nil {
		return err
	}
	if _, err := s.moderate(ctx, actor, communityID, target, PermKickMembers); err != nil {
		return err
	}
	if err := s.st.RemoveMember(ctx, communityID, target); err != nil {
		if errors.Is(err, fault.NotFound) {
			return fault.New(fault.NotFound, "Member not found")
		}
		return err
	}
	s.publish(ctx, Topic(communityID), Event{Type: EvMemberKicked, CommunityID: communityID, ActorID: actor, AccountID: target,
		Reason: reason, Recipients: []string{target}})
	return nil
}

// Ban removes a member and keeps them out (BAN_MEMBERS).
func (s *Service) Ban(ctx context.Context, actor, communityID, target string, reason *string) error {
	if err := checkReason(reason); err != nil {
		return err
	}
	if _, err := uuid.Parse(target); err != nil {
		return fault.New(fault.NotFound, "User not found")
	}
	if _, err := s.moderate(ctx, actor, communityID, target, PermBanMembers); err != nil {
		return err
	}
	if err := s.st.Ban(ctx, &Ban{CommunityID: communityID, AccountID: target, Reason: reason, BannedBy: actor, CreatedAt: s.at()}); err != nil {
		return err
	}
	s.publish(ctx, Topic(communityID), Event{Type: EvMemberBanned, CommunityID: communityID, ActorID: actor, AccountID: target,
		Reason: reason, Recipients: []string{target}})
	return nil
}

// Unban lifts a ban.
func (s *Service) Unban(ctx context.Context, actor, communityID, target string) error {
	a, err := s.Access(ctx, actor, communityID)
	if err != nil {
		return err
	}
	if err := a.Require(PermBanMembers); err != nil {
		return err
	}
	if err := s.st.RemoveBan(ctx, communityID, target); err != nil {
		if errors.Is(err, fault.NotFound) {
			return ErrNotBanned
		}
		return err
	}
	s.publish(ctx, Topic(communityID), Event{Type: EvMemberUnbanned, CommunityID: communityID, ActorID: actor, AccountID: target})
	return nil
}

// Bans lists bans (BAN_MEMBERS).
func (s *Service) Bans(ctx context.Context, actor, communityID string) ([]*Ban, error) {
	a, err := s.Access(ctx, actor, communityID)
	if err != nil {
		return nil, err
	}
	if err := a.Require(PermBanMembers); err != nil {
		return nil, err
	}
	return s.st.Bans(ctx, communityID)
}

// MaxTimeout is the longest timeout a moderator may set: Together's 28
// days (40320 minutes, moderation.rs). Automod's own timeouts stay within
// its 1-10080 minute setting.
const MaxTimeout = 40320 * time.Minute

// TimeoutRangeText is Together's refusal of a duration outside 1-40320
// minutes.
const TimeoutRangeText = "duration_minutes must be between 1 and 40320 (28 days)"

// Timeout mutes a member for d (MUTE_MEMBERS) and returns when it ends;
// d == 0 lifts it (nil).
func (s *Service) Timeout(ctx context.Context, actor, communityID, target string, d time.Duration, reason *string) (*time.Time, error) {
	if err := checkReason(reason); err != nil {
		return nil, err
	}
	if _, err := s.moderate(ctx, actor, communityID, target, PermMuteMembers); err != nil {
		return nil, err
	}
	if ok, err := s.st.IsMember(ctx, communityID, target); err != nil {
		return nil, err
	} else if !ok {
		return nil, fault.New(fault.NotFound, "Member not found")
	}
	var until *time.Time
	typ := EvMemberTimeoutEnded
	if d > 0 {
		if d > MaxTimeout {
			return nil, fault.New(fault.Invalid, TimeoutRangeText)
		}
		t := s.at().Add(d)
		until, typ = &t, EvMemberTimeout
	}
	if err := s.st.SetTimeout(ctx, communityID, target, until); err != nil {
		return nil, err
	}
	s.publish(ctx, Topic(communityID), Event{Type: typ, CommunityID: communityID, ActorID: actor, AccountID: target, Until: until, Reason: reason})
	return until, nil
}

// OpenDM returns the DM channel between actor and other, creating it
// (created=true) when there is none.
func (s *Service) OpenDM(ctx context.Context, actor, other string) (*DMChannel, bool, error) {
	if actor == other {
		return nil, false, fault.New(fault.Invalid, "Cannot create a DM with yourself")
	}
	d, err := s.st.DMChannelBetween(ctx, actor, other)
	if err == nil {
		return d, false, nil
	}
	if !errors.Is(err, fault.NotFound) {
		return nil, false, err
	}
	a, b := actor, other
	if b < a {
		a, b = b, a
	}
	d = &DMChannel{ID: newID(), Members: [2]string{a, b}, CreatedAt: s.at()}
	if err := s.st.CreateDMChannel(ctx, d, actor, MaxDMChannels); err != nil {
		if errors.Is(err, fault.Conflict) {
			d, err = s.st.DMChannelBetween(ctx, actor, other)
			return d, false, err
		}
		return nil, false, err
	}
	s.publish(ctx, DMTopic(d.ID), Event{Type: EvDMCreated, ActorID: actor, DM: d, Recipients: d.Members[:]})
	return d, true, nil
}

// DM returns a DM channel actor belongs to.
func (s *Service) DM(ctx context.Context, actor, id string) (*DMChannel, error) {
	notFound := fault.New(fault.NotFound, "DM channel not found")
	if _, err := uuid.Parse(id); err != nil {
		return nil, notFound
	}
	d, err := s.st.DMChannel(ctx, id)
	if errors.Is(err, fault.NotFound) || (err == nil && d.Members[0] != actor && d.Members[1] != actor) {
		return nil, notFound
	}
	return d, err
}

// DMs lists actor's DM channels, most recently active first.
func (s *Service) DMs(ctx context.Context, actor string) ([]*DMChannel, error) {
	return s.st.DMChannelsOf(ctx, actor, MaxDMChannels)
}

// DMListings lists actor's DM channels as DMs does, each with its other
// participant (one query, however many channels).
func (s *Service) DMListings(ctx context.Context, actor string) ([]*DMListing, error) {
	return s.st.DMListingsOf(ctx, actor, MaxDMChannels)
}

// TouchDM records activity in a DM channel.
func (s *Service) TouchDM(ctx context.Context, id string) error {
	return s.st.TouchDMChannel(ctx, id, s.at())
}

// Enforce applies an automatic moderation action to a member (Together's
// automod): "timeout" for d, "kick" or "ban". It acts with the owner's
// authority (only the owner configures automod), so it outranks every member
// but the owner, who is never touched.
func (s *Service) Enforce(ctx context.Context, communityID, target, action string, d time.Duration, reason string) error {
	c, err := s.st.Community(ctx, communityID)
	if err != nil {
		return err
	}
	if c.OwnerID == target {
		return nil
	}
	r := &reason
	switch action {
	case "timeout":
		until := s.at().Add(d)
		if err := s.st.SetTimeout(ctx, communityID, target, &until); err != nil {
			return err
		}
		s.publish(ctx, Topic(communityID), Event{Type: EvMemberTimeout, CommunityID: communityID, AccountID: target, Until: &until, Reason: r})
	case "kick":
		if err := s.st.RemoveMember(ctx, communityID, target); err != nil && !errors.Is(err, fault.NotFound) {
			return err
		}
		s.publish(ctx, Topic(communityID), Event{Type: EvMemberKicked, CommunityID: communityID, AccountID: target, Reason: r, Recipients: []string{target}})
	case "ban":
		if err := s.st.Ban(ctx, &Ban{CommunityID: communityID, AccountID: target, Reason: r, BannedBy: c.OwnerID, CreatedAt: s.at()}); err != nil {
			return err
		}
		s.publish(ctx, Topic(communityID), Event{Type: EvMemberBanned, CommunityID: communityID, AccountID: target, Reason: r, Recipients: []string{target}})
	default:
		return fault.New(fault.Invalid, "action must be timeout, kick or ban")
	}
	return nil
}
