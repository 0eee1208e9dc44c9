package together

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"

	"github.com/hearth-community/hearth/internal/store"
)

// Bot is Together's bot record; its account and token live in identity.
type Bot = store.Bot

// BotStore persists bot records (internal/store/together_bots.go).
type BotStore interface {
	CreateBot(ctx context.Context, b *Bot) error
	UpdateBot(ctx context.Context, b *Bot) error
	Bot(ctx context.Context, id string) (*Bot, error)
	BotsBy(ctx context.Context, accountID string) ([]*Bot, error)
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

func (s *Surface) humansOnly(p *identity.Principal) error {
	if p.Token != nil || p.Account.Kind == identity.Bot {
		return fault.New(fault.Forbidden, "Bots cannot manage bots")
	}
	if s.d.Bots == nil {
		return fault.New(fault.Unavailable, "Bots are not available")
	}
	return nil
}

// botUsername is "<slug>-bot-<8 hex>" within 32 characters.
func botUsername(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	slug := strings.Trim(b.String(), "-")
	if len(slug) > 19 {
		slug = strings.Trim(slug[:19], "-")
	}
	if slug == "" {
		slug = "bot"
	}
	rnd := make([]byte, 4)
	_, _ = rand.Read(rnd)
	return slug + "-bot-" + hex.EncodeToString(rnd)
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
	if n := utf8.RuneCountInString(strings.TrimSpace(*in.Name)); n < 1 || n > 64 {
		s.fail(w, invalid("Bot name must be 1-64 characters"))
		return
	}
	if err := checkOpt("description", in.Description, 512); err != nil {
		s.fail(w, err)
		return
	}
	ctx := r.Context()
	acct, tok, raw, err := s.d.Identity.CreateBot(ctx, p.Account.ID, botUsername(*in.Name), *in.Name)
	if err != nil {
		s.fail(w, err)
		return
	}
	b := &Bot{ID: identity.NewID(), AccountID: acct.ID, TokenID: tok.ID, Name: *in.Name,
		Description: emptyToNil(in.Description), CreatedBy: p.Account.ID, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := s.d.Bots.CreateBot(ctx, b); err != nil {
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
	bots, err := s.d.Bots.BotsBy(r.Context(), p.Account.ID)
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
	notFound := fault.New(fault.NotFound, "Bot not found")
	id := r.PathValue("bot_id")
	if _, err := uuid.Parse(id); err != nil {
		return nil, notFound
	}
	b, err := s.d.Bots.Bot(r.Context(), id)
	if errors.Is(err, fault.NotFound) || (err == nil && b.CreatedBy != p.Account.ID) {
		return nil, notFound
	}
	return b, err
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
	ctx := r.Context()
	if b.RevokedAt == nil {
		if err := s.d.Identity.RevokeToken(ctx, b.TokenID); err != nil && !errors.Is(err, fault.NotFound) {
			s.fail(w, err)
			return
		}
		now := time.Now().UTC()
		b.RevokedAt = &now
		if err := s.d.Bots.UpdateBot(ctx, b); err != nil {
			s.fail(w, err)
			return
		}
	}
	noContent(w)
}

func (s *Surface) regenerateBot(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	b, err := s.myBot(r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	if b.RevokedAt != nil {
		s.fail(w, invalid("Bot has been revoked"))
		return
	}
	ctx := r.Context()
	tok, raw, err := s.d.Identity.RegenerateBotToken(ctx, b.TokenID)
	if err != nil {
		s.fail(w, err)
		return
	}
	b.TokenID = tok.ID
	if err := s.d.Bots.UpdateBot(ctx, b); err != nil {
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
