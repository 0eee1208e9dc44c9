// Package community owns communities (Together calls them servers), their
// channels (kinds text, voice, watch, stage), members, roles with permission
// bits, per-channel permission overrides, invites, bans, timeouts, direct
// message channels and member profiles. It knows no wire format.
//
// Permission resolution follows Together: the owner and holders of
// ADMINISTRATOR have every bit; in a channel every member implicitly has
// DefaultMemberPerms OR'd with their roles' bits, then the channel's role
// overrides apply (all denies of the member's roles cleared, then all allows
// added), then the member's own override. Server-wide checks use role bits
// only (no implicit defaults).
//
// Every change is published on the bus on topic "community.<community_id>"
// as a JSON Event; DM channel events go on "community.dm.<dm_id>" with the
// two participants in Event.Recipients.
package community

import (
	"context"
	"time"
)

// Permission bits (Together's values).
const (
	PermViewChannel    int64 = 1
	PermSendMessages   int64 = 2
	PermManageMessages int64 = 4
	PermAttachFiles    int64 = 8
	PermAddReactions   int64 = 16
	PermConnectVoice   int64 = 32
	PermSpeak          int64 = 64
	PermMuteMembers    int64 = 128
	PermKickMembers    int64 = 256
	PermBanMembers     int64 = 512
	PermManageChannels int64 = 1024
	PermManageRoles    int64 = 2048
	PermManageServer   int64 = 4096
	PermAdministrator  int64 = 8192
	PermCreateInvites  int64 = 16384

	// DefaultMemberPerms is what every member has in every channel (123).
	DefaultMemberPerms = PermViewChannel | PermSendMessages | PermAttachFiles | PermAddReactions | PermConnectVoice | PermSpeak
	// PermBits is every defined bit; a role's permissions must lie within
	// 0..PermBits (Together's bound, 32767).
	PermBits = PermViewChannel | PermSendMessages | PermManageMessages | PermAttachFiles | PermAddReactions |
		PermConnectVoice | PermSpeak | PermMuteMembers | PermKickMembers | PermBanMembers | PermManageChannels |
		PermManageRoles | PermManageServer | PermAdministrator | PermCreateInvites
	// AllPerms is what the owner and administrators have.
	AllPerms int64 = 1<<63 - 1
)

// Channel kinds.
const (
	KindText  = "text"
	KindVoice = "voice"
	KindWatch = "watch" // backed by a watch room
	KindStage = "stage" // backed by a live stage
)

// ValidKind reports whether k is a channel kind.
func ValidKind(k string) bool {
	return k == KindText || k == KindVoice || k == KindWatch || k == KindStage
}

// Community is one community (a Together "server").
type Community struct {
	ID            string
	Name          string
	OwnerID       string
	IconURL       *string
	IsPublic      bool
	RequireInvite bool
	MemberCount   int
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// OpenToAll reports whether anyone may join c and see its channels: it is
// public and needs no invite (a member with no role sees every channel;
// an override hides one only from the roles and members it names).
func (c *Community) OpenToAll() bool { return c.IsPublic && !c.RequireInvite }

// Channel is a channel of a community.
type Channel struct {
	ID          string
	CommunityID string
	Name        string
	Kind        string
	Position    int
	Category    *string
	Topic       *string
	CreatedAt   time.Time
}

// Member is a member with the bits of their profile surfaces show.
type Member struct {
	CommunityID string
	AccountID   string
	Username    string
	AvatarURL   string
	Nickname    *string
	JoinedAt    time.Time
	RoleIDs     []string
	Profile     Profile
}

// Role is a named set of permission bits.
type Role struct {
	ID          string
	CommunityID string
	Name        string
	Permissions int64
	Color       *string
	Position    int
	CreatedAt   time.Time
}

// CommunityFields names the fields of a community an update writes.
type CommunityFields uint8

// The fields of a community an update can write.
const (
	CommunityName CommunityFields = 1 << iota
	CommunityIcon
	CommunityPublic
	CommunityRequireInvite
)

// RoleFields names the fields of a role an update writes.
type RoleFields uint8

// The fields of a role an update can write.
const (
	RoleName RoleFields = 1 << iota
	RolePermissions
	RoleColor
	RolePosition
)

// Override changes the bits of one role or one member in one channel.
type Override struct {
	ID        string
	ChannelID string
	RoleID    *string
	AccountID *string
	Allow     int64
	Deny      int64
}

// Invite lets people join a community.
type Invite struct {
	ID          string
	CommunityID string
	Code        string
	CreatedBy   string
	MaxUses     *int
	Uses        int
	ExpiresAt   *time.Time
	CreatedAt   time.Time
}

// Ban keeps an account out of a community.
type Ban struct {
	CommunityID string
	AccountID   string
	Username    string
	Reason      *string
	BannedBy    string
	CreatedAt   time.Time
}

// DMChannel is a one-to-one conversation.
type DMChannel struct {
	ID            string
	Members       [2]string
	CreatedAt     time.Time
	LastMessageAt *time.Time
}

// Other returns the participant that is not accountID.
func (d *DMChannel) Other(accountID string) string {
	if d.Members[0] == accountID {
		return d.Members[1]
	}
	return d.Members[0]
}

// DMListing is a DM channel as its member's list shows it: with the other
// participant, read in the same query as the channel.
type DMListing struct {
	DMChannel
	Recipient DMRecipient
}

// DMRecipient is the other participant of a listed DM channel: the public
// fields of their account and their profile (the default offline profile
// when they have none stored).
type DMRecipient struct {
	AccountID string
	Username  string
	AvatarURL string
	IsAdmin   bool
	CreatedAt time.Time
	Profile   Profile
}

// CommunityListing is one community of a member's list (READY): the
// community with its roles (highest position first; RoleIDs those the
// member holds), its channels (by position) and every override of them (by
// id), read for all the member's communities at once. From the store,
// Channels holds every channel; Service.CommunityListings keeps those the
// member may view.
type CommunityListing struct {
	Community *Community
	Roles     []*Role
	RoleIDs   []string
	Channels  []*Channel
	Overrides []*Override
}

// Profile is the social part of an account: presence and self-description.
type Profile struct {
	AccountID    string
	Bio          *string
	Pronouns     *string
	Status       string // online, away, dnd, offline
	CustomStatus *string
	Activity     *string
}

// ProfileFields names the fields of a profile a SaveProfile writes: only
// those a change carries, so edits made from reads taken before each
// other's (a bio edit, a PRESENCE_UPDATE, another client's pronouns) keep
// each other's fields.
type ProfileFields uint8

const (
	ProfileBio ProfileFields = 1 << iota
	ProfilePronouns
	ProfileStatus
	ProfileCustomStatus
	ProfileActivity
)

// Event is what the service publishes.
type Event struct {
	Type        string         `json:"type"`
	CommunityID string         `json:"community_id,omitempty"`
	ActorID     string         `json:"actor_id,omitempty"`
	AccountID   string         `json:"account_id,omitempty"` // the member concerned
	Channel     *Channel       `json:"channel,omitempty"`
	Channels    []*Channel     `json:"channels,omitempty"` // community_deleted: the channels it took with it
	Role        *Role          `json:"role,omitempty"`
	RoleID      string         `json:"role_id,omitempty"`
	Override    *Override      `json:"override,omitempty"`
	Invite      *Invite        `json:"invite,omitempty"`
	DM          *DMChannel     `json:"dm,omitempty"`
	Reason      *string        `json:"reason,omitempty"`
	Until       *time.Time     `json:"until,omitempty"`
	Recipients  []string       `json:"recipients,omitempty"`
	Automod     *AutomodAction `json:"automod,omitempty"`
	Data        any            `json:"data,omitempty"` // surface-defined payload (e.g. typing, presence)
}

// Event types.
const (
	EvCommunityUpdated   = "community_updated"
	EvCommunityDeleted   = "community_deleted"
	EvChannelCreated     = "channel_created"
	EvChannelUpdated     = "channel_updated"
	EvChannelDeleted     = "channel_deleted"
	EvMemberJoined       = "member_joined"
	EvMemberLeft         = "member_left"
	EvMemberKicked       = "member_kicked"
	EvMemberBanned       = "member_banned"
	EvMemberUnbanned     = "member_unbanned"
	EvMemberTimeout      = "member_timeout"
	EvMemberTimeoutEnded = "member_timeout_removed"
	EvRoleCreated        = "role_created"
	EvRoleUpdated        = "role_updated"
	EvRoleDeleted        = "role_deleted"
	EvMemberRoleAdded    = "member_role_added"
	EvMemberRoleRemoved  = "member_role_removed"
	EvOverrideUpdated    = "override_updated"
	EvOverrideDeleted    = "override_deleted"
	EvInviteCreated      = "invite_created"
	EvInviteDeleted      = "invite_deleted"
	EvDMCreated          = "dm_created"
	EvAutomodAction      = "automod_action"
)

// Topic is the bus topic of a community's events.
func Topic(communityID string) string { return "community." + communityID }

// DMTopic is the bus topic of a DM channel's events.
func DMTopic(dmID string) string { return "community.dm." + dmID }

// Standing is what one permission check reads: a community (and one of
// its channels), whether an account is a member, the community's roles
// (highest first), the ids of those the account holds, and the channel's
// overrides.
type Standing struct {
	Community *Community
	Channel   *Channel // ChannelStanding only
	Member    bool
	Roles     []*Role
	RoleIDs   []string
	Overrides []*Override // ChannelStanding only
	// TimeoutUntil is the end of the account's timeout in the community,
	// nil when none.
	TimeoutUntil *time.Time
}

// Store is what the service needs from persistence. Lookups that match
// nothing return fault.NotFound; uniqueness breaks return fault.Conflict.
type Store interface {
	// MemberStanding and ChannelStanding read a Standing in two queries
	// each (every request's permission check; one query per part cost
	// four and six round trips). NotFound when the community or channel
	// does not exist; a non-member gets Member false.
	MemberStanding(ctx context.Context, communityID, accountID string) (*Standing, error)
	ChannelStanding(ctx context.Context, channelID, accountID string) (*Standing, error)

	// CreateCommunity, AddMember, CreateChannel and CreateRole refuse
	// (ErrTooManyServers, ErrTooManyChannels, ErrTooManyRoles) what would
	// pass max, exactly even when requests run side by side.
	CreateCommunity(ctx context.Context, c *Community, channels []*Channel, maxJoined int) error
	// UpdateCommunity writes only c's fields named by f (and its
	// updated_at).
	UpdateCommunity(ctx context.Context, c *Community, f CommunityFields) error
	DeleteCommunity(ctx context.Context, id string) error
	Community(ctx context.Context, id string) (*Community, error)
	CommunitiesOf(ctx context.Context, accountID string) ([]*Community, error)
	// CommunityListingsOf is CommunitiesOf, in its order, with each
	// community's roles, channels and overrides, in a number of queries
	// that does not grow with the communities.
	CommunityListingsOf(ctx context.Context, accountID string) ([]*CommunityListing, error)
	PublicCommunities(ctx context.Context) ([]*Community, error)
	AllCommunities(ctx context.Context, limit, offset int) ([]*Community, error)
	CountCommunities(ctx context.Context) (int, error)

	// AddMember adds a member (Conflict when already one, ErrBanned when
	// banned, checked in the same step as the insert); with an
	// inviteID it spends one use of that invite in the same step
	// (ErrInviteUsedUp when none is left, and no member is added).
	AddMember(ctx context.Context, communityID, accountID string, at time.Time, maxJoined int, inviteID string) error
	RemoveMember(ctx context.Context, communityID, accountID string) error
	IsMember(ctx context.Context, communityID, accountID string) (bool, error)
	Members(ctx context.Context, communityID string) ([]*Member, error)
	// HeldRoles lists a community's roles (as Roles) and the ids of those
	// accountID holds.
	HeldRoles(ctx context.Context, communityID, accountID string) (roles []*Role, held []string, err error)
	CoMembers(ctx context.Context, accountID string) ([]string, error)

	CreateChannel(ctx context.Context, ch *Channel, max int) error
	UpdateChannel(ctx context.Context, ch *Channel) error
	DeleteChannel(ctx context.Context, id string) error
	Channel(ctx context.Context, id string) (*Channel, error)
	Channels(ctx context.Context, communityID string) ([]*Channel, error)
	MaxChannelPosition(ctx context.Context, communityID string) (int, error)

	CreateRole(ctx context.Context, r *Role, max int) error
	// UpdateRole writes only r's fields named by f, and only while the
	// stored role keeps was's permissions and position (compare-and-set),
	// returning the row as stored; ok false when they changed or the role
	// is gone.
	UpdateRole(ctx context.Context, was, r *Role, f RoleFields) (stored *Role, ok bool, err error)
	DeleteRole(ctx context.Context, id string) error
	Role(ctx context.Context, id string) (*Role, error)
	Roles(ctx context.Context, communityID string) ([]*Role, error)
	AddMemberRole(ctx context.Context, communityID, accountID, roleID string) error
	RemoveMemberRole(ctx context.Context, communityID, accountID, roleID string) error

	// UpsertOverride creates or replaces o's target's override; a new
	// target past max on the channel is ErrTooManyOverrides.
	UpsertOverride(ctx context.Context, o *Override, max int) (*Override, error)
	DeleteOverride(ctx context.Context, channelID, id string) error
	Overrides(ctx context.Context, channelID string) ([]*Override, error)
	OverridesOfCommunity(ctx context.Context, communityID string) ([]*Override, error)

	// CreateInvite refuses (ErrTooManyInvites) a community's invite past
	// max that still work, exactly even when requests run side by side,
	// and removes the community's invites that no longer work (expired
	// at inv.CreatedAt or used up) beyond the newest keepDead.
	CreateInvite(ctx context.Context, inv *Invite, max, keepDead int) error
	InviteByCode(ctx context.Context, code string) (*Invite, error)
	Invites(ctx context.Context, communityID string) ([]*Invite, error)
	DeleteInvite(ctx context.Context, communityID, id string) error

	// Ban records a ban (keeping one already there) and removes the
	// account's membership in one step that a join racing it cannot
	// slip through (AddMember answers ErrBanned once it is recorded).
	Ban(ctx context.Context, b *Ban) error
	RemoveBan(ctx context.Context, communityID, accountID string) error
	IsBanned(ctx context.Context, communityID, accountID string) (bool, error)
	Bans(ctx context.Context, communityID string) ([]*Ban, error)
	SetTimeout(ctx context.Context, communityID, accountID string, until *time.Time) error

	DMChannel(ctx context.Context, id string) (*DMChannel, error)
	DMChannelBetween(ctx context.Context, a, b string) (*DMChannel, error)
	// CreateDMChannel inserts d unless opener is already in max DM
	// channels (ErrTooManyDMs).
	CreateDMChannel(ctx context.Context, d *DMChannel, opener string, max int) error
	// DMChannelsOf lists an account's DM channels, most recently active
	// first: at most limit of them (every one when limit <= 0).
	DMChannelsOf(ctx context.Context, accountID string, limit int) ([]*DMChannel, error)
	// DMListingsOf is DMChannelsOf with each channel's other participant,
	// in a number of queries that does not grow with the channels.
	DMListingsOf(ctx context.Context, accountID string, limit int) ([]*DMListing, error)
	TouchDMChannel(ctx context.Context, id string, at time.Time) error

	Profile(ctx context.Context, accountID string) (*Profile, error)
	// SaveProfile stores the fields of p that f names: a profile the
	// account has none of yet is created from p whole (its other fields
	// as read: the defaults), an existing one gets those fields only.
	SaveProfile(ctx context.Context, p *Profile, f ProfileFields) error
	// SetPresence writes a presence transition and reports whether it
	// changed the stored status: online (clearing the custom status and
	// activity, as on connect), online only if the account is stored
	// offline (repair), or offline only if it is not already. The
	// conditional writes are atomic, so when several nodes see the same
	// transition exactly one of them announces it.
	SetPresence(ctx context.Context, accountID string, online, repair bool) (bool, error)
	// PresentAccounts lists the accounts whose stored status is not offline.
	PresentAccounts(ctx context.Context) ([]string, error)
}
