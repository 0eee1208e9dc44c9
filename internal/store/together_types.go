package store

// The Together surface's records as this adapter stores them. They have no
// rules; the surface aliases them (a later step moves them into the domain
// packages that will own their rules).

import (
	"time"
)

// VoiceState is an account's presence in a voice channel, shared by nodes.
type VoiceState struct {
	UserID      string
	ChannelID   string
	CommunityID string
	Username    string
	SelfMute    bool
	SelfDeaf    bool
	SelfVideo   bool
	SelfScreen  bool
	ServerMute  bool
	ServerDeaf  bool
	JoinedAt    time.Time
}

// GoLive is Together's GoLiveSession.
type GoLive struct {
	BroadcasterID string    `json:"broadcaster_id"`
	Quality       string    `json:"quality"`
	StartedAt     time.Time `json:"started_at"`
}

// Bot is Together's bot record; its account and token live in identity.
type Bot struct {
	ID          string
	AccountID   string
	TokenID     string
	Name        string
	Description *string
	CreatedBy   string
	RevokedAt   *time.Time
	CreatedAt   time.Time
}

// Attachment is a file uploaded to a message.
type Attachment struct {
	ID         string
	MessageID  string
	Filename   string
	StoredName string
	FileSize   int64
	MimeType   string
	Width      *int
	Height     *int
	CreatedAt  time.Time
}

// Emoji is a community's custom emoji.
type Emoji struct {
	ID          string
	CommunityID string
	CreatedBy   string
	Name        string
	ContentType string
	FileSize    int64
	CreatedAt   time.Time
}

// PollOption is one choice of a poll.
type PollOption struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// Poll is a poll attached to a message.
type Poll struct {
	ID        string
	MessageID string
	ChannelID string
	Question  string
	Options   []PollOption
	CreatedAt time.Time
}

// Event is a scheduled server event attached to a message.
type Event struct {
	ID          string
	CommunityID string
	ChannelID   string
	MessageID   string
	Name        string
	Description *string
	StartsAt    time.Time
	CreatedBy   *string
	CreatedAt   time.Time
}

// AuthoredMessage is a message summary for a bot's activity log.
type AuthoredMessage struct {
	CreatedAt time.Time
	Body      string
	ChannelID string
}
