package together

import (
	"context"
	"time"
)

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
type AuthoredMessage struct {
	CreatedAt time.Time
	Body      string
	ChannelID string
}
