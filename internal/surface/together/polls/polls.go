// Package polls serves Together's polls and scheduled events: creating
// them as messages that carry them (POST /channels/{id}/polls, …/events),
// reading and voting (/polls/{id}…), a server's upcoming events, and the
// poll and event a listed message carries (Attached). The checks are
// community's (NewPoll, NewEvent, Poll.CheckVote).
package polls

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/surface/together/rest"
)

// PollOption is one choice of a poll.
type PollOption = community.PollOption

// Poll is a poll attached to a message.
type Poll = community.Poll

// Event is a scheduled server event attached to a message.
type Event = community.ScheduledEvent

// Store persists polls, votes and events (internal/store/together_extras.go).
type Store interface {
	CreatePoll(ctx context.Context, p *Poll) error
	Poll(ctx context.Context, id string) (*Poll, error)
	PollsOf(ctx context.Context, messageIDs []string) (map[string]*Poll, error)
	Vote(ctx context.Context, pollID, accountID, optionID string) error
	// Votes returns the count per option id and accountID's choice.
	Votes(ctx context.Context, pollID, accountID string) (map[string]int, string, error)
	// Ballots maps each account that voted to its option id.
	Ballots(ctx context.Context, pollID string) (map[string]string, error)

	CreateEvent(ctx context.Context, e *Event) error
	EventsOf(ctx context.Context, messageIDs []string) (map[string]*Event, error)
	UpcomingEvents(ctx context.Context, communityID string, after time.Time) ([]*Event, error)
}

// Hooks are what the routes need from the rest of the surface.
type Hooks struct {
	// Channel loads the caller's access to a channel they may view
	// (NotFound otherwise).
	Channel func(ctx context.Context, p *identity.Principal, channelID string) (*community.ChannelAccess, error)
	// Viewers lists the accounts that may view a channel.
	Viewers func(ctx context.Context, channelID string) ([]string, error)
	// Dispatch sends a gateway event to the given accounts.
	Dispatch func(ctx context.Context, t string, d any, recipients []string)
	// Render is a message as Together's MessageDto, for viewer.
	Render func(ctx context.Context, viewer string, m *messages.Message) any
}

// API serves the routes.
type API struct {
	*rest.Base
	store Store        // nil: messages carry no poll or event
	ready func() error // the routes serve only when it answers nil (uploads configured)
	hooks Hooks
}

// New builds the routes on b. The routes serve only while ready answers
// nil (Hearth keeps polls and events with the uploads' extras, so without
// uploads they answer its error, 503).
func New(b *rest.Base, st Store, ready func() error, h Hooks) *API {
	return &API{Base: b, store: st, ready: ready, hooks: h}
}

// meta is what the surface stores in messages.Message.Meta.
type meta struct {
	Poll  string `json:"poll,omitempty"`
	Event string `json:"event,omitempty"`
}

type pollOptionDTO struct {
	ID    string `json:"id"`
	Text  string `json:"text"`
	Votes int    `json:"votes"`
}

type pollDTO struct {
	ID         string          `json:"id"`
	Question   string          `json:"question"`
	Options    []pollOptionDTO `json:"options"`
	TotalVotes int             `json:"total_votes"`
	UserVote   *string         `json:"user_vote"`
}

type eventDTO struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description *string   `json:"description"`
	StartsAt    time.Time `json:"starts_at"`
	CreatedBy   *string   `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
}

func toEvent(e *Event) eventDTO {
	return eventDTO{ID: e.ID, Name: e.Name, Description: e.Description, StartsAt: e.StartsAt, CreatedBy: e.CreatedBy, CreatedAt: e.CreatedAt}
}

func (s *API) pollDTO(ctx context.Context, p *Poll, viewer string) (pollDTO, error) {
	counts, mine, err := s.store.Votes(ctx, p.ID, viewer)
	if err != nil {
		return pollDTO{}, err
	}
	return toPoll(p, counts, mine), nil
}

// toPoll is p in Together's shape with the given counts and mine as its
// user_vote (null when empty).
func toPoll(p *Poll, counts map[string]int, mine string) pollDTO {
	out := pollDTO{ID: p.ID, Question: p.Question, Options: make([]pollOptionDTO, len(p.Options))}
	for i, o := range p.Options {
		out.Options[i] = pollOptionDTO{ID: o.ID, Text: o.Text, Votes: counts[o.ID]}
		out.TotalVotes += counts[o.ID]
	}
	if mine != "" {
		out.UserVote = &mine
	}
	return out
}

// Attached returns the poll and the event each message carries, in
// Together's shape (nil where it carries none), read from the store for
// the messages whose meta names one.
func (s *API) Attached(ctx context.Context, viewer string, ms []*messages.Message) (polls, events []any) {
	polls, events = make([]any, len(ms)), make([]any, len(ms))
	if s.store == nil {
		return polls, events
	}
	var withPoll, withEvent []string
	metas := make([]meta, len(ms))
	for i, m := range ms {
		if m.Meta != "" && json.Unmarshal([]byte(m.Meta), &metas[i]) == nil {
			if metas[i].Poll != "" {
				withPoll = append(withPoll, m.ID)
			}
			if metas[i].Event != "" {
				withEvent = append(withEvent, m.ID)
			}
		}
	}
	if len(withPoll) > 0 {
		if ps, err := s.store.PollsOf(ctx, withPoll); err == nil {
			for i, m := range ms {
				if p := ps[m.ID]; p != nil {
					if dto, err := s.pollDTO(ctx, p, viewer); err == nil {
						polls[i] = dto
					}
				}
			}
		}
	}
	if len(withEvent) > 0 {
		if es, err := s.store.EventsOf(ctx, withEvent); err == nil {
			for i, m := range ms {
				if e := es[m.ID]; e != nil {
					events[i] = toEvent(e)
				}
			}
		}
	}
	return polls, events
}

func (s *API) CreatePoll(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := s.ready(); err != nil {
		s.Fail(w, err)
		return
	}
	ctx := r.Context()
	ca, err := s.hooks.Channel(ctx, p, r.PathValue("channel_id"))
	if err != nil {
		s.Fail(w, err)
		return
	}
	var in struct {
		Question *string  `json:"question"`
		Options  []string `json:"options"`
	}
	if err := rest.Decode(r, &in, false); err != nil {
		s.Bad(w, err)
		return
	}
	if in.Question == nil {
		rest.WriteError(w, http.StatusUnprocessableEntity, "question is required")
		return
	}
	poll, err := s.Community.NewPoll(ctx, p.Account.ID, ca.Channel.ID, *in.Question, in.Options)
	if err != nil {
		s.Fail(w, err)
		return
	}
	if err := s.store.CreatePoll(ctx, poll); err != nil {
		s.Fail(w, err)
		return
	}
	raw, _ := json.Marshal(meta{Poll: poll.ID})
	m, err := s.Messages.Post(ctx, messages.PostInput{ID: poll.MessageID, ConversationID: ca.Channel.ID, Kind: messages.KindChannel,
		AuthorID: p.Account.ID, Body: "📊 **Poll**: " + *in.Question, Meta: string(raw)})
	if err != nil {
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusCreated, s.hooks.Render(ctx, p.Account.ID, m))
}

// pollFor loads a poll whose channel the caller may view.
func (s *API) pollFor(ctx context.Context, p *identity.Principal, id string) (*Poll, *community.ChannelAccess, error) {
	notFound := fault.New(fault.NotFound, "Poll not found")
	if err := s.ready(); err != nil {
		return nil, nil, err
	}
	if _, err := uuid.Parse(id); err != nil {
		return nil, nil, notFound
	}
	poll, err := s.store.Poll(ctx, id)
	if err != nil {
		return nil, nil, notFound
	}
	ca, err := s.hooks.Channel(ctx, p, poll.ChannelID)
	if err != nil {
		return nil, nil, notFound
	}
	return poll, ca, nil
}

func (s *API) Poll(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	poll, _, err := s.pollFor(r.Context(), p, r.PathValue("poll_id"))
	if err != nil {
		s.Fail(w, err)
		return
	}
	dto, err := s.pollDTO(r.Context(), poll, p.Account.ID)
	if err != nil {
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusOK, dto)
}

func (s *API) Vote(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	poll, ca, err := s.pollFor(ctx, p, r.PathValue("poll_id"))
	if err != nil {
		s.Fail(w, err)
		return
	}
	var in struct {
		OptionID *string `json:"option_id"`
	}
	if err := rest.Decode(r, &in, false); err != nil {
		s.Bad(w, err)
		return
	}
	if in.OptionID == nil {
		rest.WriteError(w, http.StatusUnprocessableEntity, "option_id is required")
		return
	}
	if err := rest.UUIDField("option_id", in.OptionID); err != nil {
		s.Bad(w, err)
		return
	}
	if err := poll.CheckVote(ca, *in.OptionID); err != nil {
		s.Fail(w, err)
		return
	}
	if err := s.store.Vote(ctx, poll.ID, p.Account.ID, *in.OptionID); err != nil {
		s.Fail(w, err)
		return
	}
	ballots, err := s.store.Ballots(ctx, poll.ID)
	if err != nil {
		s.Fail(w, err)
		return
	}
	counts := map[string]int{}
	for _, opt := range ballots {
		counts[opt]++
	}
	if ids, err := s.hooks.Viewers(ctx, poll.ChannelID); err == nil {
		s.dispatchVote(ctx, poll, counts, ballots, ids)
	}
	rest.WriteJSON(w, http.StatusOK, toPoll(poll, counts, ballots[p.Account.ID]))
}

// dispatchVote sends POLL_VOTE to the channel's viewers, each with its own
// vote as updated_poll.user_vote: Together's client puts updated_poll in
// place of the poll it shows, so a user_vote that is not the recipient's
// would show another's choice as theirs, and a null one would clear theirs
// (the voter's own too, when the event comes after the vote's answer).
// One dispatch per choice among the viewers (no choice included).
func (s *API) dispatchVote(ctx context.Context, poll *Poll, counts map[string]int, ballots map[string]string, viewers []string) {
	byChoice := map[string][]string{}
	for _, id := range viewers {
		byChoice[ballots[id]] = append(byChoice[ballots[id]], id)
	}
	for choice, ids := range byChoice {
		s.hooks.Dispatch(ctx, "POLL_VOTE", map[string]any{"poll_id": poll.ID, "channel_id": poll.ChannelID, "updated_poll": toPoll(poll, counts, choice)}, ids)
	}
}

func (s *API) CreateEvent(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := s.ready(); err != nil {
		s.Fail(w, err)
		return
	}
	ctx := r.Context()
	ca, err := s.hooks.Channel(ctx, p, r.PathValue("channel_id"))
	if err != nil {
		s.Fail(w, err)
		return
	}
	var in struct {
		Name        *string    `json:"name"`
		Description *string    `json:"description"`
		StartsAt    *time.Time `json:"starts_at"`
	}
	if err := rest.Decode(r, &in, false); err != nil {
		s.Bad(w, err)
		return
	}
	if in.Name == nil || in.StartsAt == nil {
		rest.WriteError(w, http.StatusUnprocessableEntity, "name and starts_at are required")
		return
	}
	ev, err := s.Community.NewEvent(ctx, p.Account.ID, ca.Community.ID, ca.Channel.ID, *in.Name, in.Description, *in.StartsAt)
	if err != nil {
		s.Fail(w, err)
		return
	}
	if err := s.store.CreateEvent(ctx, ev); err != nil {
		s.Fail(w, err)
		return
	}
	raw, _ := json.Marshal(meta{Event: ev.ID})
	m, err := s.Messages.Post(ctx, messages.PostInput{ID: ev.MessageID, ConversationID: ca.Channel.ID, Kind: messages.KindChannel,
		AuthorID: p.Account.ID, Body: "📅 **Event**: " + *in.Name, Meta: string(raw)})
	if err != nil {
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusCreated, s.hooks.Render(ctx, p.Account.ID, m))
}

func (s *API) Events(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := s.ready(); err != nil {
		s.Fail(w, err)
		return
	}
	id, err := rest.ServerID(r)
	if err != nil {
		s.Fail(w, err)
		return
	}
	if _, err := s.Community.Access(r.Context(), p.Account.ID, id); err != nil {
		s.Fail(w, err)
		return
	}
	es, err := s.store.UpcomingEvents(r.Context(), id, time.Now().UTC())
	if err != nil {
		s.Fail(w, err)
		return
	}
	out := rest.MapAll(es, toEvent)
	rest.WriteJSON(w, http.StatusOK, out)
}
