// Package bots serves Together's bot routes (/bots…): creating, listing,
// revoking and renaming an account's bots, their tokens, the bot-token
// exchange (/bots/connect) and a bot's activity log. The rules are
// community's (community.Bots, CanManageBots).
package bots

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/surface/together/rest"
)

// Bot is Together's bot record (community's); its account and token live
// in identity.
type Bot = community.Bot

// LogStore lists what a bot wrote, for its activity log
// (internal/store/together_extras.go).
type LogStore interface {
	// RecentByAuthor lists an author's newest live channel messages.
	RecentByAuthor(ctx context.Context, authorID string, limit int) ([]store.AuthoredMessage, error)
}

// API serves the routes.
type API struct {
	*rest.Base
	bots     *community.Bots // nil: the routes answer 503
	activity LogStore        // nil: /bots/{id}/logs answers 503 (no uploads)
}

// New builds the routes on b. Without bots the routes answer 503; without
// activity a bot's activity log does.
func New(b *rest.Base, bots *community.Bots, activity LogStore) *API {
	return &API{Base: b, bots: bots, activity: activity}
}

type botDTO struct {
	ID          string     `json:"id"`
	UserID      string     `json:"user_id"`
	Name        string     `json:"name"`
	Description *string    `json:"description"`
	CreatedBy   string     `json:"created_by"`
	RevokedAt   *time.Time `json:"revoked_at"`
	CreatedAt   time.Time  `json:"created_at"`
}

func toBot(b *Bot) botDTO {
	return botDTO{ID: b.ID, UserID: b.AccountID, Name: b.Name, Description: b.Description, CreatedBy: b.CreatedBy,
		RevokedAt: b.RevokedAt, CreatedAt: b.CreatedAt}
}

// humansOnly refuses a bot (or an API token) with forbidden, the route's
// own words in Together ("Bots cannot create other bots", …), and
// answers 503 without bots.
func (s *API) humansOnly(p *identity.Principal, forbidden string) error {
	if err := community.CanManageBots(p); err != nil {
		return fault.New(fault.KindOf(err), forbidden)
	}
	if s.bots == nil {
		return fault.New(fault.Unavailable, "Bots are not available")
	}
	return nil
}

func (s *API) Create(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := s.humansOnly(p, "Bots cannot create other bots"); err != nil {
		s.Fail(w, err)
		return
	}
	var in struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
	}
	if err := rest.Decode(r, &in, false); err != nil {
		s.Bad(w, err)
		return
	}
	if in.Name == nil {
		rest.WriteError(w, http.StatusUnprocessableEntity, "name is required")
		return
	}
	b, raw, err := s.bots.Create(r.Context(), p.Account.ID, *in.Name, in.Description)
	if err != nil {
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusCreated, map[string]any{"bot": toBot(b), "token": raw})
}

func (s *API) List(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := s.humansOnly(p, "Bots cannot list bots"); err != nil {
		s.Fail(w, err)
		return
	}
	bots, err := s.bots.Of(r.Context(), p.Account.ID)
	if err != nil {
		s.Fail(w, err)
		return
	}
	out := rest.MapAll(bots, toBot)
	rest.WriteJSON(w, http.StatusOK, map[string]any{"bots": out})
}

// Together's refusals of a bot on the routes of one bot.
const (
	botsNoAccess = "Bots cannot access bot management endpoints"
	botsNoRevoke = "Bots cannot revoke bots"
	botsNoRegen  = "Bots cannot regenerate tokens"
	botsNoUpdate = "Bots cannot update bots"
)

func (s *API) myBot(r *http.Request, p *identity.Principal, forbidden string) (*Bot, error) {
	if err := s.humansOnly(p, forbidden); err != nil {
		return nil, err
	}
	return s.bots.Get(r.Context(), p.Account.ID, r.PathValue("bot_id"))
}

func (s *API) Get(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	b, err := s.myBot(r, p, botsNoAccess)
	if err != nil {
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusOK, toBot(b))
}

func (s *API) Revoke(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	b, err := s.myBot(r, p, botsNoRevoke)
	if err != nil {
		s.Fail(w, err)
		return
	}
	if err := s.bots.Revoke(r.Context(), b); err != nil {
		s.Fail(w, err)
		return
	}
	rest.NoContent(w)
}

func (s *API) Regenerate(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	b, err := s.myBot(r, p, botsNoRegen)
	if err != nil {
		s.Fail(w, err)
		return
	}
	raw, err := s.bots.Regenerate(r.Context(), b)
	if err != nil {
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"bot": toBot(b), "token": raw})
}

// Connect swaps a Bot token for a 15-minute access JWT. As Together, only
// a caller signed in with "Authorization: Bot <token>" is a bot here: a
// person, or a bot presenting an access token it was handed (Together's
// is_bot is false for those), is 403 "Only bots can use this endpoint".
func (s *API) Connect(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	onlyBots := fault.New(fault.Forbidden, "Only bots can use this endpoint")
	if scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " "); scheme != "Bot" {
		s.Fail(w, onlyBots)
		return
	}
	tok, _, err := s.Identity.ExchangeBotToken(r.Context(), p)
	if errors.Is(err, identity.ErrWrongTokenType) {
		err = onlyBots
	}
	if err != nil {
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusOK, map[string]string{"access_token": tok})
}

type botLogEntry struct {
	Timestamp time.Time `json:"timestamp"`
	Event     string    `json:"event"`
	Detail    *string   `json:"detail"`
}

// Logs is Together's activity log of a bot: its creation, its last 50
// messages and its revocation, newest first.
func (s *API) Logs(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	b, err := s.myBot(r, p, botsNoAccess)
	if err != nil {
		s.Fail(w, err)
		return
	}
	if s.activity == nil {
		s.Fail(w, rest.ErrNoUploads)
		return
	}
	str := func(v string) *string { return &v }
	logs := []botLogEntry{{Timestamp: b.CreatedAt, Event: "bot_created", Detail: str(`Bot "` + b.Name + `" was created`)}}
	msgs, err := s.activity.RecentByAuthor(r.Context(), b.AccountID, 50)
	if err != nil {
		s.Fail(w, err)
		return
	}
	for _, m := range msgs {
		preview := m.Body
		if rs := []rune(preview); len(rs) > 80 {
			preview = string(rs[:80]) + "…"
		}
		logs = append(logs, botLogEntry{Timestamp: m.CreatedAt, Event: "message_sent", Detail: str("[channel " + m.ChannelID + "] " + preview)})
	}
	if b.RevokedAt != nil {
		logs = append(logs, botLogEntry{Timestamp: *b.RevokedAt, Event: "bot_revoked", Detail: str("Bot token was revoked")})
	}
	sort.SliceStable(logs, func(i, j int) bool { return logs[i].Timestamp.After(logs[j].Timestamp) })
	rest.WriteJSON(w, http.StatusOK, map[string]any{"logs": logs})
}

func (s *API) Update(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	b, err := s.myBot(r, p, botsNoUpdate)
	if err != nil {
		s.Fail(w, err)
		return
	}
	var in struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
	}
	if err := rest.Decode(r, &in, false); err != nil {
		s.Bad(w, err)
		return
	}
	if err := s.bots.Update(r.Context(), b, in.Name, in.Description); err != nil {
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusOK, toBot(b))
}
