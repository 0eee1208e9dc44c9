package together

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
)

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

func (s *Surface) pollDTO(ctx context.Context, p *Poll, viewer string) (pollDTO, error) {
	counts, mine, err := s.d.Extras.Votes(ctx, p.ID, viewer)
	if err != nil {
		return pollDTO{}, err
	}
	out := pollDTO{ID: p.ID, Question: p.Question, Options: make([]pollOptionDTO, len(p.Options))}
	for i, o := range p.Options {
		out.Options[i] = pollOptionDTO{ID: o.ID, Text: o.Text, Votes: counts[o.ID]}
		out.TotalVotes += counts[o.ID]
	}
	if mine != "" {
		out.UserVote = &mine
	}
	return out, nil
}

// render turns messages into MessageDtos, filling poll and event from the
// surface's tables for the messages that carry them.
func (s *Surface) render(ctx context.Context, viewer string, ms []*messages.Message) []messageDTO {
	out := toMessages(ms)
	if s.d.Extras == nil {
		return out
	}
	var polls, events []string
	metas := make([]meta, len(ms))
	for i, m := range ms {
		if m.Meta != "" && json.Unmarshal([]byte(m.Meta), &metas[i]) == nil {
			if metas[i].Poll != "" {
				polls = append(polls, m.ID)
			}
			if metas[i].Event != "" {
				events = append(events, m.ID)
			}
		}
	}
	if len(polls) > 0 {
		if ps, err := s.d.Extras.PollsOf(ctx, polls); err == nil {
			for i, m := range ms {
				if p := ps[m.ID]; p != nil {
					if dto, err := s.pollDTO(ctx, p, viewer); err == nil {
						out[i].Poll = dto
					}
				}
			}
		}
	}
	if len(events) > 0 {
		if es, err := s.d.Extras.EventsOf(ctx, events); err == nil {
			for i, m := range ms {
				if e := es[m.ID]; e != nil {
					out[i].Event = toEvent(e)
				}
			}
		}
	}
	return out
}

func (s *Surface) render1(ctx context.Context, viewer string, m *messages.Message) messageDTO {
	return s.render(ctx, viewer, []*messages.Message{m})[0]
}

func (s *Surface) createPoll(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := s.uploadsReady(); err != nil {
		s.fail(w, err)
		return
	}
	ctx := r.Context()
	ca, err := s.channelFor(ctx, p, r.PathValue("channel_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	var in struct {
		Question *string  `json:"question"`
		Options  []string `json:"options"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	if in.Question == nil {
		writeError(w, http.StatusUnprocessableEntity, "question is required")
		return
	}
	poll, err := s.d.Community.NewPoll(ctx, p.Account.ID, ca.Channel.ID, *in.Question, in.Options)
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.d.Extras.CreatePoll(ctx, poll); err != nil {
		s.fail(w, err)
		return
	}
	raw, _ := json.Marshal(meta{Poll: poll.ID})
	m, err := s.d.Messages.Post(ctx, messages.PostInput{ID: poll.MessageID, ConversationID: ca.Channel.ID, Kind: messages.KindChannel,
		AuthorID: p.Account.ID, Body: "📊 **Poll**: " + *in.Question, Meta: string(raw)})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.render1(ctx, p.Account.ID, m))
}

// pollFor loads a poll whose channel the caller may view.
func (s *Surface) pollFor(ctx context.Context, p *identity.Principal, id string) (*Poll, *community.ChannelAccess, error) {
	notFound := fault.New(fault.NotFound, "Poll not found")
	if err := s.uploadsReady(); err != nil {
		return nil, nil, err
	}
	if _, err := uuid.Parse(id); err != nil {
		return nil, nil, notFound
	}
	poll, err := s.d.Extras.Poll(ctx, id)
	if err != nil {
		return nil, nil, notFound
	}
	ca, err := s.channelFor(ctx, p, poll.ChannelID)
	if err != nil {
		return nil, nil, notFound
	}
	return poll, ca, nil
}

func (s *Surface) getPoll(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	poll, _, err := s.pollFor(r.Context(), p, r.PathValue("poll_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	dto, err := s.pollDTO(r.Context(), poll, p.Account.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, dto)
}

func (s *Surface) votePoll(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	poll, _, err := s.pollFor(ctx, p, r.PathValue("poll_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	var in struct {
		OptionID *string `json:"option_id"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	if in.OptionID == nil {
		writeError(w, http.StatusUnprocessableEntity, "option_id is required")
		return
	}
	if err := poll.CheckVote(*in.OptionID); err != nil {
		s.fail(w, err)
		return
	}
	if err := s.d.Extras.Vote(ctx, poll.ID, p.Account.ID, *in.OptionID); err != nil {
		s.fail(w, err)
		return
	}
	dto, err := s.pollDTO(ctx, poll, p.Account.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	if viewers, err := s.viewers(ctx, poll.ChannelID); err == nil {
		shared := dto
		shared.UserVote = nil
		var ids []string
		for id := range viewers {
			if canView(viewers, id) {
				ids = append(ids, id)
			}
		}
		s.publishDispatch(ctx, "POLL_VOTE", map[string]any{"poll_id": poll.ID, "channel_id": poll.ChannelID, "updated_poll": shared}, ids)
	}
	writeJSON(w, http.StatusOK, dto)
}

func (s *Surface) createEvent(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := s.uploadsReady(); err != nil {
		s.fail(w, err)
		return
	}
	ctx := r.Context()
	ca, err := s.channelFor(ctx, p, r.PathValue("channel_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	var in struct {
		Name        *string    `json:"name"`
		Description *string    `json:"description"`
		StartsAt    *time.Time `json:"starts_at"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	if in.Name == nil || in.StartsAt == nil {
		writeError(w, http.StatusUnprocessableEntity, "name and starts_at are required")
		return
	}
	ev, err := s.d.Community.NewEvent(ctx, p.Account.ID, ca.Community.ID, ca.Channel.ID, *in.Name, in.Description, *in.StartsAt)
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.d.Extras.CreateEvent(ctx, ev); err != nil {
		s.fail(w, err)
		return
	}
	raw, _ := json.Marshal(meta{Event: ev.ID})
	m, err := s.d.Messages.Post(ctx, messages.PostInput{ID: ev.MessageID, ConversationID: ca.Channel.ID, Kind: messages.KindChannel,
		AuthorID: p.Account.ID, Body: "📅 **Event**: " + *in.Name, Meta: string(raw)})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.render1(ctx, p.Account.ID, m))
}

func (s *Surface) listEvents(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := s.uploadsReady(); err != nil {
		s.fail(w, err)
		return
	}
	id, err := serverID(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	if _, err := s.d.Community.Access(r.Context(), p.Account.ID, id); err != nil {
		s.fail(w, err)
		return
	}
	es, err := s.d.Extras.UpcomingEvents(r.Context(), id, time.Now().UTC())
	if err != nil {
		s.fail(w, err)
		return
	}
	out := mapAll(es, toEvent)
	writeJSON(w, http.StatusOK, out)
}
