package stagechat

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/webpush"
)

// MaxPreviousNames bounds the earlier names a chat user keeps (the newest;
// Owncast keeps every one): the list is stored in the user's row, rewritten
// on each rename, and sent with the user in every event that carries it.
const MaxPreviousNames = 20

// Limits and defaults (Owncast's values).
const (
	MaxNameLength     = 30
	HistoryLimit      = 50
	ModerationLimit   = 1000
	EstablishedAge    = 15 * time.Minute
	suggestedPoolMin  = 10
	defaultConversion = "stage-default"
)

// Errors the surfaces map to notices.
var (
	ErrChatDisabled   = fault.New(fault.Forbidden, "chat is disabled")
	ErrUserDisabled   = fault.New(fault.Forbidden, "user is disabled")
	ErrNotEstablished = fault.New(fault.Forbidden, "You have not been an established chat participant long enough to take part in chat. Please enjoy the stream and try again later.")
	// ErrNotAuthenticated: the chat requires sign-in (IndieAuth, Fediverse
	// or a Hearth account) and the user has none.
	ErrNotAuthenticated = fault.New(fault.Forbidden, "This chat requires you to authenticate before you can send messages. Please sign in to chat.")
	ErrNameForbidden    = fault.New(fault.Invalid, "That username is not allowed.")
	ErrNameTaken        = fault.New(fault.Conflict, "That username is in use.")
	ErrBadToken         = fault.New(fault.Unauthorized, "unauthorized")
	// ErrIPBanned: a post into the chat from an address an IP ban covers
	// (CheckPost; the chat's own socket refuses the connection instead).
	ErrIPBanned = fault.New(fault.Forbidden, "Your address is banned from this chat.")
	// ErrNoSession: only a signed-in session's access token registers as
	// its account (Register).
	ErrNoSession = fault.New(fault.Unauthorized, "only a signed-in account's access token can register in chat")
	ErrNameEmpty = fault.New(fault.Invalid, "Display name cannot be empty or contain only whitespace.")
)

// Message kinds stored in messages.Message.Meta as {"stage":"<kind>"}.
const (
	KindChat   = "chat"
	KindSystem = "system"
	KindAction = "action"
)

type meta struct {
	Stage string `json:"stage"`
}

// KindOf returns the stage message kind of a stored message (chat when the
// message was posted by another surface).
func KindOf(m *messages.Message) string {
	var mt meta
	if m.Meta != "" && json.Unmarshal([]byte(m.Meta), &mt) == nil && mt.Stage != "" {
		return mt.Stage
	}
	if m.AuthorID == nil {
		return KindSystem
	}
	return KindChat
}

// PostedByStage reports whether the stage chat itself posted m (through
// Owncast's routes); false for messages other surfaces wrote into the
// stage conversation.
func PostedByStage(m *messages.Message) bool {
	var mt meta
	return m.Meta != "" && json.Unmarshal([]byte(m.Meta), &mt) == nil && mt.Stage != ""
}

// Config tunes the service.
type Config struct {
	// Life is the node's lifetime: work done on timers (join and part
	// announcements) takes its context from it, so shutdown cancels it.
	// nil: never cancelled (tests).
	Life context.Context
	// Conversation is the message-store conversation of the stage's chat.
	Conversation string
	// Defaults are the settings of a fresh instance.
	Defaults Settings
	// Presence tunes join/part announcements.
	Presence PresenceConfig
	// ChannelChat finds where a community stage channel's messages live:
	// its own conversation (stage false), or the chat of the stage it is
	// bound to (stage true). A stage channel actor's fediverse engagement
	// is posted there. nil: no stage channels (their engagement is not
	// shown in any chat).
	ChannelChat func(ctx context.Context, channelID string) (conversationID string, stage bool)
	// MaySpeak is the communities' rule for a line an account says in
	// this chat (conversationID is Conversation), asked of every writer
	// (CheckPost): the chat of the default stage is also that of the
	// community stage channels bound to it, and a member timed out in
	// one of their communities says nothing there
	// (live.StageChannels.MaySpeakInChat). nil: no communities.
	MaySpeak func(ctx context.Context, conversationID, accountID string) error
	// FloodRate is the chat's pace: messages per second one account may
	// post into the chat, whichever surface it writes through (CheckPost;
	// Owncast: 1.5, per connection there); a post past it blocks the
	// account's posts for FloodBlock (Owncast: 10 s; DefaultFloodBlock
	// when unset). Kept in each node's memory. 0 or less: no pace.
	FloodRate  float64
	FloodBlock time.Duration
	// Limits shares the pace with the other nodes of a cluster: each tells
	// the others of the posts its pace lets through and the blocks it
	// starts, and charges theirs, so an account posting through several
	// nodes keeps one pace. nil: this node's posts only (a single node).
	Limits *ratelimit.Cluster
}

// Service is the stage chat domain service.
type Service struct {
	cfg  Config
	st   Store
	acct Accounts
	msgs Messages
	pub  Publisher
	log  *slog.Logger
	now  func() time.Time

	settings *settingsCache
	presence *Presence
	pace     *pace // nil: no pace (Config.FloodRate)

	userMu sync.Mutex
	users  map[string]*User // cache, bounded
	hook   Hook
	claims atomic.Uint64 // ClaimOnce calls, to prune now and then

	vapidMu sync.Mutex
	vapid   webpush.VAPID // browser push keys, loaded on first use
}

// New builds the service.
func New(ctx context.Context, cfg Config, st Store, acct Accounts, msgs Messages, pub Publisher, logger *slog.Logger) (*Service, error) {
	if st == nil || acct == nil || msgs == nil {
		return nil, errors.New("stagechat: store, accounts and messages are required")
	}
	if cfg.Conversation == "" {
		cfg.Conversation = defaultConversion
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Life == nil {
		cfg.Life = context.Background()
	}
	s := &Service{cfg: cfg, st: st, acct: acct, msgs: msgs, pub: pub, log: logger, now: time.Now, users: map[string]*User{}}
	sc, err := newSettingsCache(ctx, st, cfg.Defaults)
	if err != nil {
		return nil, err
	}
	s.settings = sc
	s.presence = newPresence(cfg.Presence, s)
	s.pace = newPace(cfg.FloodRate, cfg.FloodBlock, func() time.Time { return s.now() })
	if s.pace != nil {
		cfg.Limits.Share(paceName, s.pace)
	}
	return s, nil
}

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Conversation is the message-store conversation id of this chat.
func (s *Service) Conversation() string { return s.cfg.Conversation }

// Topic is the bus topic of this chat's own events.
func (s *Service) Topic() string { return TopicPrefix + s.cfg.Conversation }

// Presence returns the presence tracker.
func (s *Service) Presence() *Presence { return s.presence }

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("stagechat: token: %w", err)
	}
	return base64.URLEncoding.EncodeToString(b), nil
}

// Register creates a chat user and its access token. With signedIn set the
// chat user is its account, named as the account is (one identity on
// every surface), and the token lasts as long as signedIn's session (signing
// that session out deletes it); otherwise a guest account is created. A guest's
// requested name (body, else forwardedName) is used when allowed and free
// (no chat user has it and no account holds it), else a generated one, as
// Owncast does for a taken name. signedIn must be a sign-in session's
// (ErrNoSession otherwise): a token with no session to end with (a
// Together bot's access token) would outlive the bot's revocation and its
// maker's disable; the chat's bots are the admin's integrations.
func (s *Service) Register(ctx context.Context, requested, forwardedName string, signedIn *identity.Principal) (*User, string, error) {
	var acct *identity.Account
	var name, session string
	if signedIn != nil && signedIn.SessionID == "" {
		return nil, "", ErrNoSession
	}
	if signedIn != nil {
		acct, session, name = signedIn.Account, signedIn.SessionID, identity.CleanName(signedIn.Account.Name(), MaxNameLength)
	} else {
		name = identity.CleanName(requested, MaxNameLength)
		if name == "" {
			name = identity.CleanName(forwardedName, MaxNameLength)
		}
		if name == "" || !s.nameAllowed(name) || !s.nameFree(ctx, name, "") {
			name = s.generateName(ctx)
		}
		var err error
		if acct, err = s.acct.CreateGuest(ctx, name); err != nil {
			return nil, "", err
		}
	}
	u, err := s.st.User(ctx, acct.ID)
	if errors.Is(err, fault.NotFound) {
		u = &User{ID: acct.ID, DisplayName: name, DisplayColor: colorFor(acct.ID), CreatedAt: s.now().UTC(),
			IsBot: acct.Kind == identity.Bot || acct.Kind == identity.Integration, DisabledAt: acct.DisabledAt}
		if signedIn != nil {
			at := s.now().UTC()
			u.AuthenticatedAt = &at
		}
		if signedIn != nil {
			err = s.st.SaveUser(ctx, u)
		} else {
			err = s.claimGuestName(ctx, u)
		}
		if err != nil {
			return nil, "", err
		}
	} else if err != nil {
		return nil, "", err
	} else if signedIn != nil && u.DisplayName != name {
		// The account was renamed (or chatted before under another name):
		// its chat user takes the account's name.
		if u, err = s.rename(ctx, u, name, false); err != nil {
			return nil, "", err
		}
	}
	tok, err := newToken()
	if err != nil {
		return nil, "", err
	}
	if err := s.st.CreateChatToken(ctx, identity.HashToken(tok), acct.ID, session, s.now().UTC()); err != nil {
		return nil, "", err
	}
	return u, tok, nil
}

// claimGuestName saves a new guest's chat user under the name it was
// given, which another guest signing up at the same moment may have taken
// since it was found free: then the guest gets a generated name, as one
// asking for a taken name does, and its account follows.
func (s *Service) claimGuestName(ctx context.Context, u *User) error {
	err := s.st.ClaimName(ctx, u)
	if !errors.Is(err, ErrNameTaken) {
		return err
	}
	for range 3 {
		u.DisplayName = s.generateName(ctx)
		if err = s.st.ClaimName(ctx, u); !errors.Is(err, ErrNameTaken) {
			break
		}
	}
	if errors.Is(err, ErrNameTaken) {
		u.DisplayName = phrase() + "-" + fmt.Sprint(randIndex(1_000_000))
		err = s.st.SaveUser(ctx, u)
	}
	if err != nil {
		return err
	}
	if _, err := s.acct.Rename(ctx, u.ID, u.DisplayName); err != nil {
		s.log.Warn("name a guest's account after its chat user", "account", u.ID, "err", err)
	}
	return nil
}

// AccountRenamed gives an account's chat user the account's new name
// (identity.RenamedTopic; every node calls it, one acts), announced as a
// NAME_CHANGE like any other.
func (s *Service) AccountRenamed(ctx context.Context, r identity.Renamed) error {
	u, err := s.st.User(ctx, r.AccountID)
	if errors.Is(err, fault.NotFound) {
		return nil // never chatted: Register names it
	}
	if err != nil {
		return err
	}
	s.Forget(r.AccountID)
	name := truncateRunes(r.Name, MaxNameLength)
	if u.DisplayName == name {
		return nil
	}
	// Every node saves the new name (the same row, from the same rename),
	// and then one announces it: a node killed between the two leaves the
	// name saved, unannounced, where a claim taken first lost the rename.
	nu, err := s.saveRename(ctx, u, name, false)
	if err != nil {
		return err
	}
	if first, err := s.ClaimOnce(ctx, "identity.renamed:"+r.ID); err != nil || !first {
		return err
	}
	s.publish(ctx, Event{Type: EventNameChange, User: nu, OldName: u.DisplayName})
	return nil
}

// UserForAccount returns the chat user of an account, creating its chat
// profile on first use (integrations and signed-in accounts).
func (s *Service) UserForAccount(ctx context.Context, a *identity.Account) (*User, error) {
	u, err := s.st.User(ctx, a.ID)
	if errors.Is(err, fault.NotFound) {
		u = &User{ID: a.ID, DisplayName: identity.CleanName(a.Name(), MaxNameLength), DisplayColor: colorFor(a.ID),
			CreatedAt: a.CreatedAt, IsBot: a.Kind == identity.Bot || a.Kind == identity.Integration, DisabledAt: a.DisabledAt}
		if err := s.st.SaveUser(ctx, u); err != nil && !errors.Is(err, fault.Conflict) {
			return nil, err
		}
		return s.st.User(ctx, a.ID)
	}
	return u, err
}

// Authenticate resolves a chat access token to its user.
func (s *Service) Authenticate(ctx context.Context, token string) (*User, error) {
	if token == "" || len(token) > 256 {
		return nil, ErrBadToken
	}
	id, err := s.st.ChatTokenAccount(ctx, identity.HashToken(token))
	if errors.Is(err, fault.NotFound) {
		return nil, ErrBadToken
	}
	if err != nil {
		return nil, err
	}
	return s.st.User(ctx, id)
}

// Admit is a chat socket's connect check: IPBanned and Authenticate in one
// store query. banned refuses the socket whatever the token; otherwise u
// and authErr are what Authenticate returns (ErrBadToken for no such token,
// fault.NotFound for a token whose chat user is gone), and session is the
// session the token was taken with ("" for a guest's). err is a failure to
// check at all.
func (s *Service) Admit(ctx context.Context, ip, token string) (banned bool, u *User, session string, authErr, err error) {
	addr := ""
	if a, perr := netip.ParseAddr(ip); perr == nil {
		addr = a.Unmap().String()
	}
	hash := ""
	if token != "" && len(token) <= 256 {
		hash = identity.HashToken(token)
	}
	banned, account, session, u, err := s.st.ChatAdmit(ctx, hash, addr)
	switch {
	case err != nil:
		return false, nil, "", nil, err
	case banned:
		return true, nil, "", nil, nil
	case hash == "" || account == "":
		return false, nil, "", ErrBadToken, nil
	case u == nil:
		return false, nil, "", fault.NotFound, nil
	}
	return false, u, session, nil, nil
}

// User returns a chat user by id.
func (s *Service) User(ctx context.Context, id string) (*User, error) { return s.st.User(ctx, id) }

// CachedUser returns a chat user, served from a small cache that name,
// colour, scope and enable changes invalidate (for rendering fan-out).
func (s *Service) CachedUser(ctx context.Context, id string) (*User, error) {
	s.userMu.Lock()
	u, ok := s.users[id]
	s.userMu.Unlock()
	if ok {
		return u, nil
	}
	u, err := s.st.User(ctx, id)
	if err != nil {
		return nil, err
	}
	s.userMu.Lock()
	if len(s.users) > 10000 {
		clear(s.users)
	}
	s.users[id] = u
	s.userMu.Unlock()
	return u, nil
}

// Forget drops a user from the cache (on change events from any node).
func (s *Service) Forget(id string) {
	s.userMu.Lock()
	delete(s.users, id)
	s.userMu.Unlock()
}

// Users lists moderators or disabled users.
func (s *Service) Users(ctx context.Context, f UserFilter) ([]*User, error) {
	return s.st.Users(ctx, f)
}

// ListUsers is the admin user list: one page and the total.
func (s *Service) ListUsers(ctx context.Context, q UserQuery) ([]*User, int, error) {
	switch q.Status {
	case "":
		q.Status = UserStatusAll
	case UserStatusAll, UserStatusActive, UserStatusBots, UserStatusAuthenticated, UserStatusModerators, UserStatusBanned:
	default:
		return nil, 0, fault.Newf(fault.Invalid, "status must be %s, %s, %s, %s, %s or %s", UserStatusAll, UserStatusActive,
			UserStatusBots, UserStatusAuthenticated, UserStatusModerators, UserStatusBanned)
	}
	if q.Offset < 0 || q.Limit < 0 {
		return nil, 0, fault.New(fault.Invalid, "offset and limit must not be negative")
	}
	if q.Limit == 0 || q.Limit > MaxUserPage {
		q.Limit = MaxUserPage
	}
	if len(q.Search) > 100 {
		return nil, 0, fault.New(fault.Invalid, "search is too long")
	}
	return s.st.ListUsers(ctx, q)
}

// ErrDeleteAdmin refuses deleting an instance admin from the chat admin.
var ErrDeleteAdmin = fault.New(fault.Invalid, "cannot delete an admin account")

// DeleteUser deletes a chat user for good: the account behind it goes, with
// its sessions and tokens (its sockets close on every node); its messages
// stay without an author. An unknown id is fault.NotFound; an admin
// account, or one that owns communities, is refused (fault.Invalid).
func (s *Service) DeleteUser(ctx context.Context, userID string) error {
	if userID == "" {
		return fault.New(fault.Invalid, "userId is required")
	}
	if _, err := s.st.User(ctx, userID); err != nil {
		return err
	}
	acct, err := s.acct.Account(ctx, userID)
	if err != nil {
		return err
	}
	if acct.IsAdmin {
		return ErrDeleteAdmin
	}
	return s.acct.DeleteAccount(ctx, userID)
}

// Send posts a chat message from u after the chat rules. An empty body is
// ignored (nil message, nil error).
func (s *Service) Send(ctx context.Context, u *User, body string) (*messages.Message, error) {
	set := s.Settings()
	if set.ChatDisabled {
		return nil, ErrChatDisabled
	}
	if u.Disabled() {
		return nil, ErrUserDisabled
	}
	body = strings.TrimSpace(body)
	if body == "" {
		return nil, nil
	}
	// The stage chat's length rule is the message store's
	// (messages.MaxStageBody, Owncast's 2048), whoever writes into it; it
	// is checked here first so that it refuses before the rules below.
	if err := messages.CheckBody(messages.KindStage, body); err != nil {
		return nil, err
	}
	body, err := s.admit(ctx, set, u, body)
	if err != nil {
		return nil, err
	}
	return s.post(ctx, u.ID, body, KindChat)
}

// SendSystem posts a system message as the server.
func (s *Service) SendSystem(ctx context.Context, body string) (*messages.Message, error) {
	return s.post(ctx, "", strings.TrimSpace(body), KindSystem)
}

// SendAction posts a chat action ("X did something").
func (s *Service) SendAction(ctx context.Context, body string) (*messages.Message, error) {
	return s.post(ctx, "", strings.TrimSpace(body), KindAction)
}

func (s *Service) post(ctx context.Context, author, body, kind string) (*messages.Message, error) {
	if body == "" {
		return nil, fault.New(fault.Invalid, "message body is required")
	}
	mt, _ := json.Marshal(meta{Stage: kind})
	return s.msgs.Post(ctx, messages.PostInput{ConversationID: s.cfg.Conversation, Kind: messages.KindStage,
		AuthorID: author, Body: body, Meta: string(mt)})
}

// History returns the chat backlog, oldest first: the last 50 visible
// messages of enabled users, or (moderation) every message including hidden
// ones, up to ModerationLimit.
func (s *Service) History(ctx context.Context, moderation bool) ([]*messages.Message, error) {
	limit := HistoryLimit
	if moderation {
		limit = ModerationLimit
	}
	ms, err := s.msgs.List(ctx, messages.ListQuery{ConversationID: s.cfg.Conversation, Limit: limit, IncludeHidden: moderation})
	if err != nil {
		return nil, err
	}
	out := make([]*messages.Message, 0, len(ms))
	for i := len(ms) - 1; i >= 0; i-- {
		m := ms[i]
		if m.Deleted {
			continue
		}
		if !moderation && m.AuthorID != nil {
			if u, err := s.CachedUser(ctx, *m.AuthorID); err == nil && u.Disabled() {
				continue
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// MessagesFrom returns the recent messages of one user, newest last.
func (s *Service) MessagesFrom(ctx context.Context, userID string) ([]*messages.Message, error) {
	ms, err := s.History(ctx, true)
	if err != nil {
		return nil, err
	}
	out := ms[:0]
	for _, m := range ms {
		if m.AuthorID != nil && *m.AuthorID == userID {
			out = append(out, m)
		}
	}
	return out, nil
}

// SetVisibility hides or shows messages.
func (s *Service) SetVisibility(ctx context.Context, ids []string, visible bool) error {
	if len(ids) == 0 {
		return fault.New(fault.Invalid, "idArray is required")
	}
	if len(ids) > ModerationLimit {
		return fault.New(fault.Invalid, "too many ids")
	}
	// Only this chat's messages: an id from a community channel, a DM or a
	// watch room (same message store) changes nothing.
	_, err := s.msgs.SetHidden(ctx, s.cfg.Conversation, ids, !visible)
	return err
}

// ChangeName renames u, returning the updated user and the old name. The
// name passes identity.CleanName first; one with nothing left is refused, as
// Owncast does.
func (s *Service) ChangeName(ctx context.Context, u *User, newName string) (*User, string, error) {
	newName = identity.CleanName(newName, MaxNameLength)
	if newName == "" {
		return nil, "", ErrNameEmpty
	}
	if newName == u.DisplayName {
		return u, u.DisplayName, nil
	}
	if !s.nameAllowed(newName) {
		return nil, "", ErrNameForbidden
	}
	if !s.nameFree(ctx, newName, u.ID) {
		return nil, "", ErrNameTaken
	}
	nu, err := s.rename(ctx, u, newName, true)
	if err != nil {
		return nil, "", err
	}
	// A signed-in account's chat name is its account name: renaming it
	// here renames the account everywhere. The chat user is saved first,
	// so the rename event finds it already renamed and adds nothing.
	if a, err := s.acct.Account(ctx, u.ID); err == nil && a.Kind == identity.Registered {
		if _, err := s.acct.Rename(ctx, a.ID, newName); err != nil {
			s.log.Warn("rename the account of a chat user", "account", a.ID, "err", err)
		}
	}
	return nu, u.DisplayName, nil
}

// rename stores u's new name and announces it; with claim, only if no
// other chat user has it (ErrNameTaken).
func (s *Service) rename(ctx context.Context, u *User, newName string, claim bool) (*User, error) {
	nu, err := s.saveRename(ctx, u, newName, claim)
	if err != nil {
		return nil, err
	}
	s.publish(ctx, Event{Type: EventNameChange, User: nu, OldName: u.DisplayName})
	return nu, nil
}

// saveRename stores u under newName, its old name kept among the previous
// ones, without announcing it; with claim, only if no other chat user has
// newName (ErrNameTaken: a user taking a name by choice; an account's
// name is its own whoever chats under it).
func (s *Service) saveRename(ctx context.Context, u *User, newName string, claim bool) (*User, error) {
	nu := *u
	nu.DisplayName = newName
	prev := append(append([]string(nil), u.PreviousNames...), u.DisplayName)
	nu.PreviousNames = prev[max(0, len(prev)-MaxPreviousNames):]
	at := s.now().UTC()
	nu.NameChangedAt = &at
	save := s.st.SaveUser
	if claim {
		save = s.st.ClaimName
	}
	if err := save(ctx, &nu); err != nil {
		return nil, err
	}
	s.Forget(u.ID)
	return &nu, nil
}

// ChangeColor sets u's colour (0-7).
func (s *Service) ChangeColor(ctx context.Context, u *User, color int) (*User, error) {
	if color < 0 || color > 7 {
		return nil, fault.New(fault.Invalid, "colour must be 0-7")
	}
	nu := *u
	nu.DisplayColor = color
	if err := s.st.SaveUser(ctx, &nu); err != nil {
		return nil, err
	}
	s.publish(ctx, Event{Type: EventUserUpdated, User: &nu})
	return &nu, nil
}

// SetModerator grants or removes the MODERATOR scope.
func (s *Service) SetModerator(ctx context.Context, userID string, moderator bool) (*User, error) {
	u, err := s.st.User(ctx, userID)
	if err != nil {
		return nil, err
	}
	var scopes []string
	for _, sc := range u.Scopes {
		if sc != ModeratorScope {
			scopes = append(scopes, sc)
		}
	}
	if moderator {
		scopes = append(scopes, ModeratorScope)
	}
	u.Scopes = scopes
	if err := s.st.SaveUser(ctx, u); err != nil {
		return nil, err
	}
	s.publish(ctx, Event{Type: EventUserUpdated, User: u})
	return u, nil
}

// A chat moderator's limits on removing and restoring chat users
// (MayModeratorSetEnabled).
var (
	ErrModeratorRemovesAdmin   = fault.New(fault.Forbidden, "an instance admin cannot be removed from chat by a moderator")
	ErrModeratorRemovesAccount = fault.New(fault.Forbidden, "only the admin can remove a Hearth account from chat")
	ErrModeratorEnablesAccount = fault.New(fault.Forbidden, "only the admin can re-enable a Hearth account")
)

// MayModeratorSetEnabled says whether a chat moderator who is not the
// instance admin may set userID's enabled state (SetEnabled). A chat user
// is its Hearth account, and its enabled state is the account's on every
// surface: a moderator may remove and restore guests, but neither disable
// a signed-up account (that would lock its owner out of every community
// and room) nor the instance admin, nor re-enable a signed-up account,
// which the admin may have disabled anywhere. Those are the admin's; a
// moderator can still hide the account's messages and ban its address. A
// user with no account is the moderator's.
func (s *Service) MayModeratorSetEnabled(ctx context.Context, userID string, enabled bool) error {
	a, err := s.acct.Account(ctx, userID)
	switch {
	case errors.Is(err, fault.NotFound):
		return nil
	case err != nil:
		return err
	case !enabled && a.IsAdmin:
		return ErrModeratorRemovesAdmin
	case !enabled && a.Kind != identity.Guest:
		return ErrModeratorRemovesAccount
	case enabled && a.Disabled() && a.Kind != identity.Guest:
		return ErrModeratorEnablesAccount
	}
	return nil
}

// SetEnabled disables or re-enables a chat user. Disabling disables the
// account (every surface), hides the user's messages, and announces it: the
// user's chat sockets get closed and everyone gets an action notice.
func (s *Service) SetEnabled(ctx context.Context, userID string, enabled bool) error {
	u, err := s.st.User(ctx, userID)
	if err != nil {
		return err
	}
	if _, err := s.acct.SetDisabled(ctx, userID, !enabled); err != nil {
		return err
	}
	s.Forget(userID)
	if enabled {
		s.publish(ctx, Event{Type: EventUserUpdated, User: u})
		return nil
	}
	at := s.now().UTC()
	u.DisabledAt = &at
	s.publish(ctx, Event{Type: EventUserDisabled, User: u})
	ms, err := s.MessagesFrom(ctx, userID)
	if err != nil {
		return err
	}
	var ids []string
	for _, m := range ms {
		if !m.Hidden {
			ids = append(ids, m.ID)
		}
	}
	if len(ids) > 0 {
		if _, err := s.msgs.SetHidden(ctx, s.cfg.Conversation, ids, true); err != nil {
			return err
		}
	}
	s.publish(ctx, Event{Type: EventAction, Body: "**" + MarkdownText(u.DisplayName) + "** has been removed from chat."})
	return nil
}

// BanIP bans a client address from chat: for an IPv6 address, every
// address of its /64 (BanNet). The ban is listed as ip was given.
func (s *Service) BanIP(ctx context.Context, ip, notes string) error {
	a, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return fault.New(fault.Invalid, "not a valid IP address")
	}
	return s.st.AddIPBan(ctx, IPBan{IP: a.Unmap().String(), Notes: truncateRunes(notes, 256), CreatedAt: s.now().UTC()})
}

// BanIPAndDisconnect is BanIP by hand (Owncast's ipbans/create): the chat
// sockets already open from an address the ban covers (BanCovers) close
// too, on every node, when EventIPBanned reaches them. Owncast refuses only
// new connections; a moderator banning an address expects the person gone.
func (s *Service) BanIPAndDisconnect(ctx context.Context, ip, notes string) error {
	if err := s.BanIP(ctx, ip, notes); err != nil {
		return err
	}
	a, _ := netip.ParseAddr(strings.TrimSpace(ip)) // BanIP parsed it
	s.publishNoHook(ctx, Event{Type: EventIPBanned, IP: a.Unmap().String()})
	return nil
}

// UnbanIP lifts the ban of ip (as listed): other bans of addresses in
// the same /64 still cover it.
func (s *Service) UnbanIP(ctx context.Context, ip string) error {
	a, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return fault.New(fault.Invalid, "not a valid IP address")
	}
	return s.st.RemoveIPBan(ctx, a.Unmap().String())
}

// Counts reports how many chat users exist and how many messages the
// chat has stored (Owncast's total_chat_users and
// current_chat_message_count gauges).
func (s *Service) Counts(ctx context.Context) (users, messages int, err error) {
	users, messages, err = s.st.Counts(ctx, s.cfg.Conversation)
	if err != nil {
		return 0, 0, fmt.Errorf("stagechat: counts: %w", err)
	}
	return users, messages, nil
}

// IPBans lists bans.
func (s *Service) IPBans(ctx context.Context) ([]IPBan, error) { return s.st.IPBans(ctx) }

// IPBanned reports whether a client address is banned: it or, for IPv6,
// an address of its /64 was banned.
func (s *Service) IPBanned(ctx context.Context, ip string) (bool, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false, nil
	}
	return s.st.IPBanned(ctx, a.Unmap().String())
}

// Action broadcasts a chat action notice without storing it.
func (s *Service) Action(ctx context.Context, body string) {
	s.publish(ctx, Event{Type: EventAction, Body: body})
}

func (s *Service) nameAllowed(name string) bool {
	l := identity.NameKey(name)
	for _, f := range s.Settings().ForbiddenUsernames {
		if f != "" && identity.NameKey(f) == l {
			return false
		}
	}
	return true
}

// nameFree: no other chat user has name, and no other account holds it
// (a guest may not chat under an account's name, even one that never
// chatted).
func (s *Service) nameFree(ctx context.Context, name, self string) bool {
	u, err := s.st.UserByName(ctx, name)
	if !errors.Is(err, fault.NotFound) && (err != nil || u.ID != self) {
		return false
	}
	free, err := s.acct.NameFree(ctx, name, self)
	return err == nil && free
}

func (s *Service) generateName(ctx context.Context) string {
	pool := s.Settings().SuggestedUsernames
	for range 5 {
		var n string
		if len(pool) >= suggestedPoolMin {
			n = pool[randIndex(len(pool))]
		} else {
			n = phrase()
		}
		if s.nameFree(ctx, n, "") {
			return n
		}
	}
	return phrase() + "-" + fmt.Sprint(randIndex(10000))
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

func colorFor(id string) int {
	h := 0
	for _, c := range id {
		h = h*31 + int(c)
	}
	if h < 0 {
		h = -h
	}
	return h % 8
}
