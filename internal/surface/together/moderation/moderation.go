// Package moderation serves Together's server moderation settings and
// logs: automod settings and the word filter (/servers/{id}/automod…) and
// the audit log (/servers/{id}/audit-logs). The rules (who may, what the
// filter does to a message) are community's; this package words them.
package moderation

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/surface/together/rest"
)

// API serves the routes.
type API struct{ *rest.Base }

// New builds the routes on b.
func New(b *rest.Base) *API { return &API{Base: b} }

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

func (s *API) Automod(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := rest.ServerID(r)
	if err != nil {
		s.Fail(w, err)
		return
	}
	c, err := s.Community.Automod(r.Context(), p.Account.ID, id)
	if err != nil {
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusOK, automodDTO(*c))
}

func (s *API) UpdateAutomod(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := rest.ServerID(r)
	if err != nil {
		s.Fail(w, err)
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
	if err := s.Community.CanModerate(r.Context(), p.Account.ID, id, "manage automod"); err != nil {
		s.Fail(w, err)
		return
	}
	if err := rest.Decode(r, &in, false); err != nil {
		s.Bad(w, err)
		return
	}
	c, err := s.Community.UpdateAutomod(r.Context(), p.Account.ID, id, community.AutomodPatch{Enabled: in.Enabled,
		SpamEnabled: in.SpamEnabled, DuplicateEnabled: in.DuplicateEnabled, WordFilterEnabled: in.WordFilterEnabled,
		SpamMaxMessages: in.SpamMaxMessages, SpamWindowSecs: in.SpamWindowSecs, TimeoutMinutes: in.TimeoutMinutes,
		SpamAction: in.SpamAction, WordFilterAction: in.WordFilterAction})
	if err != nil {
		s.Fail(w, err)
		return
	}
	s.Audit(r, id, p, "automod_update", "server", id, nil)
	rest.WriteJSON(w, http.StatusOK, automodDTO(*c))
}

func (s *API) Words(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := rest.ServerID(r)
	if err != nil {
		s.Fail(w, err)
		return
	}
	ws, err := s.Community.Words(r.Context(), p.Account.ID, id)
	if err != nil {
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusOK, rest.MapAll(ws, toWord))
}

func (s *API) AddWord(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := rest.ServerID(r)
	if err != nil {
		s.Fail(w, err)
		return
	}
	if err := s.Community.CanModerate(r.Context(), p.Account.ID, id, "manage automod"); err != nil {
		s.Fail(w, err)
		return
	}
	var in struct {
		Word *string `json:"word"`
	}
	if err := rest.Decode(r, &in, false); err != nil {
		s.Bad(w, err)
		return
	}
	if in.Word == nil {
		rest.WriteError(w, http.StatusUnprocessableEntity, "word is required")
		return
	}
	saved, err := s.Community.AddWord(r.Context(), p.Account.ID, id, *in.Word)
	if err != nil {
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusCreated, toWord(saved))
}

func (s *API) RemoveWord(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := rest.ServerID(r)
	if err != nil {
		s.Fail(w, err)
		return
	}
	if err := s.Community.RemoveWord(r.Context(), p.Account.ID, id, r.PathValue("word")); err != nil {
		s.Fail(w, err)
		return
	}
	rest.NoContent(w)
}

func (s *API) AutomodLogs(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := rest.ServerID(r)
	if err != nil {
		s.Fail(w, err)
		return
	}
	ls, err := s.Community.AutomodLogs(r.Context(), p.Account.ID, id)
	if err != nil {
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusOK, rest.MapAll(ls, toAutomodLog))
}

func (s *API) AuditLogs(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := rest.ServerID(r)
	if err != nil {
		s.Fail(w, err)
		return
	}
	if err := s.Community.CanModerate(r.Context(), p.Account.ID, id, "view the audit log"); err != nil {
		s.Fail(w, err)
		return
	}
	q := r.URL.Query()
	aq := community.AuditQuery{Action: q.Get("action"), ActorID: q.Get("actor_id"), TargetType: q.Get("target_type"), Limit: 50}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.Fail(w, rest.Invalid("limit must be a number"))
			return
		}
		aq.Limit = min(max(n, 1), 100)
	}
	if v := q.Get("before"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			s.Fail(w, rest.Invalid("before must be an RFC 3339 timestamp"))
			return
		}
		aq.Before = &t
	}
	ls, err := s.Community.AuditLogs(r.Context(), p.Account.ID, id, aq)
	if err != nil {
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusOK, rest.MapAll(ls, toAudit))
}
