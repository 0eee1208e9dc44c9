package community

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

// Bot is a bot an account made; its account and token live in identity.
type Bot struct {
	ID          string
	AccountID   string
	TokenID     string
	Name        string
	Description *string
	CreatedBy   string
	RevokedAt   *time.Time
	CreatedAt   time.Time
}

// BotStore persists bot records (internal/store/together_bots.go). Bot
// returns fault.NotFound when there is none.
type BotStore interface {
	CreateBot(ctx context.Context, b *Bot) error
	// UpdateBotProfile, SetBotToken and RevokeBot each write only their
	// columns, so an edit based on an older read never writes back a
	// token or revocation changed meanwhile. UpdateBotProfile and
	// SetBotToken change live bots only (false otherwise); SetBotToken
	// only while the token is still oldID; RevokeBot answers the token
	// the bot had when it was revoked (ok false: unknown or revoked).
	UpdateBotProfile(ctx context.Context, b *Bot) (bool, error)
	SetBotToken(ctx context.Context, id, oldID, tokenID string) (bool, error)
	RevokeBot(ctx context.Context, id string, at time.Time) (tokenID string, ok bool, err error)
	Bot(ctx context.Context, id string) (*Bot, error)
	BotsBy(ctx context.Context, accountID string) ([]*Bot, error)
}

// BotAccounts makes and revokes bots' accounts and tokens
// (identity.Service).
type BotAccounts interface {
	CreateBot(ctx context.Context, ownerID, username, displayName string) (*identity.Account, *identity.Token, string, error)
	RevokeToken(ctx context.Context, tokenID string) error
	RegenerateBotToken(ctx context.Context, tokenID string) (*identity.Token, string, error)
}

// The rules of bots, as errors with fault kinds; a surface words them its
// own way (errors.Is).
var (
	ErrBotsHumansOnly  = fault.New(fault.Forbidden, "only people, signed in without a token, manage bots")
	ErrBotName         = fault.New(fault.Invalid, "bot name must be 1-64 characters")
	ErrBotNameAlnum    = fault.New(fault.Invalid, "bot name must hold a letter or digit")
	ErrBotGone         = fault.New(fault.NotFound, "bot not found or already revoked")
	ErrBotRevokedEdit  = fault.New(fault.Invalid, "a revoked bot cannot be changed")
	ErrBotDescription  = fault.New(fault.Invalid, "bot description must be at most 512 characters")
	ErrBotNotFound     = fault.New(fault.NotFound, "bot not found")
	ErrBotRevoked      = fault.New(fault.Invalid, "bot has been revoked")
	ErrTooManyBots     = fault.Newf(fault.Invalid, "Maximum number of bots reached (%d)", MaxBots)
	errBotStoreMissing = errors.New("community: bots need a store and accounts")
)

// MaxBots is how many bots (not revoked) one account may have, as
// Discord's 25 applications, and MaxBotsEver how many it may have made in
// all (a revoked bot stays listed, with its account). A bot is an account
// with no server bound and a rate limit of its own, so without them one
// account could make any number.
const (
	MaxBots     = 25
	MaxBotsEver = 4 * MaxBots
)

// Bots are accounts' bots: who may manage them, what a valid one is, and
// their lifecycle (create, revoke, new token). A bot belongs to the account
// that made it; nobody else sees it.
type Bots struct {
	st  BotStore
	ids BotAccounts
	now func() time.Time
	// creating makes a count and the creation it allows one step on this
	// node (creations are rare; across nodes the bound is soft by at most
	// one per other node).
	creating sync.Mutex
}

// NewBots builds the bot rules over a store and the identity service.
func NewBots(st BotStore, ids BotAccounts) (*Bots, error) {
	if st == nil || ids == nil {
		return nil, errBotStoreMissing
	}
	return &Bots{st: st, ids: ids, now: time.Now}, nil
}

// CanManageBots says whether p may manage bots: a person's own session, not a
// bot and not an API token.
func CanManageBots(p *identity.Principal) error {
	if p.Token != nil || p.Account.Kind == identity.Bot {
		return ErrBotsHumansOnly
	}
	return nil
}

// checkBotName is Together's rule: 1-64 characters once trimmed, at least
// one of them a letter or digit (a name of only punctuation, "!!!", is
// refused).
func checkBotName(name string) error {
	name = strings.TrimSpace(name)
	if n := utf8.RuneCountInString(name); n < 1 || n > 64 {
		return ErrBotName
	}
	if !strings.ContainsFunc(name, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
		return ErrBotNameAlnum
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

// Create checks and makes a bot for owner (name 1-64 characters,
// description at most 512; an empty description is none): its account, its
// token (returned raw, once) and its record.
func (b *Bots) Create(ctx context.Context, owner, name string, description *string) (*Bot, string, error) {
	if err := checkBotName(name); err != nil {
		return nil, "", err
	}
	if description != nil && utf8.RuneCountInString(*description) > 512 {
		return nil, "", ErrBotDescription
	}
	b.creating.Lock()
	defer b.creating.Unlock()
	mine, err := b.st.BotsBy(ctx, owner)
	if err != nil {
		return nil, "", err
	}
	live := 0
	for _, o := range mine {
		if o.RevokedAt == nil {
			live++
		}
	}
	if live >= MaxBots || len(mine) >= MaxBotsEver {
		return nil, "", ErrTooManyBots
	}
	acct, tok, raw, err := b.ids.CreateBot(ctx, owner, botUsername(name), name)
	if err != nil {
		return nil, "", err
	}
	if description != nil && *description == "" {
		description = nil
	}
	bot := &Bot{ID: identity.NewID(), AccountID: acct.ID, TokenID: tok.ID, Name: name, Description: description,
		CreatedBy: owner, CreatedAt: b.now().UTC().Truncate(time.Microsecond)}
	if err := b.st.CreateBot(ctx, bot); err != nil {
		return nil, "", err
	}
	return bot, raw, nil
}

// Of lists owner's bots.
func (b *Bots) Of(ctx context.Context, owner string) ([]*Bot, error) { return b.st.BotsBy(ctx, owner) }

// Get returns owner's bot id (ErrBotNotFound for another's, or none).
func (b *Bots) Get(ctx context.Context, owner, id string) (*Bot, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, ErrBotNotFound
	}
	bot, err := b.st.Bot(ctx, id)
	if errors.Is(err, fault.NotFound) || (err == nil && bot.CreatedBy != owner) {
		return nil, ErrBotNotFound
	}
	return bot, err
}

// Revoke revokes bot's token for good; a bot already revoked is
// ErrBotGone (Together's 404).
func (b *Bots) Revoke(ctx context.Context, bot *Bot) error {
	if bot.RevokedAt != nil {
		return ErrBotGone
	}
	// The row is revoked first and its token as of that write is the one
	// revoked, so a Regenerate at the same moment either lands before
	// (its token is the one revoked here) or fails and revokes its own.
	now := b.now().UTC()
	tokenID, ok, err := b.st.RevokeBot(ctx, bot.ID, now)
	if err != nil {
		return err
	}
	if !ok {
		return ErrBotGone
	}
	if err := b.ids.RevokeToken(ctx, tokenID); err != nil && !errors.Is(err, fault.NotFound) {
		return err
	}
	bot.TokenID, bot.RevokedAt = tokenID, &now
	return nil
}

// Regenerate replaces a live bot's token and returns the new one raw.
func (b *Bots) Regenerate(ctx context.Context, bot *Bot) (string, error) {
	if bot.RevokedAt != nil {
		return "", ErrBotRevoked
	}
	tok, raw, err := b.ids.RegenerateBotToken(ctx, bot.TokenID)
	if err != nil {
		return "", err
	}
	ok, err := b.st.SetBotToken(ctx, bot.ID, bot.TokenID, tok.ID)
	if err == nil && !ok {
		// Revoked or regenerated meanwhile: the new token would be live
		// with nothing pointing at it, beyond the reach of a revoke.
		err = ErrBotRevoked
		if cur, cerr := b.st.Bot(ctx, bot.ID); cerr == nil && cur.RevokedAt == nil {
			err = fault.New(fault.Conflict, "the bot's token was regenerated at the same time")
		}
	}
	if err != nil {
		if rerr := b.ids.RevokeToken(context.WithoutCancel(ctx), tok.ID); rerr != nil {
			return "", errors.Join(err, rerr)
		}
		return "", err
	}
	bot.TokenID = tok.ID
	return raw, nil
}

// Update changes a live bot's name and description (nil: kept; the name as
// for Create, description at most 512, an empty one is none).
func (b *Bots) Update(ctx context.Context, bot *Bot, name, description *string) error {
	if bot.RevokedAt != nil {
		return ErrBotRevokedEdit
	}
	if name != nil {
		if err := checkBotName(*name); err != nil {
			return err
		}
	}
	if description != nil && utf8.RuneCountInString(*description) > 512 {
		return ErrBotDescription
	}
	if name != nil {
		bot.Name = *name
	}
	if description != nil {
		bot.Description = description
		if *description == "" {
			bot.Description = nil
		}
	}
	ok, err := b.st.UpdateBotProfile(ctx, bot)
	if err == nil && !ok {
		err = ErrBotRevokedEdit // revoked meanwhile
	}
	return err
}
