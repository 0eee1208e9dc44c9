// Package messages is Hearth's one message store for every conversation:
// community channels, DMs, watch-room chat and stage (Owncast) chat. It knows
// no wire format; each surface renders a Message its own way (Together sends
// the raw body, Owncast renders Markdown to sanitised HTML).
//
// # Conversations
//
// A conversation is identified by an opaque string id plus a Kind
// (KindChannel, KindDM, KindWatch, KindStage). Who may write what is the
// owning domain's rule, enforced here for every caller: the Rules set with
// SetRules see each post with an author, and each edit, before it is stored
// (community.Service for community channels: SEND_MESSAGES, timeouts,
// automod, mentions). Who may read is checked by the owning domain (community,
// watch, live) before calling in.
//
// How long a person's message may be is the conversation's, not the
// surface's: MaxBodyOf(kind) (channels and DMs 4000 characters, as
// Together; stage chats 2048, as Owncast), enforced by Post and Edit and
// refused with a BodyError each surface words its own way.
//
// # API
//
//	svc, _ := messages.New(db.Messages(), bus, logger)
//	m, err := svc.Post(ctx, messages.PostInput{ConversationID: id, Kind: messages.KindStage,
//	        AuthorID: accountID, Body: "hello"})
//	page, _ := svc.List(ctx, messages.ListQuery{ConversationID: id, Before: cursorID, Limit: 50})
//	svc.Edit(ctx, msgID, "new body")        // sets EditedAt
//	svc.Delete(ctx, msgID)                  // soft delete
//	svc.SetHidden(ctx, convID, []string{msgID}, true) // moderation: hide / unhide
//	svc.Pin / Unpin / React / Unreact / Reactions / Search / MarkRead / Unread
//
// Message ids are UUIDv7 (time ordered), so "before <id>" is the cursor for
// backwards pagination; List returns newest first.
//
// # Events
//
// Every change is published on the bus on topic Topic(conversationID), i.e.
// "messages.<conversation_id>", as a JSON Event:
//
//	{"type":"created"|"updated"|"deleted"|"visibility"|"pinned"|"unpinned"|
//	         "reaction_add"|"reaction_remove",
//	 "conversation_id":"…","kind":"channel", "message":{…Message…},
//	 "reaction":{"account_id":"…","emoji":"…"}}   // reaction events only
//
// Surfaces subscribe to "messages.>" (or one conversation) and encode the
// event in their own protocol. Hidden messages are still published (type
// "visibility") so moderators' views can update; List excludes hidden
// messages unless ListQuery.IncludeHidden is set.
package messages

import (
	"context"
	"time"
)

// Kind is the kind of conversation a message belongs to.
type Kind string

// Conversation kinds.
const (
	KindChannel Kind = "channel" // a community text channel (Together)
	KindDM      Kind = "dm"      // a direct-message conversation
	KindWatch   Kind = "watch"   // a watch room's chat (OTT)
	KindStage   Kind = "stage"   // a live stage's chat (Owncast)
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	switch k {
	case KindChannel, KindDM, KindWatch, KindStage:
		return true
	}
	return false
}

// Message is one message. Body is stored once, raw, as the author sent it.
type Message struct {
	ID               string     `json:"id"`
	ConversationID   string     `json:"conversation_id"`
	Kind             Kind       `json:"kind"`
	AuthorID         *string    `json:"author_id"` // nil for system messages and deleted accounts
	Body             string     `json:"body"`
	ReplyTo          *string    `json:"reply_to"`
	ThreadID         *string    `json:"thread_id"` // the root message when this is a thread reply
	ThreadReplyCount int        `json:"thread_reply_count"`
	MentionUserIDs   []string   `json:"mention_user_ids"`
	MentionEveryone  bool       `json:"mention_everyone"`
	Hidden           bool       `json:"hidden"`
	Deleted          bool       `json:"deleted"`
	Pinned           bool       `json:"pinned"`
	PinnedBy         *string    `json:"pinned_by"`
	PinnedAt         *time.Time `json:"pinned_at"`
	// Meta is surface data stored with the message (JSON text, e.g. a poll
	// id or an Owncast message type); the package does not interpret it.
	Meta      string     `json:"meta,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	EditedAt  *time.Time `json:"edited_at"`
	// HiddenAt is when a moderator hid it (nil while shown, and for
	// messages hidden before the time was kept).
	HiddenAt *time.Time `json:"hidden_at,omitempty"`
}

// Reaction is one account's reaction, carried by reaction events.
type Reaction struct {
	AccountID string `json:"account_id"`
	Emoji     string `json:"emoji"`
}

// ReactionCount summarises one emoji on a message.
type ReactionCount struct {
	Emoji string `json:"emoji"`
	Count int    `json:"count"`
	Me    bool   `json:"me"`
}

// Event types.
const (
	EventCreated        = "created"
	EventUpdated        = "updated"
	EventDeleted        = "deleted"
	EventVisibility     = "visibility"
	EventPinned         = "pinned"
	EventUnpinned       = "unpinned"
	EventReactionAdd    = "reaction_add"
	EventReactionRemove = "reaction_remove"
)

// Event is what the service publishes on Topic(conversation).
type Event struct {
	Type           string    `json:"type"`
	ConversationID string    `json:"conversation_id"`
	Kind           Kind      `json:"kind"`
	Message        *Message  `json:"message"`
	Reaction       *Reaction `json:"reaction,omitempty"`
}

// TopicPrefix starts every message topic.
const TopicPrefix = "messages."

// Topic is the bus topic for a conversation's events.
func Topic(conversationID string) string { return TopicPrefix + conversationID }

// Mentions are the accounts a message mentions, and whether it mentions
// everyone.
type Mentions struct {
	UserIDs  []string
	Everyone bool
}

// ListQuery selects a page of a conversation (or of a thread), newest first.
type ListQuery struct {
	ConversationID string
	// ThreadID lists the replies of that root message instead of the
	// top-level messages (top-level listing excludes thread replies).
	ThreadID string
	// Before is a message id: only messages older than it are returned.
	Before string
	// After is a message id: only messages newer than it are returned.
	After         string
	Limit         int
	IncludeHidden bool
	// WithThreads lists thread replies along with the top-level messages
	// of ConversationID (for exports).
	WithThreads bool
	// Oldest returns the page oldest first (for chat backlogs).
	Oldest bool
	// FromStart, with Oldest, reads forwards from the first message (or
	// from After) instead of taking the newest page: Together's thread
	// listing.
	FromStart bool
}

// SearchQuery is a full-text search over some conversations.
type SearchQuery struct {
	ConversationIDs []string
	Text            string // folded and tokenised by the service
	Before          string // message id cursor
	Limit           int
}

// SearchHit is one result. Highlight is the body, HTML-escaped, with the
// matched words wrapped in <mark>…</mark>.
type SearchHit struct {
	Message   *Message
	Highlight string
	Rank      float64
}

// SearchPage is a page of hits plus the total match count.
type SearchPage struct {
	Hits    []SearchHit
	Total   int
	HasMore bool
}

// Unread is the unread and mention count of one conversation for an account.
type Unread struct {
	ConversationID string
	Unread         int
	Mentions       int
}

// Store is what the service needs from persistence. Lookups that match
// nothing return fault.NotFound.
type Store interface {
	InsertMessage(ctx context.Context, m *Message, searchText string) error
	// InsertMessages stores ms in one transaction (all or none);
	// searchTexts[i] is ms[i]'s.
	InsertMessages(ctx context.Context, ms []*Message, searchTexts []string) error
	Message(ctx context.Context, id string) (*Message, error)
	ListMessages(ctx context.Context, q ListQuery) ([]*Message, error)
	// EditMessage replaces a live message's body; mentions, when not nil,
	// replace its mentions too.
	EditMessage(ctx context.Context, id, body, searchText string, at time.Time, mentions *Mentions) error
	DeleteMessage(ctx context.Context, id string) error
	// SetHidden changes only the messages among ids that are in the
	// conversation, and reports the ids it changed.
	SetHidden(ctx context.Context, conversationID string, ids []string, hidden bool, at time.Time) ([]string, error)
	// SetPinned refuses a new pin with ErrTooManyPins when the message's
	// conversation already holds max pinned messages.
	SetPinned(ctx context.Context, id string, pinned bool, by *string, at time.Time, max int) error
	PinnedMessages(ctx context.Context, conversationID string) ([]*Message, error)
	// AddReaction/RemoveReaction report whether anything changed.
	// AddReaction records a reaction; false when it already existed,
	// ErrReactionKinds when the emoji is new to a message that already
	// carries maxKinds different ones.
	AddReaction(ctx context.Context, messageID, accountID, emoji string, at time.Time, maxKinds int) (bool, error)
	RemoveReaction(ctx context.Context, messageID, accountID, emoji string) (bool, error)
	Reactions(ctx context.Context, messageID, viewerID string) ([]ReactionCount, error)
	// Search matches the folded terms (all must match) in searchable
	// (not deleted, not hidden) messages of the conversations.
	Search(ctx context.Context, q SearchQuery, terms []string) ([]*Message, []float64, int, error)
	MarkRead(ctx context.Context, accountID, conversationID string, at time.Time) error
	Unread(ctx context.Context, accountID string, conversationIDs []string) ([]Unread, error)
	// DeleteConversation removes every message of a conversation.
	DeleteConversation(ctx context.Context, conversationID string) error
}
