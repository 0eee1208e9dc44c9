package together

import (
	"net/http"
	"sort"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

// Bot is Together's bot record (community's); its account and token live
// in identity.
type Bot = community.Bot

// BotStore persists bot records (internal/store/together_bots.go).
type BotStore = community.BotStore

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

func (s *Surface) humansOnly(p *identity.Principal) error {
	if err := community.CanManageBots(p); err != nil {
		return err
	}
	if s.bots == nil {
		return fault.New(fault.Unavailable, "Bots are not available")
	}
	return nil
}

func (s *Surface) createBot(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := s.humansOnly(p); err != nil {
		s.fail(w, err)
		return
	}
	var in struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	if in.Name == nil {
		writeError(w, http.StatusUnprocessableEntity, "name is required")
		return
	}
	b, raw, err := s.bots.Create(r.Context(), p.Account.ID, *in.Name, in.Description)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"bot": toBot(b), "token": raw})
}

func (s *Surface) listBots(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := s.humansOnly(p); err != nil {
		s.fail(w, err)
		return
	}
	bots, err := s.bots.Of(r.Context(), p.Account.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := mapAll(bots, toBot)
	writeJSON(w, http.StatusOK, map[string]any{"bots": out})
}

func (s *Surface) myBot(r *http.Request, p *identity.Principal) (*Bot, error) {
	if err := s.humansOnly(p); err != nil {
		return nil, err
	}
	return s.bots.Get(r.Context(), p.Account.ID, r.PathValue("bot_id"))
}

func (s *Surface) getBot(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	b, err := s.myBot(r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toBot(b))
}

func (s *Surface) revokeBot(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	b, err := s.myBot(r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.bots.Revoke(r.Context(), b); err != nil {
		s.fail(w, err)
		return
	}
	noContent(w)
}

func (s *Surface) regenerateBot(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	b, err := s.myBot(r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	raw, err := s.bots.Regenerate(r.Context(), b)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"bot": toBot(b), "token": raw})
}

// botConnect swaps a Bot token for a 15-minute access JWT.
func (s *Surface) botConnect(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	tok, _, err := s.d.Identity.ExchangeBotToken(r.Context(), p)
	if err != nil {
		s.fail(w, fault.New(fault.Unauthorized, "Bot token required"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"access_token": tok})
}

type botLogEntry struct {
	Timestamp time.Time `json:"timestamp"`
	Event     string    `json:"event"`
	Detail    *string   `json:"detail"`
}

// botLogs is Together's activity log of a bot: its creation, its last 50
// messages and its revocation, newest first.
func (s *Surface) botLogs(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	b, err := s.myBot(r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.uploadsReady(); err != nil {
		s.fail(w, err)
		return
	}
	str := func(v string) *string { return &v }
	logs := []botLogEntry{{Timestamp: b.CreatedAt, Event: "bot_created", Detail: str(`Bot "` + b.Name + `" was created`)}}
	msgs, err := s.d.Extras.RecentByAuthor(r.Context(), b.AccountID, 50)
	if err != nil {
		s.fail(w, err)
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
	writeJSON(w, http.StatusOK, map[string]any{"logs": logs})
}
