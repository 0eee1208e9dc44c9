package community

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
)

// PollOption is one choice of a poll.
type PollOption struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// Poll is a poll posted in a channel; its message carries it.
type Poll struct {
	ID        string
	MessageID string
	ChannelID string
	Question  string
	Options   []PollOption
	CreatedAt time.Time
}

// ScheduledEvent is a scheduled community event posted in a channel; its
// message carries it.
type ScheduledEvent struct {
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

// The rules of polls and events, as errors with fault kinds; a surface
// words them its own way (errors.Is).
var (
	ErrPollQuestion     = fault.New(fault.Invalid, "poll question must be 1-500 characters")
	ErrPollOptionCount  = fault.New(fault.Invalid, "a poll needs 2-10 options")
	ErrPollOptionText   = fault.New(fault.Invalid, "each poll option must be 1-200 characters")
	ErrPollNoSuchOption = fault.New(fault.Invalid, "no such poll option")
	ErrEventName        = fault.New(fault.Invalid, "event name must be 1-200 characters")
	ErrEventDescription = fault.New(fault.Invalid, "event description must be at most 2000 characters")
)

// runesIn reports whether s, trimmed, has min to max characters.
func runesIn(s string, min, max int) bool {
	n := utf8.RuneCountInString(strings.TrimSpace(s))
	return n >= min && n <= max
}

// NewPoll checks a poll actor wants to post in channelID (question 1-500
// characters, 2-10 options of 1-200, and the channel's send permission, in
// that order) and returns it with fresh ids, its message id included.
func (s *Service) NewPoll(ctx context.Context, actor, channelID, question string, options []string) (*Poll, error) {
	if !runesIn(question, 1, 500) {
		return nil, ErrPollQuestion
	}
	if len(options) < 2 || len(options) > 10 {
		return nil, ErrPollOptionCount
	}
	p := &Poll{ID: identity.NewID(), MessageID: messages.NewID(), ChannelID: channelID, Question: question,
		CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
	for _, o := range options {
		if !runesIn(o, 1, 200) {
			return nil, ErrPollOptionText
		}
		if strings.ContainsRune(o, 0) {
			return nil, fault.ErrNUL // the options are stored as JSON, past the store's own check
		}
		p.Options = append(p.Options, PollOption{ID: identity.NewID(), Text: o})
	}
	if _, err := s.CanSend(ctx, actor, channelID); err != nil {
		return nil, err
	}
	return p, nil
}

// CheckVote says whether ca's account may vote optionID in p: one of p's
// options, and the voter not timed out (a vote is said in the channel, as
// Discord's timeout refuses it; Together lets it through).
func (p *Poll) CheckVote(ca *ChannelAccess, optionID string) error {
	if !slices.ContainsFunc(p.Options, func(o PollOption) bool { return o.ID == optionID }) {
		return ErrPollNoSuchOption
	}
	return ca.MayCommunicate()
}

// NewEvent checks an event actor wants to post in a channel of
// communityID (name 1-200 characters, description at most 2000, and the
// channel's send permission, in that order) and returns it with fresh ids.
// An empty description is none.
func (s *Service) NewEvent(ctx context.Context, actor, communityID, channelID, name string, description *string, startsAt time.Time) (*ScheduledEvent, error) {
	if !runesIn(name, 1, 200) {
		return nil, ErrEventName
	}
	if description != nil && utf8.RuneCountInString(*description) > 2000 {
		return nil, ErrEventDescription
	}
	if _, err := s.CanSend(ctx, actor, channelID); err != nil {
		return nil, err
	}
	if description != nil && *description == "" {
		description = nil
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	return &ScheduledEvent{ID: identity.NewID(), CommunityID: communityID, ChannelID: channelID, MessageID: messages.NewID(), Name: name,
		Description: description, StartsAt: startsAt.UTC().Truncate(time.Microsecond), CreatedBy: &actor, CreatedAt: now}, nil
}
