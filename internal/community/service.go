package community

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

// Publisher is the part of the bus the service needs.
type Publisher interface {
	Publish(ctx context.Context, topic string, data []byte) error
}

// Conversations removes a deleted channel's messages (package messages).
type Conversations interface {
	DeleteConversation(ctx context.Context, conversationID string) error
}

// Service is the community domain service. Methods taking an actor check
// that the actor may do the thing; non-members get NotFound ("Server not
// found"), as Together answers.
type Service struct {
	st    Store
	pub   Publisher
	convs Conversations
	mod   ModerationStore // automod and the audit log (moderation.go); may be nil
	log   *slog.Logger
	now   func() time.Time
}

// New builds the service. pub and convs may be nil.
func New(st Store, pub Publisher, convs Conversations, logger *slog.Logger) (*Service, error) {
	if st == nil {
		return nil, errors.New("community: nil store")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, pub: pub, convs: convs, log: logger, now: time.Now}, nil
}

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Store exposes the store to surfaces for read-only listings.
func (s *Service) Store() Store { return s.st }

// Errors surfaces may compare against.
var (
	ErrServerNotFound  = fault.New(fault.NotFound, "Server not found")
	ErrChannelNotFound = fault.New(fault.NotFound, "Channel not found")
)

// Bounds on what one account joins and one community holds, Discord's
// (its higher tier for servers; bots have none). Every member's READY carries each of its
// servers' channels, roles and overrides, so without them one account
// could make every gateway connect of its members (or its own, over and
// over) cost thousands of queries.
const (
	MaxServersJoined = 200
	MaxChannels      = 500
	MaxRoles         = 250
	// MaxInvites counts invites that still work (not expired, uses left):
	// each is a row, and the list is answered whole.
	MaxInvites = 1000
	// MaxDeadInvites bounds the invites a community keeps that no longer
	// work (expired or used up), the newest, so that a recent code still
	// answers "expired" rather than "not found": creating an invite
	// removes older ones. Without it an owner (anyone may make servers)
	// could leave MaxInvites invites to expire each hour, or be used up,
	// and make more, growing the table and the whole-list answer for good.
	MaxDeadInvites = 1000
)

// MaxFilteredWords bounds a community's automod word filter (as Owncast's
// chat filter): every message posted there is checked against each word.
const MaxFilteredWords = 1000

// MaxDMChannels bounds the DM channels an account may be in when it opens
// a new one (reopening one it has always works), as Discord bounds an
// account's relationships at 1,000: any account, a free Owncast chat user
// or OTT guest included, can be a DM's other side, and every READY and DM
// list carries each channel with its recipient. The list answers the most
// recently active MaxDMChannels, so DMs others opened to an account do
// not grow its READY either.
const MaxDMChannels = 1000

// MaxAuditEntries bounds a community's audit log: each entry is kept
// until the community has MaxAuditEntries newer ones. The actions it
// records (renaming the server, a role or a channel, making and revoking
// invites) are not paced, and anyone may make servers, so without it one
// owner wrote entries as fast as the node stores them (measured: 1,200 a
// second), for good. Discord keeps 45 days; a count bounds what one
// community can make, however fast.
const MaxAuditEntries = 10_000

// MaxOverrides bounds a channel's permission overrides (roles and members
// together; replacing one's target always works): every member's READY
// carries each of its servers' overrides, every permission check on the
// channel reads them, and a member's override outlives its membership.
const MaxOverrides = 100

// Errors past the bounds (400 on every surface).
var (
	ErrTooManyServers   = fault.Newf(fault.Invalid, "Maximum number of servers reached (%d)", MaxServersJoined)
	ErrTooManyChannels  = fault.Newf(fault.Invalid, "Maximum number of channels reached (%d)", MaxChannels)
	ErrTooManyRoles     = fault.Newf(fault.Invalid, "Maximum number of server roles reached (%d)", MaxRoles)
	ErrTooManyWords     = fault.Newf(fault.Invalid, "A server may filter at most %d words", MaxFilteredWords)
	ErrTooManyInvites   = fault.Newf(fault.Invalid, "Maximum number of invites reached (%d)", MaxInvites)
	ErrTooManyOverrides = fault.Newf(fault.Invalid, "Maximum number of permission overwrites reached (%d)", MaxOverrides)
	ErrTooManyDMs       = fault.Newf(fault.Invalid, "Maximum number of DM channels reached (%d)", MaxDMChannels)
	ErrInviteUsedUp     = fault.New(fault.Invalid, "Invite has expired or reached its maximum uses")
	ErrBanned           = fault.New(fault.Forbidden, "You are banned from this server")
)

func newID() string { return identity.NewID() }

func (s *Service) at() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func (s *Service) publish(ctx context.Context, topic string, e Event) {
	if s.pub == nil {
		return
	}
	data, err := json.Marshal(e)
	if err != nil {
		s.log.Error("encode community event", "err", err)
		return
	}
	if err := s.pub.Publish(ctx, topic, data); err != nil {
		s.log.Warn("publish community event", "topic", topic, "err", err)
	}
}

// Access is what one account may do in one community.
type Access struct {
	Community *Community
	AccountID string
	IsOwner   bool
	RoleIDs   []string
	Roles     map[string]*Role
	Perms     int64 // server-wide bits
	// TimeoutUntil is the end of the account's timeout in the community,
	// nil when none; read with the bits, so a check needs no query of its
	// own.
	TimeoutUntil *time.Time
	// read is when the standing was read, on the service's clock: a
	// timeout holds while it ends after that (zero in a value built by
	// hand, where any timeout set holds).
	read time.Time
}

// Has reports whether the server-wide bits include p.
func (a *Access) Has(p int64) bool { return a.Perms&p == p }

// HighestRole is the largest position among the member's roles (-1: none).
func (a *Access) HighestRole() int {
	hi := -1
	for _, id := range a.RoleIDs {
		if r := a.Roles[id]; r != nil && r.Position > hi {
			hi = r.Position
		}
	}
	return hi
}

// Access loads accountID's standing in a community; NotFound when the
// community does not exist or the account is not a member.
func (s *Service) Access(ctx context.Context, accountID, communityID string) (*Access, error) {
	if _, err := uuid.Parse(communityID); err != nil {
		return nil, ErrServerNotFound
	}
	st, err := s.st.MemberStanding(ctx, communityID, accountID)
	if errors.Is(err, fault.NotFound) {
		return nil, ErrServerNotFound
	}
	if err != nil {
		return nil, err
	}
	if !st.Member {
		return nil, ErrServerNotFound
	}
	return s.accessOf(st, accountID), nil
}

// accessFor loads accountID's bits in c (another member's, for checks of
// who may act on whom); c is already read, so only the roles are.
func (s *Service) accessFor(ctx context.Context, c *Community, accountID string) (*Access, error) {
	roles, held, err := s.st.HeldRoles(ctx, c.ID, accountID)
	if err != nil {
		return nil, err
	}
	return s.accessOf(&Standing{Community: c, Roles: roles, RoleIDs: held}, accountID), nil
}

func (s *Service) accessOf(st *Standing, accountID string) *Access {
	c := st.Community
	a := &Access{Community: c, AccountID: accountID, IsOwner: c.OwnerID == accountID, RoleIDs: st.RoleIDs,
		Roles: make(map[string]*Role, len(st.Roles)), TimeoutUntil: st.TimeoutUntil, read: s.now()}
	for _, r := range st.Roles {
		a.Roles[r.ID] = r
	}
	a.Perms = ServerPerms(a.IsOwner, a.RoleIDs, a.Roles)
	return a
}

// Require returns Forbidden unless the server-wide bits include p.
func (a *Access) Require(p int64) error {
	if !a.Has(p) {
		return fault.New(fault.Forbidden, "Missing required permission")
	}
	return nil
}

// ChannelAccess is an account's standing in one channel.
type ChannelAccess struct {
	*Access
	Channel *Channel
	Perms   int64 // channel bits
}

// Can reports whether the channel bits include p.
func (c *ChannelAccess) Can(p int64) bool { return c.Perms&p == p }

// ChannelAccess loads accountID's bits in a channel; NotFound for unknown
// channels and for non-members, Forbidden-free (callers check bits).
func (s *Service) ChannelAccess(ctx context.Context, accountID, channelID string) (*ChannelAccess, error) {
	if _, err := uuid.Parse(channelID); err != nil {
		return nil, ErrChannelNotFound
	}
	st, err := s.st.ChannelStanding(ctx, channelID, accountID)
	if errors.Is(err, fault.NotFound) {
		return nil, ErrChannelNotFound
	}
	if err != nil {
		return nil, err
	}
	if !st.Member {
		return nil, ErrChannelNotFound
	}
	a := s.accessOf(st, accountID)
	return &ChannelAccess{Access: a, Channel: st.Channel, Perms: ChannelPerms(a.IsOwner, accountID, a.RoleIDs, a.Roles, st.Overrides)}, nil
}

// ChannelViewers returns, for every member, their bits in the channel
// (gateways filter events with it).
func (s *Service) ChannelViewers(ctx context.Context, channelID string) (*Channel, map[string]int64, error) {
	ch, err := s.st.Channel(ctx, channelID)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.st.Community(ctx, ch.CommunityID)
	if err != nil {
		return nil, nil, err
	}
	members, err := s.st.Members(ctx, c.ID)
	if err != nil {
		return nil, nil, err
	}
	roles, err := s.st.Roles(ctx, c.ID)
	if err != nil {
		return nil, nil, err
	}
	rm := map[string]*Role{}
	for _, r := range roles {
		rm[r.ID] = r
	}
	ovs, err := s.st.Overrides(ctx, ch.ID)
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]int64, len(members))
	for _, m := range members {
		out[m.AccountID] = ChannelPerms(c.OwnerID == m.AccountID, m.AccountID, m.RoleIDs, rm, ovs)
	}
	return ch, out, nil
}

// MembersWith returns the members whose server-wide bits include p (the
// owner and ADMINISTRATOR holders always): who may see what a route
// guarded by Require(p) shows, such as the invites.
func (s *Service) MembersWith(ctx context.Context, communityID string, p int64) ([]string, error) {
	c, err := s.st.Community(ctx, communityID)
	if err != nil {
		return nil, err
	}
	members, err := s.st.Members(ctx, communityID)
	if err != nil {
		return nil, err
	}
	roles, err := s.st.Roles(ctx, communityID)
	if err != nil {
		return nil, err
	}
	rm := make(map[string]*Role, len(roles))
	for _, r := range roles {
		rm[r.ID] = r
	}
	var out []string
	for _, m := range members {
		if ServerPerms(c.OwnerID == m.AccountID, m.RoleIDs, rm)&p == p {
			out = append(out, m.AccountID)
		}
	}
	return out, nil
}

func checkLen(field, v string, min, max int) error {
	n := utf8.RuneCountInString(strings.TrimSpace(v))
	if n < min || utf8.RuneCountInString(v) > max {
		return fault.Newf(fault.Invalid, "%s must be %d-%d characters", field, min, max)
	}
	return nil
}

// CreateInput is a new community.
type CreateInput struct {
	Name          string
	IconURL       *string
	IsPublic      bool
	RequireInvite bool
	Channels      []*Channel // from a template
}

// Create makes a community owned by actor, who becomes its first member.
func (s *Service) Create(ctx context.Context, actor string, in CreateInput) (*Community, error) {
	if err := checkLen("name", in.Name, 1, 100); err != nil {
		return nil, err
	}
	if in.IconURL != nil {
		if err := identity.CheckURL("icon_url", *in.IconURL); err != nil {
			return nil, err
		}
	}
	now := s.at()
	c := &Community{ID: newID(), Name: in.Name, OwnerID: actor, IconURL: in.IconURL, IsPublic: in.IsPublic,
		RequireInvite: in.RequireInvite, MemberCount: 1, CreatedAt: now, UpdatedAt: now}
	for i, ch := range in.Channels {
		ch.ID, ch.CommunityID, ch.CreatedAt = newID(), c.ID, now
		if ch.Position == 0 {
			ch.Position = i
		}
	}
	if err := s.st.CreateCommunity(ctx, c, in.Channels, MaxServersJoined); err != nil {
		return nil, err
	}
	return c, nil
}

// UpdateInput changes a community; nil fields are kept.
type UpdateInput struct {
	Name          *string
	IconURL       *string
	IsPublic      *bool
	RequireInvite *bool
}

// Update changes a community (owner only).
func (s *Service) Update(ctx context.Context, actor, id string, in UpdateInput) (*Community, error) {
	a, err := s.Access(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	if !a.IsOwner {
		return nil, fault.New(fault.Forbidden, "Only the server owner can update it")
	}
	// Only the fields sent are written: a rename from a read older than
	// the owner's other change (is_public, require_invite) keeps it.
	c := a.Community
	var f CommunityFields
	if in.Name != nil {
		if err := checkLen("name", *in.Name, 1, 100); err != nil {
			return nil, err
		}
		c.Name, f = *in.Name, f|CommunityName
	}
	if in.IconURL != nil {
		if err := identity.CheckURL("icon_url", *in.IconURL); err != nil {
			return nil, err
		}
		c.IconURL, f = in.IconURL, f|CommunityIcon
		if *in.IconURL == "" {
			c.IconURL = nil
		}
	}
	if in.IsPublic != nil {
		c.IsPublic, f = *in.IsPublic, f|CommunityPublic
	}
	if in.RequireInvite != nil {
		c.RequireInvite, f = *in.RequireInvite, f|CommunityRequireInvite
	}
	c.UpdatedAt = s.at()
	if err := s.st.UpdateCommunity(ctx, c, f); err != nil {
		return nil, err
	}
	s.publish(ctx, Topic(c.ID), Event{Type: EvCommunityUpdated, CommunityID: c.ID, ActorID: actor})
	return s.st.Community(ctx, c.ID)
}

// Delete removes a community (owner, or an instance admin when admin).
func (s *Service) Delete(ctx context.Context, actor, id string, admin bool) error {
	var c *Community
	if admin {
		var err error
		if c, err = s.st.Community(ctx, id); err != nil {
			if errors.Is(err, fault.NotFound) {
				return ErrServerNotFound
			}
			return err
		}
	} else {
		a, err := s.Access(ctx, actor, id)
		if err != nil {
			return err
		}
		if !a.IsOwner {
			return fault.New(fault.Forbidden, "Only the server owner can delete it")
		}
		c = a.Community
	}
	chans, err := s.st.Channels(ctx, c.ID)
	if err != nil {
		return err
	}
	members, err := s.st.Members(ctx, c.ID)
	if err != nil {
		return err
	}
	if err := s.st.DeleteCommunity(ctx, c.ID); err != nil {
		return err
	}
	for _, ch := range chans {
		if s.convs != nil {
			if err := s.convs.DeleteConversation(ctx, ch.ID); err != nil {
				s.log.Warn("delete channel messages", "channel", ch.ID, "err", err)
			}
		}
	}
	rcpt := make([]string, len(members))
	for i, m := range members {
		rcpt[i] = m.AccountID
	}
	s.publish(ctx, Topic(c.ID), Event{Type: EvCommunityDeleted, CommunityID: c.ID, ActorID: actor, Recipients: rcpt, Channels: chans})
	return nil
}

// Join adds actor to a public community.
func (s *Service) Join(ctx context.Context, actor, id string) (*Community, error) {
	c, err := s.st.Community(ctx, id)
	if errors.Is(err, fault.NotFound) || (err == nil && !c.IsPublic) {
		return nil, ErrServerNotFound
	}
	if err != nil {
		return nil, err
	}
	if c.RequireInvite {
		return nil, fault.New(fault.Forbidden, "This server requires an invite to join")
	}
	return c, s.addMember(ctx, c, actor, "")
}

func (s *Service) addMember(ctx context.Context, c *Community, actor, inviteID string) error {
	if banned, err := s.st.IsBanned(ctx, c.ID, actor); err != nil {
		return err
	} else if banned {
		return ErrBanned
	}
	if err := s.st.AddMember(ctx, c.ID, actor, s.at(), MaxServersJoined, inviteID); err != nil {
		if errors.Is(err, fault.Conflict) {
			return fault.New(fault.Conflict, "Already a member of this server")
		}
		return err
	}
	s.publish(ctx, Topic(c.ID), Event{Type: EvMemberJoined, CommunityID: c.ID, AccountID: actor})
	return nil
}

// Leave removes actor from a community; the owner cannot leave.
func (s *Service) Leave(ctx context.Context, actor, id string) error {
	a, err := s.Access(ctx, actor, id)
	if err != nil {
		return err
	}
	if a.IsOwner {
		return fault.New(fault.Invalid, "Server owner cannot leave. Transfer ownership or delete the server.")
	}
	if err := s.st.RemoveMember(ctx, id, actor); err != nil {
		return err
	}
	s.publish(ctx, Topic(id), Event{Type: EvMemberLeft, CommunityID: id, AccountID: actor, Recipients: []string{actor}})
	return nil
}

// Members lists a community's members for a member.
func (s *Service) Members(ctx context.Context, actor, id string) ([]*Member, error) {
	if _, err := s.Access(ctx, actor, id); err != nil {
		return nil, err
	}
	return s.st.Members(ctx, id)
}

// Profile returns an account's profile (defaults when none is stored).
func (s *Service) Profile(ctx context.Context, accountID string) (*Profile, error) {
	p, err := s.st.Profile(ctx, accountID)
	if errors.Is(err, fault.NotFound) {
		return &Profile{AccountID: accountID, Status: "offline"}, nil
	}
	return p, err
}

// SaveProfile stores the fields of p that f names (Store.SaveProfile).
func (s *Service) SaveProfile(ctx context.Context, p *Profile, f ProfileFields) error {
	switch p.Status {
	case "online", "away", "dnd", "offline":
	default:
		return fault.New(fault.Invalid, "status must be online, away, dnd or offline")
	}
	return s.st.SaveProfile(ctx, p, f)
}

// SetPresence records a presence transition (see Store.SetPresence) and
// returns the stored profile when it changed something.
func (s *Service) SetPresence(ctx context.Context, accountID string, online, repair bool) (bool, *Profile, error) {
	changed, err := s.st.SetPresence(ctx, accountID, online, repair)
	if err != nil || !changed {
		return false, nil, err
	}
	p, err := s.Profile(ctx, accountID)
	return err == nil, p, err
}

// PresentAccounts lists the accounts stored as anything but offline.
func (s *Service) PresentAccounts(ctx context.Context) ([]string, error) {
	return s.st.PresentAccounts(ctx)
}

// CoMembers lists everyone who shares a community with accountID
// (presence recipients), accountID included.
func (s *Service) CoMembers(ctx context.Context, accountID string) ([]string, error) {
	return s.st.CoMembers(ctx, accountID)
}

// PublishCommunity publishes a surface-defined event on a community topic
// (typing, voice, presence, polls).
func (s *Service) PublishCommunity(ctx context.Context, communityID string, e Event) {
	e.CommunityID = communityID
	s.publish(ctx, Topic(communityID), e)
}

// inviteCode is 8 random alphanumerics.
func inviteCode() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
