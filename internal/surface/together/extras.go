package together

import (
	"context"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/store"
)

// Attachment is a file uploaded to a message.
type Attachment = store.Attachment

// Emoji is a community's custom emoji.
type Emoji = store.Emoji

// PollOption is one choice of a poll.
type PollOption = community.PollOption

// Poll is a poll attached to a message.
type Poll = community.Poll

// Event is a scheduled server event attached to a message.
type Event = community.ScheduledEvent

// ExtrasStore persists attachments, emoji, polls and events
// (internal/store/together_extras.go).
type ExtrasStore interface {
	AddAttachments(ctx context.Context, as []*Attachment, max int) error
	Attachments(ctx context.Context, messageID string) ([]*Attachment, error)
	Attachment(ctx context.Context, messageID, storedName string) (*Attachment, error)

	CreateEmoji(ctx context.Context, e *Emoji) error
	Emojis(ctx context.Context, communityID string) ([]*Emoji, error)
	Emoji(ctx context.Context, id string) (*Emoji, error)
	DeleteEmoji(ctx context.Context, communityID, id string) error

	CreatePoll(ctx context.Context, p *Poll) error
	Poll(ctx context.Context, id string) (*Poll, error)
	PollsOf(ctx context.Context, messageIDs []string) (map[string]*Poll, error)
	Vote(ctx context.Context, pollID, accountID, optionID string) error
	// Votes returns the count per option id and accountID's choice.
	Votes(ctx context.Context, pollID, accountID string) (map[string]int, string, error)

	// RecentByAuthor lists an author's newest live channel messages (bot logs).
	RecentByAuthor(ctx context.Context, authorID string, limit int) ([]AuthoredMessage, error)

	CreateEvent(ctx context.Context, e *Event) error
	EventsOf(ctx context.Context, messageIDs []string) (map[string]*Event, error)
	UpcomingEvents(ctx context.Context, communityID string, after time.Time) ([]*Event, error)
}

// AuthoredMessage is a message summary for a bot's activity log.
type AuthoredMessage = store.AuthoredMessage
