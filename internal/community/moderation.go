package community

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/messages"
)

// AutomodConfig is a community's automod settings.
type AutomodConfig struct {
	CommunityID       string
	Enabled           bool
	SpamEnabled       bool
	SpamMaxMessages   int
	SpamWindowSecs    int
	SpamAction        string
	DuplicateEnabled  bool
	WordFilterEnabled bool
	WordFilterAction  string
	TimeoutMinutes    int
	UpdatedAt         time.Time
}

// WordFilter is one filtered word (stored lower-cased).
type WordFilter struct {
	ID          string
	CommunityID string
	Word        string
	CreatedBy   *string
	CreatedAt   time.Time
}

// AutomodLog records one automod action.
type AutomodLog struct {
	ID             string
	CommunityID    string
	ChannelID      *string
	UserID         *string
	Username       *string
	RuleType       string
	ActionTaken    string
	MatchedTerm    *string
	MessageContent *string
	CreatedAt      time.Time
}

// AuditLog records one administrative action in a community.
type AuditLog struct {
	ID          string
	CommunityID string
	ActorID     *string
	Action      string
	TargetType  *string
	TargetID    *string
	Details     json.RawMessage
	IPAddress   *string
	CreatedAt   time.Time
}

// AuditQuery filters the audit log.
type AuditQuery struct {
	Action, ActorID, TargetType string
	Before                      *time.Time
	Limit                       int
}

// ModerationStore persists automod and the audit log
// (internal/store/together_moderation.go).
type ModerationStore interface {
	AutomodConfig(ctx context.Context, communityID string) (*AutomodConfig, error)
	SaveAutomodConfig(ctx context.Context, c *AutomodConfig) error
	Words(ctx context.Context, communityID string) ([]*WordFilter, error)
	// AddWord adds w, or returns the word already there;
	// ErrTooManyWords when the community filters max others.
	AddWord(ctx context.Context, w *WordFilter, max int) (*WordFilter, error)
	RemoveWord(ctx context.Context, communityID, word string) error
	AddAutomodLog(ctx context.Context, l *AutomodLog) error
	AutomodLogs(ctx context.Context, communityID string, limit int) ([]*AutomodLog, error)
	// CountRecent counts the author's live messages in a conversation (a
	// channel, or a watch room's chat) since a time, only those with
	// exactly body when body is not nil.
	CountRecent(ctx context.Context, conversationID, authorID string, since time.Time, body *string) (int, error)
	// AddAudit records l and removes the community's entries older than
	// its newest keep.
	AddAudit(ctx context.Context, l *AuditLog, keep int) error
	AuditLogs(ctx context.Context, communityID string, q AuditQuery) ([]*AuditLog, error)
}

// AutomodAction is the payload of an EvAutomodAction event.
type AutomodAction struct {
	ChannelID   string  `json:"channel_id"`
	UserID      string  `json:"user_id"`
	Username    string  `json:"username"`
	RuleType    string  `json:"rule_type"`
	ActionTaken string  `json:"action_taken"`
	MatchedTerm *string `json:"matched_term"`
}

// SetModeration gives the service its automod and audit-log store (wiring,
// before use). Without one, automod checks nothing and its settings, the
// word filter and the logs answer Unavailable.
func (s *Service) SetModeration(st ModerationStore) { s.mod = st }

// Errors of the send rules, with the messages Together shows.
var (
	ErrCannotSend  = fault.New(fault.Forbidden, "You don't have permission to send messages in this channel")
	ErrTimedOut    = fault.New(fault.Forbidden, "User is timed out")
	ErrWordFilter  = fault.New(fault.Forbidden, "Message blocked by word filter")
	ErrDuplicate   = fault.New(fault.Forbidden, "Duplicate message blocked")
	ErrSpam        = fault.New(fault.Forbidden, "Slow down: message blocked as spam")
	errModeration  = fault.New(fault.Unavailable, "Moderation is not available")
	errNoAutomod   = fault.New(fault.NotFound, "no automod config")
	automodActions = map[string]bool{"delete": true, "timeout": true, "kick": true, "ban": true}
)

var _ messages.Rules = (*Service)(nil)

// CanSend returns accountID's access to a channel it may post in: NotFound
// unless it may view the channel, Forbidden without SEND_MESSAGES or while
// timed out.
func (s *Service) CanSend(ctx context.Context, accountID, channelID string) (*ChannelAccess, error) {
	ca, err := s.ChannelAccess(ctx, accountID, channelID)
	if err != nil {
		return nil, err
	}
	if !ca.Can(PermViewChannel) {
		return nil, ErrChannelNotFound
	}
	if !ca.Can(PermSendMessages) {
		return nil, ErrCannotSend
	}
	if err := ca.MayCommunicate(); err != nil {
		return nil, err
	}
	return ca, nil
}

// CheckPost is the rules of a community conversation, run by
// messages.Service.Post for every writer into a channel (its own
// conversation, or a stage chat it is posted through): the author may view
// the channel and send in it and is not timed out; a text message then
// passes automod (word filter, duplicates, spam; the owner is exempt), and
// its @username and @everyone mentions are resolved against the members.
// Polls and events (messages with Meta) are not text: they get the
// permission checks only.
func (s *Service) CheckPost(ctx context.Context, in *messages.PostInput) error {
	channelID := in.ViaChannel
	if channelID == "" {
		if in.Kind != messages.KindChannel {
			return nil
		}
		channelID = in.ConversationID
	}
	ca, err := s.CanSend(ctx, in.AuthorID, channelID)
	if err != nil {
		return err
	}
	if in.Meta != "" {
		return nil
	}
	if err := s.automod(ctx, ca, in.AuthorID, in.Body, ca.Channel.ID); err != nil {
		return err
	}
	in.MentionUserIDs, in.MentionEveryone = s.mentions(ctx, ca.Community.ID, in.Body)
	return nil
}

// CheckEdit re-parses a channel message's mentions from its new body; other
// conversations keep theirs. Edits pass no other rule.
func (s *Service) CheckEdit(ctx context.Context, m *messages.Message, body string) (*messages.Mentions, error) {
	if m.Kind != messages.KindChannel {
		return nil, nil
	}
	ch, err := s.st.Channel(ctx, m.ConversationID)
	if err != nil {
		if errors.Is(err, fault.NotFound) {
			return nil, nil
		}
		return nil, err
	}
	ids, everyone := s.mentions(ctx, ch.CommunityID, body)
	return &messages.Mentions{UserIDs: ids, Everyone: everyone}, nil
}

// mentions resolves @username and @everyone tokens against the members.
func (s *Service) mentions(ctx context.Context, communityID, content string) ([]string, bool) {
	if !strings.Contains(content, "@") {
		return []string{}, false
	}
	everyone := false
	names := map[string]bool{}
	for _, f := range strings.FieldsFunc(content, func(r rune) bool {
		return !(r == '@' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		for _, part := range strings.Split(f, "@")[1:] {
			if part == "everyone" {
				everyone = true
			} else if part != "" {
				names[strings.ToLower(part)] = true
			}
		}
	}
	ids := []string{}
	if len(names) == 0 {
		return ids, everyone
	}
	ms, err := s.st.Members(ctx, communityID)
	if err != nil {
		return ids, everyone
	}
	for _, m := range ms {
		if names[strings.ToLower(m.Username)] {
			ids = append(ids, m.AccountID)
		}
	}
	return ids, everyone
}

// CheckChat is automod for a line of chat said in a channel through
// something other than its messages (a watch channel's room chat): ca is
// the author's access, as CanSend answered it, and conversationID where
// that chat is kept, in which duplicates and spam are counted. The word
// filter, duplicate and spam rules and their actions (timeout, kick, ban,
// the log and AUTOMOD_ACTION) are those of a message posted in the
// channel; Forbidden (ErrWordFilter, ErrDuplicate, ErrSpam) when blocked.
func (s *Service) CheckChat(ctx context.Context, ca *ChannelAccess, conversationID, text string) error {
	return s.automod(ctx, ca, ca.AccountID, text, conversationID)
}

// automod checks a message about to be posted (word filter, duplicates,
// spam, counted among the author's messages in countIn) and returns
// Forbidden when it is blocked, after applying the configured action.
func (s *Service) automod(ctx context.Context, ca *ChannelAccess, authorID, content, countIn string) error {
	if s.mod == nil || ca.IsOwner {
		return nil
	}
	c, err := s.mod.AutomodConfig(ctx, ca.Community.ID)
	if errors.Is(err, fault.NotFound) || (err == nil && !c.Enabled) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.WordFilterEnabled {
		words, err := s.mod.Words(ctx, ca.Community.ID)
		if err != nil {
			return err
		}
		low := strings.ToLower(content)
		for _, wf := range words {
			if strings.Contains(low, wf.Word) {
				s.automodAct(ctx, ca, authorID, c, "word_filter", c.WordFilterAction, &wf.Word, content)
				return ErrWordFilter
			}
		}
	}
	if c.DuplicateEnabled {
		n, err := s.mod.CountRecent(ctx, countIn, authorID, s.now().Add(-30*time.Second), &content)
		if err != nil {
			return err
		}
		if n > 0 {
			s.automodAct(ctx, ca, authorID, c, "duplicate", "delete", nil, content)
			return ErrDuplicate
		}
	}
	if c.SpamEnabled {
		n, err := s.mod.CountRecent(ctx, countIn, authorID, s.now().Add(-time.Duration(c.SpamWindowSecs)*time.Second), nil)
		if err != nil {
			return err
		}
		if n >= c.SpamMaxMessages {
			s.automodAct(ctx, ca, authorID, c, "spam", c.SpamAction, nil, content)
			return ErrSpam
		}
	}
	return nil
}

// automodAct logs a blocked message, applies the action (timeout, kick,
// ban; "delete" only blocks) and announces it to the members.
func (s *Service) automodAct(ctx context.Context, ca *ChannelAccess, uid string, c *AutomodConfig, rule, action string, term *string, content string) {
	cid := ca.Channel.ID
	name := s.memberName(ctx, ca.Community.ID, uid)
	l := &AutomodLog{ID: newID(), CommunityID: ca.Community.ID, ChannelID: &cid, UserID: &uid, Username: &name,
		RuleType: rule, ActionTaken: action, MatchedTerm: term, MessageContent: &content, CreatedAt: s.at()}
	if err := s.mod.AddAutomodLog(ctx, l); err != nil {
		s.log.Warn("automod log", "err", err)
	}
	if action != "delete" {
		if err := s.Enforce(ctx, ca.Community.ID, uid, action, time.Duration(c.TimeoutMinutes)*time.Minute, "automod: "+rule); err != nil {
			s.log.Warn("automod action", "action", action, "err", err)
		}
	}
	s.publish(ctx, Topic(ca.Community.ID), Event{Type: EvAutomodAction, CommunityID: ca.Community.ID, AccountID: uid,
		Automod: &AutomodAction{ChannelID: cid, UserID: uid, Username: name, RuleType: rule, ActionTaken: action, MatchedTerm: term}})
}

func (s *Service) memberName(ctx context.Context, communityID, accountID string) string {
	ms, err := s.st.Members(ctx, communityID)
	if err != nil {
		return ""
	}
	for _, m := range ms {
		if m.AccountID == accountID {
			return m.Username
		}
	}
	return ""
}

// moderator returns actor's access to a community whose moderation only
// its owner manages; what completes "Only the server owner can …".
func (s *Service) moderator(ctx context.Context, actor, communityID, what string) (*Access, error) {
	if s.mod == nil {
		return nil, errModeration
	}
	a, err := s.Access(ctx, actor, communityID)
	if err != nil {
		return nil, err
	}
	if !a.IsOwner {
		return nil, fault.New(fault.Forbidden, "Only the server owner can "+what)
	}
	return a, nil
}

// CanModerate reports (as an error) whether actor may manage a community's
// moderation: only the owner may; what completes "Only the server owner
// can …".
func (s *Service) CanModerate(ctx context.Context, actor, communityID, what string) error {
	_, err := s.moderator(ctx, actor, communityID, what)
	return err
}

// Automod returns a community's automod settings (owner only; NotFound
// until first saved).
func (s *Service) Automod(ctx context.Context, actor, communityID string) (*AutomodConfig, error) {
	if _, err := s.moderator(ctx, actor, communityID, "manage automod"); err != nil {
		return nil, err
	}
	c, err := s.mod.AutomodConfig(ctx, communityID)
	if errors.Is(err, fault.NotFound) {
		return nil, errNoAutomod
	}
	return c, err
}

// AutomodPatch changes automod settings; nil fields are kept.
type AutomodPatch struct {
	Enabled, SpamEnabled, DuplicateEnabled, WordFilterEnabled *bool
	SpamMaxMessages, SpamWindowSecs, TimeoutMinutes           *int
	SpamAction, WordFilterAction                              *string
}

// UpdateAutomod validates and saves automod settings (owner only),
// starting from the defaults when none are saved yet.
func (s *Service) UpdateAutomod(ctx context.Context, actor, communityID string, p AutomodPatch) (*AutomodConfig, error) {
	if _, err := s.moderator(ctx, actor, communityID, "manage automod"); err != nil {
		return nil, err
	}
	invalid := func(msg string) error { return fault.New(fault.Invalid, msg) }
	switch {
	case p.SpamMaxMessages != nil && (*p.SpamMaxMessages < 1 || *p.SpamMaxMessages > 50):
		return nil, invalid("spam_max_messages must be between 1 and 50")
	case p.SpamWindowSecs != nil && (*p.SpamWindowSecs < 1 || *p.SpamWindowSecs > 60):
		return nil, invalid("spam_window_secs must be between 1 and 60")
	case p.TimeoutMinutes != nil && (*p.TimeoutMinutes < 1 || *p.TimeoutMinutes > 10080):
		return nil, invalid("timeout_minutes must be between 1 and 10080")
	case p.SpamAction != nil && !automodActions[*p.SpamAction]:
		return nil, invalid("spam_action must be delete, timeout, kick or ban")
	case p.WordFilterAction != nil && !automodActions[*p.WordFilterAction]:
		return nil, invalid("word_filter_action must be delete, timeout, kick or ban")
	}
	c, err := s.mod.AutomodConfig(ctx, communityID)
	if errors.Is(err, fault.NotFound) {
		c, err = &AutomodConfig{CommunityID: communityID, SpamMaxMessages: 5, SpamWindowSecs: 5, SpamAction: "delete",
			WordFilterAction: "delete", TimeoutMinutes: 10}, nil
	}
	if err != nil {
		return nil, err
	}
	set(&c.Enabled, p.Enabled)
	set(&c.SpamEnabled, p.SpamEnabled)
	set(&c.SpamMaxMessages, p.SpamMaxMessages)
	set(&c.SpamWindowSecs, p.SpamWindowSecs)
	set(&c.SpamAction, p.SpamAction)
	set(&c.DuplicateEnabled, p.DuplicateEnabled)
	set(&c.WordFilterEnabled, p.WordFilterEnabled)
	set(&c.WordFilterAction, p.WordFilterAction)
	set(&c.TimeoutMinutes, p.TimeoutMinutes)
	c.UpdatedAt = s.at()
	if err := s.mod.SaveAutomodConfig(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// Words lists a community's filtered words (owner only).
func (s *Service) Words(ctx context.Context, actor, communityID string) ([]*WordFilter, error) {
	if _, err := s.moderator(ctx, actor, communityID, "manage automod"); err != nil {
		return nil, err
	}
	return s.mod.Words(ctx, communityID)
}

// AddWord adds a word (trimmed, lower-cased, 1–100 characters) to the
// word filter (owner only).
func (s *Service) AddWord(ctx context.Context, actor, communityID, word string) (*WordFilter, error) {
	if _, err := s.moderator(ctx, actor, communityID, "manage automod"); err != nil {
		return nil, err
	}
	word = strings.ToLower(strings.TrimSpace(word))
	if word == "" {
		return nil, fault.New(fault.Invalid, "word cannot be empty")
	}
	if utf8.RuneCountInString(word) > 100 {
		return nil, fault.New(fault.Invalid, "word must be at most 100 characters")
	}
	return s.mod.AddWord(ctx, &WordFilter{ID: newID(), CommunityID: communityID, Word: word, CreatedBy: &actor, CreatedAt: s.at()},
		MaxFilteredWords)
}

// RemoveWord removes a word from the word filter (owner only).
func (s *Service) RemoveWord(ctx context.Context, actor, communityID, word string) error {
	if _, err := s.moderator(ctx, actor, communityID, "manage automod"); err != nil {
		return err
	}
	return s.mod.RemoveWord(ctx, communityID, strings.ToLower(word))
}

// AutomodLogs lists a community's latest 100 automod actions (owner only).
func (s *Service) AutomodLogs(ctx context.Context, actor, communityID string) ([]*AutomodLog, error) {
	if _, err := s.moderator(ctx, actor, communityID, "manage automod"); err != nil {
		return nil, err
	}
	return s.mod.AutomodLogs(ctx, communityID, 100)
}

// Audit records an administrative action; without a moderation store it
// is dropped.
func (s *Service) Audit(ctx context.Context, l *AuditLog) error {
	if s.mod == nil {
		return nil
	}
	if l.ID == "" {
		l.ID = newID()
	}
	if l.CreatedAt.IsZero() {
		l.CreatedAt = s.at()
	}
	return s.mod.AddAudit(ctx, l, MaxAuditEntries)
}

// AuditLogs lists a community's audit log (owner only).
func (s *Service) AuditLogs(ctx context.Context, actor, communityID string, q AuditQuery) ([]*AuditLog, error) {
	if _, err := s.moderator(ctx, actor, communityID, "view the audit log"); err != nil {
		return nil, err
	}
	return s.mod.AuditLogs(ctx, communityID, q)
}

// CanManageWebhooks reports (as an error) whether actor may manage a
// community's outgoing webhooks: the owner or an ADMINISTRATOR.
func (s *Service) CanManageWebhooks(ctx context.Context, actor, communityID string) error {
	a, err := s.Access(ctx, actor, communityID)
	if err != nil {
		return err
	}
	if !a.IsOwner && !a.Has(PermAdministrator) {
		return fault.New(fault.Forbidden, "You need the Administrator permission to manage webhooks")
	}
	return nil
}
