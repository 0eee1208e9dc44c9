package store

// The Together surface's records as this adapter stores them. They have no
// rules; the surface aliases them (a later step moves them into the domain
// packages that will own their rules).

import (
	"encoding/json"
	"time"
)

// AutomodConfig is a server's automod settings.
type AutomodConfig struct {
	CommunityID       string    `json:"server_id"`
	Enabled           bool      `json:"enabled"`
	SpamEnabled       bool      `json:"spam_enabled"`
	SpamMaxMessages   int       `json:"spam_max_messages"`
	SpamWindowSecs    int       `json:"spam_window_secs"`
	SpamAction        string    `json:"spam_action"`
	DuplicateEnabled  bool      `json:"duplicate_enabled"`
	WordFilterEnabled bool      `json:"word_filter_enabled"`
	WordFilterAction  string    `json:"word_filter_action"`
	TimeoutMinutes    int       `json:"timeout_minutes"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// WordFilter is one filtered word.
type WordFilter struct {
	ID          string    `json:"id"`
	CommunityID string    `json:"server_id"`
	Word        string    `json:"word"`
	CreatedBy   *string   `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
}

// AutomodLog records one automod action.
type AutomodLog struct {
	ID             string    `json:"id"`
	CommunityID    string    `json:"server_id"`
	ChannelID      *string   `json:"channel_id"`
	UserID         *string   `json:"user_id"`
	Username       *string   `json:"username"`
	RuleType       string    `json:"rule_type"`
	ActionTaken    string    `json:"action_taken"`
	MatchedTerm    *string   `json:"matched_term"`
	MessageContent *string   `json:"message_content"`
	CreatedAt      time.Time `json:"created_at"`
}

// AuditLog records one administrative action in a server.
type AuditLog struct {
	ID          string          `json:"id"`
	CommunityID string          `json:"server_id"`
	ActorID     *string         `json:"actor_id"`
	Action      string          `json:"action"`
	TargetType  *string         `json:"target_type"`
	TargetID    *string         `json:"target_id"`
	Details     json.RawMessage `json:"details"`
	IPAddress   *string         `json:"ip_address"`
	CreatedAt   time.Time       `json:"created_at"`
}

// AuditQuery filters the audit log.
type AuditQuery struct {
	Action, ActorID, TargetType string
	Before                      *time.Time
	Limit                       int
}

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

// Webhook is a server's outgoing webhook.
type Webhook struct {
	ID               string
	CommunityID      string
	CreatedBy        string
	Name             string
	URL              string
	Secret           string
	EventTypes       []string
	Enabled          bool
	DeliveryFailures int
	LastUsedAt       *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
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
