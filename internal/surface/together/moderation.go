package together

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/ratelimit"
)

// automodDTO is a server's automod settings on the wire.
type automodDTO struct {
	CommunityID       string    `json:"server_id"`
	Enabled           bool      `json:"enabled"`
	SpamEnabled       bool      `json:"spam_enabled"`
	SpamMaxMessages   int       `json:"spam_max_messages"`
	SpamWindowSecs    int       `json:"spam_window_secs"`
	SpamAction        string    `json:"spam_action"`
	DuplicateEnabled  bool      `json:"duplicate_enabled"`
	WordFilterEnabled bool      `json:"word_filter_enabled"`
	WordFilterAction  string    `json:"word_filter_action"`
	TimeoutMinutes    int       `json:"timeout_minutes"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// wordDTO is one filtered word.
type wordDTO struct {
	ID          string    `json:"id"`
	CommunityID string    `json:"server_id"`
	Word        string    `json:"word"`
	CreatedBy   *string   `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
}

// automodLogDTO is one automod action.
type automodLogDTO struct {
	ID             string    `json:"id"`
	CommunityID    string    `json:"server_id"`
	ChannelID      *string   `json:"channel_id"`
	UserID         *string   `json:"user_id"`
	Username       *string   `json:"username"`
	RuleType       string    `json:"rule_type"`
	ActionTaken    string    `json:"action_taken"`
	MatchedTerm    *string   `json:"matched_term"`
	MessageContent *string   `json:"message_content"`
	CreatedAt      time.Time `json:"created_at"`
}

// auditDTO is one audit-log entry.
type auditDTO struct {
	ID          string          `json:"id"`
	CommunityID string          `json:"server_id"`
	ActorID     *string         `json:"actor_id"`
	Action      string          `json:"action"`
	TargetType  *string         `json:"target_type"`
	TargetID    *string         `json:"target_id"`
	Details     json.RawMessage `json:"details"`
	IPAddress   *string         `json:"ip_address"`
	CreatedAt   time.Time       `json:"created_at"`
}

func toWord(w *community.WordFilter) wordDTO             { return wordDTO(*w) }
func toAutomodLog(l *community.AutomodLog) automodLogDTO { return automodLogDTO(*l) }
func toAudit(l *community.AuditLog) auditDTO             { return auditDTO(*l) }

func (s *Surface) getAutomod(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := serverID(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	c, err := s.d.Community.Automod(r.Context(), p.Account.ID, id)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, automodDTO(*c))
}

func (s *Surface) updateAutomod(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := serverID(r)
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
	if err := s.d.Community.CanModerate(r.Context(), p.Account.ID, id, "manage automod"); err != nil {
		s.fail(w, err)
		return
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	c, err := s.d.Community.UpdateAutomod(r.Context(), p.Account.ID, id, community.AutomodPatch{Enabled: in.Enabled,
		SpamEnabled: in.SpamEnabled, DuplicateEnabled: in.DuplicateEnabled, WordFilterEnabled: in.WordFilterEnabled,
		SpamMaxMessages: in.SpamMaxMessages, SpamWindowSecs: in.SpamWindowSecs, TimeoutMinutes: in.TimeoutMinutes,
		SpamAction: in.SpamAction, WordFilterAction: in.WordFilterAction})
	if err != nil {
		s.fail(w, err)
		return
	}
	s.audit(r, id, p, "automod.update", "server", id, nil)
	writeJSON(w, http.StatusOK, automodDTO(*c))
}

func (s *Surface) listWords(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := serverID(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	ws, err := s.d.Community.Words(r.Context(), p.Account.ID, id)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, mapAll(ws, toWord))
}

func (s *Surface) addWord(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := serverID(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.d.Community.CanModerate(r.Context(), p.Account.ID, id, "manage automod"); err != nil {
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
	saved, err := s.d.Community.AddWord(r.Context(), p.Account.ID, id, *in.Word)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, toWord(saved))
}

func (s *Surface) removeWord(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := serverID(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.d.Community.RemoveWord(r.Context(), p.Account.ID, id, r.PathValue("word")); err != nil {
		s.fail(w, err)
		return
	}
	noContent(w)
}

func (s *Surface) automodLogs(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := serverID(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	ls, err := s.d.Community.AutomodLogs(r.Context(), p.Account.ID, id)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, mapAll(ls, toAutomodLog))
}

// audit records an administrative action; failures are logged, not fatal.
func (s *Surface) audit(r *http.Request, communityID string, p *identity.Principal, action, targetType, targetID string, details map[string]any) {
	raw := []byte("{}")
	if details != nil {
		raw, _ = json.Marshal(details)
	}
	actor := p.Account.ID
	ip := ratelimit.ClientIP(r, s.d.TrustProxy)
	l := &community.AuditLog{CommunityID: communityID, ActorID: &actor, Action: action, Details: raw}
	if targetType != "" {
		l.TargetType = &targetType
	}
	if targetID != "" {
		l.TargetID = &targetID
	}
	if ip != "" {
		l.IPAddress = &ip
	}
	if err := s.d.Community.Audit(context.WithoutCancel(r.Context()), l); err != nil {
		s.log.Warn("audit log", "err", err)
	}
}

func (s *Surface) auditLogs(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := serverID(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.d.Community.CanModerate(r.Context(), p.Account.ID, id, "view the audit log"); err != nil {
		s.fail(w, err)
		return
	}
	q := r.URL.Query()
	aq := community.AuditQuery{Action: q.Get("action"), ActorID: q.Get("actor_id"), TargetType: q.Get("target_type"), Limit: 50}
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
	ls, err := s.d.Community.AuditLogs(r.Context(), p.Account.ID, id, aq)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, mapAll(ls, toAudit))
}
