package together

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/surface/together/rest"
)

// channelFor loads the caller's access to a text channel; NotFound unless
// they may view it.
func (s *Surface) channelFor(ctx context.Context, p *identity.Principal, channelID string) (*community.ChannelAccess, error) {
	ca, err := s.d.Community.ChannelAccess(ctx, p.Account.ID, channelID)
	if err != nil {
		return nil, err
	}
	if err := ca.MayView(); err != nil {
		return nil, err
	}
	return ca, nil
}

// checkContent: content is required (422), and its length is the rule of
// the conversation it goes into (messages.CheckBody, which Post and Edit
// enforce anyway): checked here so that a refusal comes before the
// permission checks, as Together answers. rest.Base words it.
func checkContent(c *string, kind messages.Kind) error {
	if c == nil {
		return rest.Unprocessable("content is required")
	}
	return messages.CheckBody(kind, *c)
}

// messageBody is the JSON body of every message-writing route.
type messageBody struct {
	Content *string `json:"content"`
	ReplyTo *string `json:"reply_to"`
}

// readMessage decodes and checks a message body for a conversation of
// kind (422 when the content is missing, 400 outside 1–4000 characters in
// a channel or DM, 1–2048 in a stage chat); the rules of the conversation
// are the domain's (messages.CheckBody, messages.Service.Post). Every error
// it returns is written with s.bad.
func readMessage(r *http.Request, kind messages.Kind) (messageBody, error) {
	var in messageBody
	if err := decode(r, &in, false); err != nil {
		return in, err
	}
	return in, checkContent(in.Content, kind)
}

// readPost is readMessage for a new message or thread reply, whose
// reply_to Together types Option<Uuid>: anything else is the Json
// extractor's 422, before the content's length is checked (edits and DMs
// take no reply_to).
func readPost(r *http.Request, kind messages.Kind) (messageBody, error) {
	in, err := readMessage(r, kind)
	if err == nil || in.Content != nil {
		if uerr := rest.UUIDField("reply_to", in.ReplyTo); uerr != nil {
			err = uerr
		}
	}
	return in, err
}

func (s *Surface) postMessage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	ca, err := s.channelFor(ctx, p, r.PathValue("channel_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	conv, kind := s.conversation(ctx, ca.Channel)
	in, err := readPost(r, kind)
	if err != nil {
		s.bad(w, err)
		return
	}
	pi := messages.PostInput{ConversationID: conv, Kind: kind, AuthorID: p.Account.ID, Body: *in.Content,
		ClientAddr: ratelimit.ClientIP(r, s.d.TrustProxy)}
	if kind != messages.KindChannel {
		pi.ViaChannel = ca.Channel.ID
	}
	if in.ReplyTo != nil {
		pi.ReplyTo = *in.ReplyTo
	}
	m, err := s.d.Messages.Post(ctx, pi)
	if err != nil {
		s.fail(w, err)
		return
	}
	dto := s.render1(ctx, p.Account.ID, inChannel(m, ca.Channel.ID))
	s.fireWebhooks(ctx, ca.Community.ID, "message.created", dto)
	writeJSON(w, http.StatusCreated, dto)
}

// pageParams reads before (a message uuid) and limit (default 50, clamped
// to 1–100). As Together's Query<…> with before: Option<Uuid> and limit:
// Option<i64>, a before that is not a UUID or a limit that is not an
// integer (either given empty, too) is a 400, not the first page.
func pageParams(q url.Values) (before string, limit int, err error) {
	n, err := limitParam(q)
	if err != nil {
		return "", 0, err
	}
	if before, err = beforeParam(q); err != nil {
		return "", 0, err
	}
	return before, int(min(max(n, 1), 100)), nil
}

// beforeParam is the before query parameter: a message id, or "".
func beforeParam(q url.Values) (string, error) {
	before := q.Get("before")
	if _, err := uuid.Parse(before); q.Has("before") && err != nil {
		return "", invalid("before must be a message id")
	}
	return before, nil
}

// limitParam is the limit query parameter as given (50 when absent): an
// integer, else a 400.
func limitParam(q url.Values) (int64, error) {
	if !q.Has("limit") {
		return 50, nil
	}
	n, err := strconv.ParseInt(q.Get("limit"), 10, 64)
	if err != nil {
		return 0, invalid("limit must be an integer")
	}
	return n, nil
}

func (s *Surface) listMessages(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	ca, err := s.channelFor(ctx, p, r.PathValue("channel_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	before, limit, err := pageParams(r.URL.Query())
	if err != nil {
		s.fail(w, err)
		return
	}
	conv, _ := s.conversation(ctx, ca.Channel)
	if before != "" {
		// An unknown cursor (or one from another channel) yields [].
		if bm, err := s.d.Messages.Get(ctx, before); err != nil || bm.ConversationID != conv {
			writeJSON(w, http.StatusOK, []messageDTO{})
			return
		}
	}
	ms, err := s.d.Messages.List(ctx, messages.ListQuery{ConversationID: conv, Before: before, Limit: limit})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.render(ctx, p.Account.ID, inChannelAll(ms, ca.Channel.ID)))
}

// messageIn loads a message of a channel the caller may view.
func (s *Surface) messageIn(ctx context.Context, p *identity.Principal, channelID, messageID string) (*community.ChannelAccess, *messages.Message, error) {
	return s.messageOf(ctx, p, channelID, messageID, false)
}

// messageOf is messageIn that also finds a deleted message when withDeleted.
func (s *Surface) messageOf(ctx context.Context, p *identity.Principal, channelID, messageID string, withDeleted bool) (*community.ChannelAccess, *messages.Message, error) {
	ca, err := s.channelFor(ctx, p, channelID)
	if err != nil {
		return nil, nil, err
	}
	m, err := s.d.Messages.Get(ctx, messageID)
	if err != nil {
		return nil, nil, err
	}
	// A message a stage chat's moderator hid (a channel bound to the
	// default stage reads Owncast's chat) is gone for Together, as the
	// channel's list and the MESSAGE_DELETE its clients were sent say.
	if conv, _ := s.conversation(ctx, ca.Channel); m.ConversationID != conv || (m.Deleted && !withDeleted) || m.Hidden {
		return nil, nil, fault.New(fault.NotFound, "Message not found")
	}
	return ca, inChannel(m, ca.Channel.ID), nil
}

// getMessage answers a deleted message too, as Together does, with
// deleted true: Together's web client reads the message a reply answers by
// id and says "(original message deleted)" when it is, and a 404 left the
// reply showing "loading preview…". What it said is not given back (empty
// content, no mentions, poll or event); Together returns its text.
func (s *Surface) getMessage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	_, m, err := s.messageOf(r.Context(), p, r.PathValue("channel_id"), r.PathValue("message_id"), true)
	if err != nil {
		s.fail(w, err)
		return
	}
	if m.Deleted {
		gone := *m
		gone.Body, gone.Meta, gone.MentionUserIDs, gone.MentionEveryone = "", "", []string{}, false
		m = &gone
	}
	writeJSON(w, http.StatusOK, s.render1(r.Context(), p.Account.ID, m))
}

// ownMessage loads a channel message by id alone (PATCH/DELETE /messages/:id).
func (s *Surface) ownMessage(ctx context.Context, p *identity.Principal, id string) (*community.ChannelAccess, *messages.Message, error) {
	m, err := s.d.Messages.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if m.Kind != messages.KindChannel || m.Deleted {
		return nil, nil, fault.New(fault.NotFound, "Message not found")
	}
	ca, err := s.channelFor(ctx, p, m.ConversationID)
	if err != nil {
		return nil, nil, fault.New(fault.NotFound, "Message not found")
	}
	return ca, m, nil
}

func (s *Surface) editMessage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	ca, m, err := s.ownMessage(ctx, p, r.PathValue("message_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	in, err := readMessage(r, m.Kind)
	if err != nil {
		s.bad(w, err)
		return
	}
	if err := ca.MayEdit(m.AuthorID); err != nil {
		s.fail(w, err)
		return
	}
	m, err = s.d.Messages.Edit(ctx, m.ID, *in.Content)
	if err != nil {
		s.fail(w, err)
		return
	}
	dto := s.render1(ctx, p.Account.ID, m)
	s.fireWebhooks(ctx, ca.Community.ID, "message.updated", dto)
	writeJSON(w, http.StatusOK, dto)
}

func (s *Surface) deleteMessage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	ca, m, err := s.ownMessage(ctx, p, r.PathValue("message_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := ca.MayDelete(m.AuthorID); err != nil {
		s.fail(w, err)
		return
	}
	if _, err := s.d.Messages.Delete(ctx, m.ID); err != nil {
		s.fail(w, err)
		return
	}
	if err := s.files.Purge(ctx, m.ID); err != nil {
		// The hourly sweep takes what is left; the files are not served.
		s.log.Warn("remove a deleted message's attachments", "message", m.ID, "err", err)
	}
	s.fireWebhooks(ctx, ca.Community.ID, "message.deleted", map[string]string{"id": m.ID, "channel_id": m.ConversationID})
	noContent(w)
}

func (s *Surface) listThread(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	ca, m, err := s.messageIn(ctx, p, r.PathValue("channel_id"), r.PathValue("message_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	before, limit, err := pageParams(r.URL.Query())
	if err != nil {
		s.fail(w, err)
		return
	}
	// As Together, a thread reads oldest first from its first reply, and
	// the cursor (named before) pages forwards: the replies after it.
	conv, _ := s.conversation(ctx, ca.Channel)
	ms, err := s.d.Messages.List(ctx, messages.ListQuery{ConversationID: conv, ThreadID: m.ID, After: before, Limit: limit, Oldest: true, FromStart: true})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.render(ctx, p.Account.ID, inChannelAll(ms, ca.Channel.ID)))
}

func (s *Surface) postThread(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	ca, m, err := s.messageIn(ctx, p, r.PathValue("channel_id"), r.PathValue("message_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	// A reply is of its root's conversation (a bound stage channel's is a
	// stage chat: m is shown in the channel, so ask the channel), and obeys
	// that conversation's rules.
	conv, kind := s.conversation(ctx, ca.Channel)
	in, err := readPost(r, kind)
	if err != nil {
		s.bad(w, err)
		return
	}
	pi := messages.PostInput{ConversationID: conv, Kind: kind,
		AuthorID: p.Account.ID, Body: *in.Content, ThreadID: m.ID, ClientAddr: ratelimit.ClientIP(r, s.d.TrustProxy)}
	if conv != ca.Channel.ID {
		pi.ViaChannel = ca.Channel.ID
	}
	reply, err := s.d.Messages.Post(ctx, pi)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.render1(ctx, p.Account.ID, inChannel(reply, ca.Channel.ID)))
}

func (s *Surface) listReactions(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	_, m, err := s.messageIn(ctx, p, r.PathValue("channel_id"), r.PathValue("message_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	rs, err := s.d.Messages.Reactions(ctx, m.ID, p.Account.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rs)
}

func (s *Surface) react(add bool) func(http.ResponseWriter, *http.Request, *identity.Principal) {
	return func(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
		ctx := r.Context()
		ca, m, err := s.messageIn(ctx, p, r.PathValue("channel_id"), r.PathValue("message_id"))
		if err != nil {
			s.fail(w, err)
			return
		}
		if err := ca.MayReact(add); err != nil {
			s.fail(w, err)
			return
		}
		emoji := r.PathValue("emoji")
		changed, err := s.d.Messages.React(ctx, m, p.Account.ID, emoji, add)
		if err != nil {
			s.fail(w, err)
			return
		}
		if !add && !changed {
			// As Together: adding a reaction twice is a 204, removing one
			// that is not there a 404.
			s.fail(w, fault.New(fault.NotFound, "Reaction not found"))
			return
		}
		noContent(w)
	}
}

func (s *Surface) listPins(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	ca, err := s.channelFor(ctx, p, r.PathValue("channel_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	ms, err := s.d.Messages.Pinned(ctx, ca.Channel.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.render(ctx, p.Account.ID, ms))
}

func (s *Surface) pin(pinned bool) func(http.ResponseWriter, *http.Request, *identity.Principal) {
	return func(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
		ctx := r.Context()
		ca, m, err := s.messageIn(ctx, p, r.PathValue("channel_id"), r.PathValue("message_id"))
		if err != nil {
			s.fail(w, err)
			return
		}
		if err := ca.MayPin(); err != nil {
			s.fail(w, err)
			return
		}
		if m.Pinned == pinned {
			// As Together: a pin of a pinned message is an idempotent 204
			// with no event; an unpin of one not pinned is a 404.
			if pinned {
				noContent(w)
			} else {
				s.fail(w, fault.New(fault.NotFound, "Message is not pinned"))
			}
			return
		}
		if _, err := s.d.Messages.Pin(ctx, m.ID, p.Account.ID, pinned); err != nil {
			s.fail(w, err)
			return
		}
		noContent(w)
	}
}

func (s *Surface) ackChannel(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	ca, err := s.channelFor(ctx, p, r.PathValue("channel_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.d.Messages.MarkRead(ctx, p.Account.ID, ca.Channel.ID); err != nil {
		s.fail(w, err)
		return
	}
	noContent(w)
}

type searchResult struct {
	ID             string  `json:"id"`
	ChannelID      string  `json:"channel_id"`
	AuthorID       any     `json:"author_id"`
	AuthorUsername any     `json:"author_username"`
	Content        string  `json:"content"`
	Highlight      string  `json:"highlight"`
	CreatedAt      any     `json:"created_at"`
	Rank           float64 `json:"rank"`
}

func (s *Surface) search(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	ctx := r.Context()
	q := r.URL.Query()
	text := strings.TrimSpace(q.Get("q"))
	if n := utf8.RuneCountInString(text); n < 2 || n > 200 {
		s.fail(w, invalid("Search query must be 2-200 characters"))
		return
	}
	// As Together's SearchQuery: limit is validated to 1–100 (not
	// clamped), and channel_id and before must be UUIDs, all before the
	// membership check.
	limit, err := limitParam(q)
	var before string
	if err == nil {
		before, err = beforeParam(q)
	}
	if err == nil && (limit < 1 || limit > 100) {
		err = invalid("limit: Limit must be 1–100")
	}
	if _, perr := uuid.Parse(q.Get("channel_id")); err == nil && q.Has("channel_id") && perr != nil {
		err = invalid("channel_id must be a channel id")
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	chans, err := s.d.Community.Channels(ctx, p.Account.ID, id)
	if err != nil {
		s.fail(w, err)
		return
	}
	var ids []string
	want := q.Get("channel_id")
	for _, c := range chans {
		if want == "" || c.ID == want {
			ids = append(ids, c.ID)
		}
	}
	if want != "" && len(ids) == 0 {
		s.fail(w, community.ErrChannelNotFound)
		return
	}
	// A search of a large channel costs tens of milliseconds of CPU, and
	// one member's searches sent side by side held every core (other
	// members' reads took 3-5 s): searches take turns on the node, and an
	// account holds or awaits at most SearchesPerAccount of them, so that
	// one account queueing many cannot keep every other member waiting.
	release, err := s.searches.TakeAs(ctx, p.Account.ID)
	switch {
	case errors.Is(err, ratelimit.ErrNoTurn):
		err = &fault.Error{Kind: fault.Unavailable, RetryAfter: s.d.SearchWait, Msg: "The server is busy with other searches; try again shortly"}
	case errors.Is(err, ratelimit.ErrOwnTurns):
		err = &fault.Error{Kind: fault.RateLimited, RetryAfter: time.Second,
			Msg: fmt.Sprintf("You are searching too quickly. Max %d searches at once.", SearchesPerAccount)}
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	page, err := s.d.Messages.Search(ctx, messages.SearchQuery{ConversationIDs: ids, Text: text, Before: before, Limit: int(limit)})
	release()
	if err != nil {
		s.fail(w, err)
		return
	}
	names := map[string]string{}
	results := make([]searchResult, 0, len(page.Hits))
	for _, h := range page.Hits {
		m := h.Message
		res := searchResult{ID: m.ID, ChannelID: m.ConversationID, AuthorID: m.AuthorID, Content: m.Body,
			Highlight: h.Highlight, CreatedAt: m.CreatedAt, Rank: h.Rank}
		if m.AuthorID != nil {
			n, ok := names[*m.AuthorID]
			if !ok {
				if a, err := s.d.Identity.Account(ctx, *m.AuthorID); err == nil {
					n = a.Username
				}
				names[*m.AuthorID] = n
			}
			if n != "" {
				res.AuthorUsername = n
			}
		}
		results = append(results, res)
	}
	var next any
	if page.HasMore && len(results) > 0 {
		next = results[len(results)-1].ID
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results, "total": page.Total, "has_more": page.HasMore, "next_cursor": next})
}

func (s *Surface) openDM(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	var in struct {
		UserID *string `json:"user_id"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	if in.UserID == nil {
		writeError(w, http.StatusUnprocessableEntity, "user_id is required")
		return
	}
	ctx := r.Context()
	if _, err := uuid.Parse(*in.UserID); err != nil {
		s.fail(w, fault.New(fault.NotFound, "User not found"))
		return
	}
	if _, err := s.d.Identity.Account(ctx, *in.UserID); err != nil {
		s.fail(w, fault.New(fault.NotFound, "User not found"))
		return
	}
	d, created, err := s.d.Community.OpenDM(ctx, p.Account.ID, *in.UserID)
	if err != nil {
		s.fail(w, err)
		return
	}
	dto, err := s.dmDTO(ctx, d, p.Account.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, dto)
}

func (s *Surface) listDMs(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	out, err := s.dmList(ctx, p.Account.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// dmList is an account's DM channels as GET /dm-channels and READY carry
// them: one query for the channels and their recipients together (a lookup
// of each recipient's account and profile took 2,000 for 1,000 channels).
func (s *Surface) dmList(ctx context.Context, accountID string) ([]dmChannelDTO, error) {
	ls, err := s.d.Community.DMListings(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return mapAll(ls, dmListingDTO), nil
}

func (s *Surface) postDM(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	d, err := s.d.Community.DM(ctx, p.Account.ID, r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	in, err := readMessage(r, messages.KindDM)
	if err != nil {
		s.bad(w, err)
		return
	}
	m, err := s.d.Messages.Post(ctx, messages.PostInput{ConversationID: d.ID, Kind: messages.KindDM, AuthorID: p.Account.ID, Body: *in.Content})
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.d.Community.TouchDM(ctx, d.ID); err != nil {
		s.log.Warn("touch dm", "err", err)
	}
	writeJSON(w, http.StatusCreated, toDMMessage(m))
}

func (s *Surface) listDM(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	d, err := s.d.Community.DM(ctx, p.Account.ID, r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	before, limit, err := pageParams(r.URL.Query())
	if err != nil {
		s.fail(w, err)
		return
	}
	ms, err := s.d.Messages.List(ctx, messages.ListQuery{ConversationID: d.ID, Before: before, Limit: limit})
	if err != nil {
		s.fail(w, err)
		return
	}
	out := mapAll(ms, toDMMessage)
	writeJSON(w, http.StatusOK, out)
}

func (s *Surface) ackDM(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	d, err := s.d.Community.DM(ctx, p.Account.ID, r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.d.Messages.MarkRead(ctx, p.Account.ID, d.ID); err != nil {
		s.fail(w, err)
		return
	}
	noContent(w)
}
