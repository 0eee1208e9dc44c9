package together

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/ratelimit"

	"github.com/hearth-community/hearth/internal/store"
)

// AutomodConfig is a server's automod settings.
type AutomodConfig = store.AutomodConfig

// WordFilter is one filtered word.
type WordFilter = store.WordFilter

// AutomodLog records one automod action.
type AutomodLog = store.AutomodLog

// AuditLog records one administrative action in a server.
type AuditLog = store.AuditLog

// AuditQuery filters the audit log.
type AuditQuery = store.AuditQuery

// ModerationStore persists automod and the audit log
// (internal/store/together_moderation.go).
type ModerationStore interface {
	AutomodConfig(ctx context.Context, communityID string) (*AutomodConfig, error)
	SaveAutomodConfig(ctx context.Context, c *AutomodConfig) error
	Words(ctx context.Context, communityID string) ([]*WordFilter, error)
	AddWord(ctx context.Context, w *WordFilter) (*WordFilter, error)
	RemoveWord(ctx context.Context, communityID, word string) error
	AddAutomodLog(ctx context.Context, l *AutomodLog) error
	AutomodLogs(ctx context.Context, communityID string, limit int) ([]*AutomodLog, error)
	// CountRecent counts the author's live messages in a channel since a
	// time, only those with exactly body when body is not nil.
	CountRecent(ctx context.Context, channelID, authorID string, since time.Time, body *string) (int, error)
	AddAudit(ctx context.Context, l *AuditLog) error
	AuditLogs(ctx context.Context, communityID string, q AuditQuery) ([]*AuditLog, error)
}

func defaultAutomod(communityID string) *AutomodConfig {
	return &AutomodConfig{CommunityID: communityID, SpamMaxMessages: 5, SpamWindowSecs: 5, SpamAction: "delete",
		WordFilterAction: "delete", TimeoutMinutes: 10, UpdatedAt: time.Now().UTC()}
}

func (s *Surface) ownerOf(ctx context.Context, p *identity.Principal, r *http.Request, what string) (*community.Access, error) {
	if s.d.Moderation == nil {
		return nil, fault.New(fault.Unavailable, "Moderation is not available")
	}
	id, err := serverID(r)
	if err != nil {
		return nil, err
	}
	a, err := s.d.Community.Access(ctx, p.Account.ID, id)
	if err != nil {
		return nil, err
	}
	if !a.IsOwner {
		return nil, fault.New(fault.Forbidden, "Only the server owner can "+what)
	}
	return a, nil
}

func (s *Surface) getAutomod(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	a, err := s.ownerOf(r.Context(), p, r, "manage automod")
	if err != nil {
		s.fail(w, err)
		return
	}
	c, err := s.d.Moderation.AutomodConfig(r.Context(), a.Community.ID)
	if errors.Is(err, fault.NotFound) {
		err = fault.New(fault.NotFound, "no automod config")
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

var automodActions = map[string]bool{"delete": true, "timeout": true, "kick": true, "ban": true}

func (s *Surface) updateAutomod(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	a, err := s.ownerOf(ctx, p, r, "manage automod")
	if err != nil {
		s.fail(w, err)
		return
	}
	var in struct {
		Enabled           *bool   `json:"enabled"`
		SpamEnabled       *bool   `json:"spam_enabled"`
		SpamMaxMessages   *int    `json:"spam_max_messages"`
		SpamWindowSecs    *int    `json:"spam_window_secs"`
		SpamAction        *string `json:"spam_action"`
		DuplicateEnabled  *bool   `json:"duplicate_enabled"`
		WordFilterEnabled *bool   `json:"word_filter_enabled"`
		WordFilterAction  *string `json:"word_filter_action"`
		TimeoutMinutes    *int    `json:"timeout_minutes"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	switch {
	case in.SpamMaxMessages != nil && (*in.SpamMaxMessages < 1 || *in.SpamMaxMessages > 50):
		err = invalid("spam_max_messages must be between 1 and 50")
	case in.SpamWindowSecs != nil && (*in.SpamWindowSecs < 1 || *in.SpamWindowSecs > 60):
		err = invalid("spam_window_secs must be between 1 and 60")
	case in.TimeoutMinutes != nil && (*in.TimeoutMinutes < 1 || *in.TimeoutMinutes > 10080):
		err = invalid("timeout_minutes must be between 1 and 10080")
	case in.SpamAction != nil && !automodActions[*in.SpamAction]:
		err = invalid("spam_action must be delete, timeout, kick or ban")
	case in.WordFilterAction != nil && !automodActions[*in.WordFilterAction]:
		err = invalid("word_filter_action must be delete, timeout, kick or ban")
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	c, err := s.d.Moderation.AutomodConfig(ctx, a.Community.ID)
	if errors.Is(err, fault.NotFound) {
		c, err = defaultAutomod(a.Community.ID), nil
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	setB := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	setI := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	setS := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setB(&c.Enabled, in.Enabled)
	setB(&c.SpamEnabled, in.SpamEnabled)
	setI(&c.SpamMaxMessages, in.SpamMaxMessages)
	setI(&c.SpamWindowSecs, in.SpamWindowSecs)
	setS(&c.SpamAction, in.SpamAction)
	setB(&c.DuplicateEnabled, in.DuplicateEnabled)
	setB(&c.WordFilterEnabled, in.WordFilterEnabled)
	setS(&c.WordFilterAction, in.WordFilterAction)
	setI(&c.TimeoutMinutes, in.TimeoutMinutes)
	c.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
	if err := s.d.Moderation.SaveAutomodConfig(ctx, c); err != nil {
		s.fail(w, err)
		return
	}
	s.audit(r, a.Community.ID, p, "automod.update", "server", a.Community.ID, nil)
	writeJSON(w, http.StatusOK, c)
}

func (s *Surface) listWords(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	a, err := s.ownerOf(r.Context(), p, r, "manage automod")
	if err != nil {
		s.fail(w, err)
		return
	}
	ws, err := s.d.Moderation.Words(r.Context(), a.Community.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ws)
}

func (s *Surface) addWord(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	a, err := s.ownerOf(r.Context(), p, r, "manage automod")
	if err != nil {
		s.fail(w, err)
		return
	}
	var in struct {
		Word *string `json:"word"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	if in.Word == nil {
		writeError(w, http.StatusUnprocessableEntity, "word is required")
		return
	}
	word := strings.ToLower(strings.TrimSpace(*in.Word))
	if word == "" || utf8.RuneCountInString(word) > 100 {
		s.fail(w, invalid("word cannot be empty"))
		return
	}
	actor := p.Account.ID
	saved, err := s.d.Moderation.AddWord(r.Context(), &WordFilter{ID: uuid.Must(uuid.NewV7()).String(), CommunityID: a.Community.ID,
		Word: word, CreatedBy: &actor, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, saved)
}

func (s *Surface) removeWord(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	a, err := s.ownerOf(r.Context(), p, r, "manage automod")
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.d.Moderation.RemoveWord(r.Context(), a.Community.ID, strings.ToLower(r.PathValue("word"))); err != nil {
		s.fail(w, err)
		return
	}
	noContent(w)
}

func (s *Surface) automodLogs(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	a, err := s.ownerOf(r.Context(), p, r, "manage automod")
	if err != nil {
		s.fail(w, err)
		return
	}
	ls, err := s.d.Moderation.AutomodLogs(r.Context(), a.Community.ID, 100)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ls)
}

// automod checks a message about to be posted (word filter, duplicates)
// and returns Forbidden when it is blocked, after applying the action.
func (s *Surface) automod(ctx context.Context, ca *community.ChannelAccess, p *identity.Principal, content string) error {
	if s.d.Moderation == nil || ca.IsOwner {
		return nil
	}
	c, err := s.d.Moderation.AutomodConfig(ctx, ca.Community.ID)
	if errors.Is(err, fault.NotFound) || (err == nil && !c.Enabled) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.WordFilterEnabled {
		words, err := s.d.Moderation.Words(ctx, ca.Community.ID)
		if err != nil {
			return err
		}
		low := strings.ToLower(content)
		for _, wf := range words {
			if strings.Contains(low, wf.Word) {
				s.automodAct(ctx, ca, p, c, "word_filter", c.WordFilterAction, &wf.Word, content)
				return fault.New(fault.Forbidden, "Message blocked by word filter")
			}
		}
	}
	if c.DuplicateEnabled {
		n, err := s.d.Moderation.CountRecent(ctx, ca.Channel.ID, p.Account.ID, time.Now().Add(-30*time.Second), &content)
		if err != nil {
			return err
		}
		if n > 0 {
			s.automodAct(ctx, ca, p, c, "duplicate", "delete", nil, content)
			return fault.New(fault.Forbidden, "Duplicate message blocked")
		}
	}
	if c.SpamEnabled {
		n, err := s.d.Moderation.CountRecent(ctx, ca.Channel.ID, p.Account.ID, time.Now().Add(-time.Duration(c.SpamWindowSecs)*time.Second), nil)
		if err != nil {
			return err
		}
		if n >= c.SpamMaxMessages {
			s.automodAct(ctx, ca, p, c, "spam", c.SpamAction, nil, content)
			return fault.New(fault.Forbidden, "Slow down: message blocked as spam")
		}
	}
	return nil
}

func (s *Surface) automodAct(ctx context.Context, ca *community.ChannelAccess, p *identity.Principal, c *AutomodConfig, rule, action string, term *string, content string) {
	cid, uid, name := ca.Channel.ID, p.Account.ID, p.Account.Username
	l := &AutomodLog{ID: uuid.Must(uuid.NewV7()).String(), CommunityID: ca.Community.ID, ChannelID: &cid, UserID: &uid, Username: &name,
		RuleType: rule, ActionTaken: action, MatchedTerm: term, MessageContent: &content, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := s.d.Moderation.AddAutomodLog(ctx, l); err != nil {
		s.log.Warn("automod log", "err", err)
	}
	if action != "delete" {
		if err := s.d.Community.Enforce(ctx, ca.Community.ID, uid, action, time.Duration(c.TimeoutMinutes)*time.Minute, "automod: "+rule); err != nil {
			s.log.Warn("automod action", "action", action, "err", err)
		}
	}
	s.broadcastServer(ctx, ca.Community.ID, "AUTOMOD_ACTION", map[string]any{"server_id": ca.Community.ID, "channel_id": cid,
		"user_id": uid, "username": name, "rule_type": rule, "action_taken": action, "matched_term": term})
}

// audit records an administrative action; failures are logged, not fatal.
func (s *Surface) audit(r *http.Request, communityID string, p *identity.Principal, action, targetType, targetID string, details map[string]any) {
	if s.d.Moderation == nil {
		return
	}
	raw := []byte("{}")
	if details != nil {
		raw, _ = json.Marshal(details)
	}
	actor := p.Account.ID
	ip := ratelimit.ClientIP(r, s.d.TrustProxy)
	l := &AuditLog{ID: uuid.Must(uuid.NewV7()).String(), CommunityID: communityID, ActorID: &actor, Action: action,
		Details: raw, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if targetType != "" {
		l.TargetType = &targetType
	}
	if targetID != "" {
		l.TargetID = &targetID
	}
	if ip != "" {
		l.IPAddress = &ip
	}
	if err := s.d.Moderation.AddAudit(context.WithoutCancel(r.Context()), l); err != nil {
		s.log.Warn("audit log", "err", err)
	}
}

func (s *Surface) auditLogs(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	a, err := s.ownerOf(r.Context(), p, r, "view the audit log")
	if err != nil {
		s.fail(w, err)
		return
	}
	q := r.URL.Query()
	aq := AuditQuery{Action: q.Get("action"), ActorID: q.Get("actor_id"), TargetType: q.Get("target_type"), Limit: 50}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.fail(w, invalid("limit must be a number"))
			return
		}
		aq.Limit = min(max(n, 1), 100)
	}
	if v := q.Get("before"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			s.fail(w, invalid("before must be an RFC 3339 timestamp"))
			return
		}
		aq.Before = &t
	}
	ls, err := s.d.Moderation.AuditLogs(r.Context(), a.Community.ID, aq)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ls)
}
