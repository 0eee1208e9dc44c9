package store

// The Together surface's records as this adapter stores them. They have no
// rules; the surface aliases them (a later step moves them into the domain
// packages that will own their rules).

import (
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/voice"
)

// VoiceState is an account's presence in a voice channel (voice owns it).
type VoiceState = voice.VoiceState

// GoLive is a channel's Go Live session (voice owns it).
type GoLive = voice.GoLive

// Bot is a bot record (community owns it).
type Bot = community.Bot

// Attachment is a file uploaded to a message.
type Attachment struct {
	ID         string
	MessageID  string
	UploaderID string // the account that uploaded it ("" for none)
	Filename   string
	StoredName string
	FileSize   int64
	MimeType   string
	Width      *int
	Height     *int
	CreatedAt  time.Time
	NodeID     string // the node whose upload directory holds it ("": before nodes were named)
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
	NodeID      string // the node whose upload directory holds it ("": before nodes were named)
}

// PollOption, Poll and Event are community's polls and scheduled events.
type (
	PollOption = community.PollOption
	Poll       = community.Poll
	Event      = community.ScheduledEvent
)

// AuthoredMessage is a message summary for a bot's activity log.
type AuthoredMessage struct {
	CreatedAt time.Time
	Body      string
	ChannelID string
}
