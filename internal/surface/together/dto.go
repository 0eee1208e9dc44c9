package together

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
)

// userDTO is Together's UserDto.
type userDTO struct {
	ID           string    `json:"id"`
	Username     string    `json:"username"`
	Email        *string   `json:"email"`
	AvatarURL    *string   `json:"avatar_url"`
	Bio          *string   `json:"bio"`
	Pronouns     *string   `json:"pronouns"`
	Status       string    `json:"status"`
	CustomStatus *string   `json:"custom_status"`
	Activity     *string   `json:"activity"`
	CreatedAt    time.Time `json:"created_at"`
	IsAdmin      bool      `json:"is_admin"`
}

// publicProfileDTO is what other users see (no email).
type publicProfileDTO struct {
	ID           string    `json:"id"`
	Username     string    `json:"username"`
	AvatarURL    *string   `json:"avatar_url"`
	Status       string    `json:"status"`
	CustomStatus *string   `json:"custom_status"`
	Activity     *string   `json:"activity"`
	Bio          *string   `json:"bio"`
	Pronouns     *string   `json:"pronouns"`
	CreatedAt    time.Time `json:"created_at"`
}

func toUser(a *identity.Account, p *community.Profile) userDTO {
	return userDTO{ID: a.ID, Username: a.Username, Email: a.Email, AvatarURL: optString(a.AvatarURL), Bio: p.Bio,
		Pronouns: p.Pronouns, Status: p.Status, CustomStatus: p.CustomStatus, Activity: p.Activity,
		CreatedAt: a.CreatedAt, IsAdmin: a.IsAdmin}
}

func (s *Surface) userDTO(ctx context.Context, a *identity.Account) (userDTO, error) {
	p, err := s.d.Community.Profile(ctx, a.ID)
	if err != nil {
		return userDTO{}, err
	}
	return toUser(a, p), nil
}

// serverDTO is Together's ServerDto.
type serverDTO struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	OwnerID       string    `json:"owner_id"`
	IconURL       *string   `json:"icon_url"`
	IsPublic      bool      `json:"is_public"`
	RequireInvite bool      `json:"require_invite"`
	MemberCount   int       `json:"member_count"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func toServer(c *community.Community) serverDTO {
	return serverDTO{ID: c.ID, Name: c.Name, OwnerID: c.OwnerID, IconURL: c.IconURL, IsPublic: c.IsPublic,
		RequireInvite: c.RequireInvite, MemberCount: c.MemberCount, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// channelDTO is Together's Channel.
type channelDTO struct {
	ID        string    `json:"id"`
	ServerID  string    `json:"server_id"`
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Position  int       `json:"position"`
	Category  *string   `json:"category"`
	Topic     *string   `json:"topic"`
	CreatedAt time.Time `json:"created_at"`
}

func toChannel(c *community.Channel) channelDTO {
	return channelDTO{ID: c.ID, ServerID: c.CommunityID, Name: c.Name, Type: c.Kind, Position: c.Position,
		Category: c.Category, Topic: c.Topic, CreatedAt: c.CreatedAt}
}

// roleDTO is Together's RoleDto.
type roleDTO struct {
	ID          string    `json:"id"`
	ServerID    string    `json:"server_id"`
	Name        string    `json:"name"`
	Permissions int64     `json:"permissions"`
	Color       *string   `json:"color"`
	Position    int       `json:"position"`
	CreatedAt   time.Time `json:"created_at"`
}

func toRole(r *community.Role) roleDTO {
	return roleDTO{ID: r.ID, ServerID: r.CommunityID, Name: r.Name, Permissions: r.Permissions, Color: r.Color,
		Position: r.Position, CreatedAt: r.CreatedAt}
}

type memberRoleDTO struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Color    *string `json:"color"`
	Position int     `json:"position"`
}

// memberDTO is a member with their roles. Activity is not in Together's
// MemberDto, but its web client's type declares it and its member list
// shows it.
type memberDTO struct {
	UserID       string          `json:"user_id"`
	Username     string          `json:"username"`
	AvatarURL    *string         `json:"avatar_url"`
	Status       string          `json:"status"`
	CustomStatus *string         `json:"custom_status"`
	Activity     *string         `json:"activity"`
	Nickname     *string         `json:"nickname"`
	JoinedAt     time.Time       `json:"joined_at"`
	Roles        []memberRoleDTO `json:"roles"`
}

// overrideDTO is a channel permission override.
type overrideDTO struct {
	ID        string  `json:"id"`
	ChannelID string  `json:"channel_id"`
	RoleID    *string `json:"role_id"`
	UserID    *string `json:"user_id"`
	Allow     int64   `json:"allow"`
	Deny      int64   `json:"deny"`
}

func toOverride(o *community.Override) overrideDTO {
	return overrideDTO{ID: o.ID, ChannelID: o.ChannelID, RoleID: o.RoleID, UserID: o.AccountID, Allow: o.Allow, Deny: o.Deny}
}

// messageDTO is Together's MessageDto (17 fields).
type messageDTO struct {
	ID               string     `json:"id"`
	ChannelID        string     `json:"channel_id"`
	AuthorID         *string    `json:"author_id"`
	Content          string     `json:"content"`
	ReplyTo          *string    `json:"reply_to"`
	MentionUserIDs   []string   `json:"mention_user_ids"`
	MentionEveryone  bool       `json:"mention_everyone"`
	ThreadID         *string    `json:"thread_id"`
	ThreadReplyCount int        `json:"thread_reply_count"`
	EditedAt         *time.Time `json:"edited_at"`
	Deleted          bool       `json:"deleted"`
	CreatedAt        time.Time  `json:"created_at"`
	Pinned           bool       `json:"pinned"`
	PinnedBy         *string    `json:"pinned_by"`
	PinnedAt         *time.Time `json:"pinned_at"`
	Poll             any        `json:"poll"`
	Event            any        `json:"event"`
	// Fediverse is Hearth's extension on a system message that tells of a
	// fediverse follow, like or boost of a stage's actor (Owncast's
	// FEDIVERSE_ENGAGEMENT_* chat events); absent on other messages.
	Fediverse *fediverseDTO `json:"fediverse,omitempty"`
}

// fediverseDTO is the engagement an Owncast FEDIVERSE_ENGAGEMENT_* event
// carries: its type, the remote account's avatar, actor id and user@host.
type fediverseDTO struct {
	Type  string `json:"type"`
	Image string `json:"image"`
	Link  string `json:"link"`
	Title string `json:"title"`
}

func toMessage(m *messages.Message) messageDTO {
	return messageDTO{ID: m.ID, ChannelID: m.ConversationID, AuthorID: m.AuthorID, Content: m.Body, ReplyTo: m.ReplyTo,
		MentionUserIDs: m.MentionUserIDs, MentionEveryone: m.MentionEveryone, ThreadID: m.ThreadID,
		ThreadReplyCount: m.ThreadReplyCount, EditedAt: m.EditedAt, Deleted: m.Deleted, CreatedAt: m.CreatedAt,
		Pinned: m.Pinned, PinnedBy: m.PinnedBy, PinnedAt: m.PinnedAt, Fediverse: fediverseOf(m)}
}

// fediverseOf reads a fediverse notice's engagement from the message's
// meta (the stage chat stores it as {"stage":"fediverse","engagement":…}).
// Only system messages carry one: an author cannot set meta.
func fediverseOf(m *messages.Message) *fediverseDTO {
	if m.AuthorID != nil || m.Meta == "" {
		return nil
	}
	var mt struct {
		Engagement *fediverseDTO `json:"engagement"`
	}
	if json.Unmarshal([]byte(m.Meta), &mt) != nil || mt.Engagement == nil || mt.Engagement.Type == "" {
		return nil
	}
	return mt.Engagement
}

func toMessages(ms []*messages.Message) []messageDTO {
	return mapAll(ms, toMessage)
}

// dmMessageDTO is a direct message.
type dmMessageDTO struct {
	ID        string     `json:"id"`
	ChannelID string     `json:"channel_id"`
	AuthorID  *string    `json:"author_id"`
	Content   string     `json:"content"`
	EditedAt  *time.Time `json:"edited_at"`
	CreatedAt time.Time  `json:"created_at"`
}

func toDMMessage(m *messages.Message) dmMessageDTO {
	return dmMessageDTO{ID: m.ID, ChannelID: m.ConversationID, AuthorID: m.AuthorID, Content: m.Body, EditedAt: m.EditedAt, CreatedAt: m.CreatedAt}
}

// dmChannelDTO is Together's DirectMessageChannelDto.
type dmChannelDTO struct {
	ID            string     `json:"id"`
	Recipient     userDTO    `json:"recipient"`
	CreatedAt     time.Time  `json:"created_at"`
	LastMessageAt *time.Time `json:"last_message_at"`
}

func (s *Surface) dmDTO(ctx context.Context, d *community.DMChannel, viewer string) (dmChannelDTO, error) {
	other, err := s.d.Identity.Account(ctx, d.Other(viewer))
	if err != nil {
		return dmChannelDTO{}, err
	}
	u, err := s.userDTO(ctx, other)
	if err != nil {
		return dmChannelDTO{}, err
	}
	u.Email = nil
	return dmChannelDTO{ID: d.ID, Recipient: u, CreatedAt: d.CreatedAt, LastMessageAt: d.LastMessageAt}, nil
}

// dmListingDTO is dmDTO for a channel of a list, whose recipient the store
// read with it (toUser on the recipient's public fields: no email).
func dmListingDTO(l *community.DMListing) dmChannelDTO {
	r := &l.Recipient
	u := toUser(&identity.Account{ID: r.AccountID, Username: r.Username, AvatarURL: r.AvatarURL, IsAdmin: r.IsAdmin,
		CreatedAt: r.CreatedAt}, &r.Profile)
	return dmChannelDTO{ID: l.ID, Recipient: u, CreatedAt: l.CreatedAt, LastMessageAt: l.LastMessageAt}
}

// inviteDTO is a server invite.
type inviteDTO struct {
	ID        string     `json:"id"`
	ServerID  string     `json:"server_id"`
	Code      string     `json:"code"`
	CreatedBy string     `json:"created_by"`
	MaxUses   *int       `json:"max_uses"`
	Uses      int        `json:"uses"`
	ExpiresAt *time.Time `json:"expires_at"`
	CreatedAt time.Time  `json:"created_at"`
}

func toInvite(i *community.Invite) inviteDTO {
	return inviteDTO{ID: i.ID, ServerID: i.CommunityID, Code: i.Code, CreatedBy: i.CreatedBy, MaxUses: i.MaxUses,
		Uses: i.Uses, ExpiresAt: i.ExpiresAt, CreatedAt: i.CreatedAt}
}
