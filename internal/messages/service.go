package messages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// MaxBody is the longest body the store accepts, in characters: the bound
// of a message without an author (system notices, fediverse engagement)
// and of room chat, which watch bounds in bytes first. A person's message
// obeys its conversation's limit (MaxBodyOf).
const MaxBody = 16000

// The longest body, in characters, a person may post into a conversation,
// by its kind: the limit of the system whose conversation it is, whichever
// surface the message arrives through.
const (
	// MaxChannelBody bounds community channels and DMs (Together's message
	// content, 1–4000 characters).
	MaxChannelBody = 4000
	// MaxStageBody bounds a stage chat (Owncast's chat message: 2048).
	MaxStageBody = 2048
)

// MaxBodyOf returns the longest body, in characters, a person may post
// into a conversation of kind k.
func MaxBodyOf(k Kind) int {
	switch k {
	case KindChannel, KindDM:
		return MaxChannelBody
	case KindStage:
		return MaxStageBody
	}
	return MaxBody
}

// BodyError refuses a body outside its conversation's bounds: blank, or
// longer than Max characters. It comes wrapped in a fault.Invalid error;
// surfaces that word the refusal themselves find it with errors.As.
type BodyError struct {
	Max   int  // the conversation's limit, in characters
	Empty bool // blank rather than too long
}

func (e *BodyError) Error() string {
	if e.Empty {
		return "message body is blank"
	}
	return fmt.Sprintf("message body is longer than %d characters", e.Max)
}

// CheckBody is the length rule of a body a person posts or edits into a
// conversation of kind k: not blank and at most MaxBodyOf(k) characters.
// Post and Edit enforce it for every caller; a surface may call it first
// to answer in its own order.
func CheckBody(k Kind, body string) error {
	return checkLength(body, MaxBodyOf(k))
}

func checkLength(body string, max int) error {
	if strings.TrimSpace(body) == "" {
		return &fault.Error{Kind: fault.Invalid, Msg: "Message content cannot be empty", Err: &BodyError{Max: max, Empty: true}}
	}
	if utf8.RuneCountInString(body) > max {
		return &fault.Error{Kind: fault.Invalid, Msg: "Message content is too long", Err: &BodyError{Max: max}}
	}
	return nil
}

// MaxEmoji is the longest reaction emoji, in bytes.
const MaxEmoji = 64

// MaxReactionKinds is how many different emoji one message may carry (as
// Discord): a reaction with one more is refused, one that joins an emoji
// already there never is. Without it a member could pile thousands of
// distinct "emoji" onto a message that every viewer then loads.
const MaxReactionKinds = 20

// MaxPins is how many pinned messages one conversation may hold (Discord's
// bound; Together has none, and lists every pin in one answer).
const MaxPins = 250

// ErrTooManyPins refuses a pin past MaxPins.
var ErrTooManyPins = fault.Newf(fault.Invalid, "Maximum number of pins reached (%d)", MaxPins)

// ErrReactionKinds refuses a reaction past MaxReactionKinds.
var ErrReactionKinds = fault.Newf(fault.Invalid, "Maximum number of reactions reached (%d)", MaxReactionKinds)

// Rules are the rules of writing into a domain's conversations (community
// channels: community.Service; a live stage's chat: stagechat.Service).
// Post and Edit consult every domain's rules for every caller, so no
// surface repeats them; each domain's rules look only at the conversations
// they own.
type Rules interface {
	// CheckPost runs before a message with an author is stored. It refuses
	// with an error carrying a fault kind and the message a surface shows,
	// or completes in (the mentions parsed from the body).
	CheckPost(ctx context.Context, in *PostInput) error
	// CheckEdit runs before m's body is replaced; it returns the new
	// body's mentions (nil keeps them).
	CheckEdit(ctx context.Context, m *Message, body string) (*Mentions, error)
}

// Service is the messages domain service.
type Service struct {
	st    Store
	pub   Publisher
	rules []Rules
	log   *slog.Logger
	now   func() time.Time
}

// New builds the service. pub may be nil (no events).
func New(st Store, pub Publisher, logger *slog.Logger) (*Service, error) {
	if st == nil {
		return nil, errors.New("messages: nil store")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, pub: pub, log: logger, now: time.Now}, nil
}

// SetRules sets the rules Post and Edit enforce, each domain's in turn
// (wiring, before use).
func (s *Service) SetRules(rs ...Rules) { s.rules = rs }

// AddRules adds a domain's rules to those set (wiring, before use).
func (s *Service) AddRules(r Rules) { s.rules = append(s.rules, r) }

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// NewID returns a fresh time-ordered message id.
func NewID() string { return identity.NewID() }

// PostInput is a new message.
type PostInput struct {
	// ID is the new message's id; empty means a fresh UUIDv7. Surfaces
	// that store data keyed by the message before posting it set it (use
	// NewID).
	ID             string
	ConversationID string
	Kind           Kind
	AuthorID       string // "" for a system message
	Body           string
	ReplyTo        string
	ThreadID       string
	// ViaChannel is the community channel a message is posted through
	// when its conversation is not the channel's own (a stage channel
	// whose messages live in a stage's chat); the channel's rules apply,
	// and the stage chat's.
	ViaChannel string
	// ClientAddr is the network address of the client that sent the post,
	// as its surface reads it (ratelimit.ClientIP, with the trusted-proxy
	// setting); "" for a message no client sent. A domain's rules may
	// refuse an address (a stage chat's IP bans); it is not stored.
	ClientAddr      string
	MentionUserIDs  []string
	MentionEveryone bool
	Hidden          bool
	Meta            string
}

// Post stores a message and publishes a created event. A message with an
// author first passes the rules (SetRules). ReplyTo and ThreadID, when set,
// must name live messages of the same conversation (neither deleted nor
// hidden by a moderator); a thread root may not itself be a thread reply.
func (s *Service) Post(ctx context.Context, in PostInput) (*Message, error) {
	m, err := s.prepare(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := s.st.InsertMessage(ctx, m, Fold(m.Body)); err != nil {
		return nil, err
	}
	s.publish(ctx, EventCreated, m, nil)
	return m, nil
}

// PostBatch posts several messages as Post does each, their inserts in one
// transaction (a commit per batch, not per message: room chat is kept this
// way). It returns the messages stored, in order, and the errors of those
// that were not (errors.Join). If the batch's transaction fails, each
// message is inserted on its own, so one bad message loses no other.
func (s *Service) PostBatch(ctx context.Context, ins []PostInput) ([]*Message, error) {
	ms := make([]*Message, 0, len(ins))
	texts := make([]string, 0, len(ins))
	var errs []error
	for _, in := range ins {
		m, err := s.prepare(ctx, in)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ms = append(ms, m)
		texts = append(texts, Fold(m.Body))
	}
	if len(ms) == 0 {
		return nil, errors.Join(errs...)
	}
	if err := s.st.InsertMessages(ctx, ms, texts); err != nil {
		kept := ms[:0]
		for i, m := range ms {
			if err := s.st.InsertMessage(ctx, m, texts[i]); err != nil {
				errs = append(errs, err)
				continue
			}
			kept = append(kept, m)
		}
		ms = kept
	}
	for _, m := range ms {
		s.publish(ctx, EventCreated, m, nil)
	}
	return ms, errors.Join(errs...)
}

// checkBody is the rule of a body, posted or edited: not blank, at most
// max characters of UTF-8, and no NUL (PostgreSQL cannot store one).
func checkBody(body string, max int) error {
	if err := checkLength(body, max); err != nil {
		return err
	}
	if !utf8.ValidString(body) {
		return fault.New(fault.Invalid, "Message content is too long")
	}
	if strings.IndexByte(body, 0) >= 0 {
		return fault.ErrNUL
	}
	return nil
}

// prepare checks in and builds the message Post stores.
func (s *Service) prepare(ctx context.Context, in PostInput) (*Message, error) {
	if in.ConversationID == "" || !in.Kind.Valid() {
		return nil, fault.New(fault.Invalid, "conversation required")
	}
	max := MaxBody
	if in.AuthorID != "" {
		max = MaxBodyOf(in.Kind)
	}
	if err := checkBody(in.Body, max); err != nil {
		return nil, err
	}
	if in.ID == "" {
		in.ID = NewID()
	} else if _, err := uuid.Parse(in.ID); err != nil {
		return nil, fault.New(fault.Invalid, "invalid message id")
	}
	if in.AuthorID != "" {
		for _, r := range s.rules {
			if err := r.CheckPost(ctx, &in); err != nil {
				return nil, err
			}
		}
	}
	m := &Message{ID: in.ID, ConversationID: in.ConversationID, Kind: in.Kind, Body: in.Body,
		MentionUserIDs: in.MentionUserIDs, MentionEveryone: in.MentionEveryone, Hidden: in.Hidden, Meta: in.Meta,
		CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
	if m.MentionUserIDs == nil {
		m.MentionUserIDs = []string{}
	}
	if in.AuthorID != "" {
		m.AuthorID = &in.AuthorID
	}
	for _, ref := range []struct {
		id  string
		dst **string
		msg string
	}{{in.ReplyTo, &m.ReplyTo, "Reply target message not found"}, {in.ThreadID, &m.ThreadID, "Message not found"}} {
		if ref.id == "" {
			continue
		}
		if _, err := uuid.Parse(ref.id); err != nil {
			return nil, fault.New(fault.NotFound, ref.msg)
		}
		parent, err := s.st.Message(ctx, ref.id)
		if errors.Is(err, fault.NotFound) || (err == nil && (parent.Deleted || parent.Hidden || parent.ConversationID != in.ConversationID)) {
			return nil, fault.New(fault.NotFound, ref.msg)
		}
		if err != nil {
			return nil, err
		}
		if ref.dst == &m.ThreadID && parent.ThreadID != nil {
			return nil, fault.New(fault.Invalid, "Cannot create a thread from a thread reply")
		}
		id := ref.id
		*ref.dst = &id
	}
	return m, nil
}

// Get returns a message (deleted ones too; callers check Deleted).
func (s *Service) Get(ctx context.Context, id string) (*Message, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, fault.New(fault.NotFound, "Message not found")
	}
	m, err := s.st.Message(ctx, id)
	if errors.Is(err, fault.NotFound) {
		return nil, fault.New(fault.NotFound, "Message not found")
	}
	return m, err
}

// List returns a page of a conversation, newest first (oldest first with
// q.Oldest), excluding deleted messages and, unless asked, hidden ones.
func (s *Service) List(ctx context.Context, q ListQuery) ([]*Message, error) {
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 50
	}
	return s.st.ListMessages(ctx, q)
}

// Edit replaces a message's body and sets EditedAt. A person's message
// obeys its conversation's limit (MaxBodyOf) as when posted; the rules (SetRules) see the edit
// next and give the new body's mentions.
func (s *Service) Edit(ctx context.Context, id, body string) (*Message, error) {
	if err := checkBody(body, MaxBody); err != nil {
		return nil, err
	}
	old, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if old.AuthorID != nil {
		if err := CheckBody(old.Kind, body); err != nil {
			return nil, err
		}
	}
	var mentions *Mentions
	if len(s.rules) > 0 {
		for _, r := range s.rules {
			m, err := r.CheckEdit(ctx, old, body)
			if err != nil {
				return nil, err
			}
			if m != nil {
				mentions = m
			}
		}
	}
	if err := s.st.EditMessage(ctx, id, body, Fold(body), s.now().UTC(), mentions); err != nil {
		if errors.Is(err, fault.NotFound) {
			return nil, fault.New(fault.NotFound, "Message not found")
		}
		return nil, err
	}
	m, err := s.st.Message(ctx, id)
	if err != nil {
		return nil, err
	}
	s.publish(ctx, EventUpdated, m, nil)
	return m, nil
}

// Delete soft-deletes a message.
func (s *Service) Delete(ctx context.Context, id string) (*Message, error) {
	if err := s.st.DeleteMessage(ctx, id); err != nil {
		if errors.Is(err, fault.NotFound) {
			return nil, fault.New(fault.NotFound, "Message not found")
		}
		return nil, err
	}
	m, err := s.st.Message(ctx, id)
	if err != nil {
		return nil, err
	}
	s.publish(ctx, EventDeleted, m, nil)
	return m, nil
}

// SetHidden hides or shows messages of one conversation (moderation) and
// publishes a visibility event for each one that changed; ids of messages
// in any other conversation change nothing.
func (s *Service) SetHidden(ctx context.Context, conversationID string, ids []string, hidden bool) ([]*Message, error) {
	changed, err := s.st.SetHidden(ctx, conversationID, ids, hidden, s.now().UTC())
	if err != nil {
		return nil, err
	}
	out := make([]*Message, 0, len(changed))
	for _, id := range changed {
		m, err := s.st.Message(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
		s.publish(ctx, EventVisibility, m, nil)
	}
	return out, nil
}

// Pin pins (pinned=true) or unpins a message.
func (s *Service) Pin(ctx context.Context, id, by string, pinned bool) (*Message, error) {
	var byp *string
	if pinned {
		byp = &by
	}
	if err := s.st.SetPinned(ctx, id, pinned, byp, s.now().UTC(), MaxPins); err != nil {
		if errors.Is(err, fault.NotFound) {
			return nil, fault.New(fault.NotFound, "Message not found")
		}
		return nil, err
	}
	m, err := s.st.Message(ctx, id)
	if err != nil {
		return nil, err
	}
	typ := EventPinned
	if !pinned {
		typ = EventUnpinned
	}
	s.publish(ctx, typ, m, nil)
	return m, nil
}

// Pinned lists a conversation's pinned messages, most recently pinned first.
func (s *Service) Pinned(ctx context.Context, conversationID string) ([]*Message, error) {
	return s.st.PinnedMessages(ctx, conversationID)
}

// React adds (add=true) or removes a reaction; it reports whether anything
// changed and publishes an event when it did.
func (s *Service) React(ctx context.Context, m *Message, accountID, emoji string, add bool) (bool, error) {
	if emoji == "" || len(emoji) > MaxEmoji || !utf8.ValidString(emoji) || strings.IndexByte(emoji, 0) >= 0 {
		return false, fault.New(fault.Invalid, "Invalid emoji")
	}
	var changed bool
	var err error
	typ := EventReactionAdd
	if add {
		changed, err = s.st.AddReaction(ctx, m.ID, accountID, emoji, s.now().UTC(), MaxReactionKinds)
	} else {
		typ = EventReactionRemove
		changed, err = s.st.RemoveReaction(ctx, m.ID, accountID, emoji)
	}
	if err != nil || !changed {
		return false, err
	}
	s.publish(ctx, typ, m, &Reaction{AccountID: accountID, Emoji: emoji})
	return true, nil
}

// Reactions summarises a message's reactions for viewerID.
func (s *Service) Reactions(ctx context.Context, messageID, viewerID string) ([]ReactionCount, error) {
	return s.st.Reactions(ctx, messageID, viewerID)
}

// Search finds messages containing every word of q.Text (diacritics and
// case folded), newest first, with highlights.
func (s *Service) Search(ctx context.Context, q SearchQuery) (*SearchPage, error) {
	terms := Terms(q.Text, 16)
	if len(terms) == 0 || len(q.ConversationIDs) == 0 {
		return &SearchPage{Hits: []SearchHit{}}, nil
	}
	if q.Limit <= 0 || q.Limit > 100 {
		q.Limit = 50
	}
	want := q.Limit
	q.Limit++
	msgs, ranks, total, err := s.st.Search(ctx, q, terms)
	if err != nil {
		return nil, err
	}
	p := &SearchPage{Hits: make([]SearchHit, 0, len(msgs)), Total: total}
	if len(msgs) > want {
		p.HasMore = true
		msgs = msgs[:want]
	}
	for i, m := range msgs {
		p.Hits = append(p.Hits, SearchHit{Message: m, Highlight: Highlight(m.Body, terms), Rank: ranks[i]})
	}
	return p, nil
}

// MarkRead records that accountID has read the conversation up to now.
func (s *Service) MarkRead(ctx context.Context, accountID, conversationID string) error {
	return s.st.MarkRead(ctx, accountID, conversationID, s.now().UTC())
}

// Unread counts unread messages (by others, not deleted or hidden) and
// mentions of accountID since the last MarkRead, per conversation.
func (s *Service) Unread(ctx context.Context, accountID string, conversationIDs []string) ([]Unread, error) {
	if len(conversationIDs) == 0 {
		return nil, nil
	}
	return s.st.Unread(ctx, accountID, conversationIDs)
}

// DeleteConversation removes every message of a conversation (when a
// channel or room is deleted). No events are published.
func (s *Service) DeleteConversation(ctx context.Context, conversationID string) error {
	return s.st.DeleteConversation(ctx, conversationID)
}

func (s *Service) publish(ctx context.Context, typ string, m *Message, r *Reaction) {
	if s.pub == nil {
		return
	}
	data, err := json.Marshal(Event{Type: typ, ConversationID: m.ConversationID, Kind: m.Kind, Message: m, Reaction: r})
	if err != nil {
		s.log.Error("encode message event", "err", err)
		return
	}
	if err := s.pub.Publish(ctx, Topic(m.ConversationID), data); err != nil {
		s.log.Warn("publish message event", "topic", Topic(m.ConversationID), "err", err)
	}
}
