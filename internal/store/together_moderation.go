package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
)

var _ community.ModerationStore = (*TogetherExtras)(nil)

const automodCols = `community_id, enabled, spam_enabled, spam_max_messages, spam_window_secs, spam_action, duplicate_enabled,
	word_filter_enabled, word_filter_action, timeout_minutes, updated_at`

// AutomodConfig returns a server's automod settings (NotFound when unset).
func (s *TogetherExtras) AutomodConfig(ctx context.Context, communityID string) (*community.AutomodConfig, error) {
	var c community.AutomodConfig
	var updated int64
	err := s.db.QueryRowContext(ctx, `SELECT `+automodCols+` FROM together_automod WHERE community_id=$1`, communityID).Scan(
		&c.CommunityID, &c.Enabled, &c.SpamEnabled, &c.SpamMaxMessages, &c.SpamWindowSecs, &c.SpamAction, &c.DuplicateEnabled,
		&c.WordFilterEnabled, &c.WordFilterAction, &c.TimeoutMinutes, &updated)
	if err != nil {
		return nil, noRows(err)
	}
	c.UpdatedAt = FromMicros(updated)
	return &c, nil
}

// SaveAutomodConfig upserts a server's automod settings.
func (s *TogetherExtras) SaveAutomodConfig(ctx context.Context, c *community.AutomodConfig) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO together_automod (`+automodCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
		ON CONFLICT (community_id) DO UPDATE SET enabled=excluded.enabled, spam_enabled=excluded.spam_enabled,
		spam_max_messages=excluded.spam_max_messages, spam_window_secs=excluded.spam_window_secs, spam_action=excluded.spam_action,
		duplicate_enabled=excluded.duplicate_enabled, word_filter_enabled=excluded.word_filter_enabled,
		word_filter_action=excluded.word_filter_action, timeout_minutes=excluded.timeout_minutes, updated_at=excluded.updated_at`,
		c.CommunityID, c.Enabled, c.SpamEnabled, c.SpamMaxMessages, c.SpamWindowSecs, c.SpamAction, c.DuplicateEnabled,
		c.WordFilterEnabled, c.WordFilterAction, c.TimeoutMinutes, Micros(c.UpdatedAt))
	return err
}

func scanWord(row scanner) (*community.WordFilter, error) {
	var w community.WordFilter
	var by sql.NullString
	var created int64
	if err := row.Scan(&w.ID, &w.CommunityID, &w.Word, &by, &created); err != nil {
		return nil, noRows(err)
	}
	w.CreatedBy, w.CreatedAt = strPtr(by), FromMicros(created)
	return &w, nil
}

// Words lists a server's filtered words, oldest first.
func (s *TogetherExtras) Words(ctx context.Context, communityID string) ([]*community.WordFilter, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, community_id, word, created_by, created_at FROM together_automod_words
		WHERE community_id=$1 ORDER BY created_at, id`, communityID)
	return collect(rows, err, scanWord)
}

// AddWord adds a word (idempotent) and returns the stored row;
// ErrTooManyWords when the community filters max others already.
func (s *TogetherExtras) AddWord(ctx context.Context, w *community.WordFilter, max int) (*community.WordFilter, error) {
	var out *community.WordFilter
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		find := func() (err error) {
			out, err = scanWord(tx.QueryRowContext(ctx, `SELECT id, community_id, word, created_by, created_at FROM together_automod_words
				WHERE community_id=$1 AND word=$2`, w.CommunityID, w.Word))
			return err
		}
		// The bound is read (and the community's row held) first, so a
		// word added beside this one is found; a word already there is
		// answered even at the bound.
		full := s.db.underBound(ctx, tx, "communities", w.CommunityID, `SELECT COUNT(*) FROM together_automod_words WHERE community_id=$1`,
			max, community.ErrTooManyWords)
		if full != nil && !errors.Is(full, community.ErrTooManyWords) {
			return full
		}
		if err := find(); !errors.Is(err, fault.NotFound) {
			return err // there already, or failed
		}
		if full != nil {
			return full
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO together_automod_words (id, community_id, word, created_by, created_at)
			VALUES ($1,$2,$3,$4,$5)`, w.ID, w.CommunityID, w.Word, nullString(w.CreatedBy), Micros(w.CreatedAt)); err != nil {
			return err
		}
		return find()
	})
	return out, err
}

// RemoveWord deletes a word; removing an absent word succeeds.
func (s *TogetherExtras) RemoveWord(ctx context.Context, communityID, word string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM together_automod_words WHERE community_id=$1 AND word=$2`, communityID, word)
	return err
}

// AddAutomodLog records an automod action.
func (s *TogetherExtras) AddAutomodLog(ctx context.Context, l *community.AutomodLog) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO together_automod_logs (id, community_id, channel_id, user_id, username, rule_type,
		action_taken, matched_term, message_content, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`, l.ID, l.CommunityID,
		nullString(l.ChannelID), nullString(l.UserID), nullString(l.Username), l.RuleType, l.ActionTaken, nullString(l.MatchedTerm),
		nullString(l.MessageContent), Micros(l.CreatedAt))
	return err
}

// AutomodLogs lists a server's automod actions, newest first.
func (s *TogetherExtras) AutomodLogs(ctx context.Context, communityID string, limit int) ([]*community.AutomodLog, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, community_id, channel_id, user_id, username, rule_type, action_taken, matched_term,
		message_content, created_at FROM together_automod_logs WHERE community_id=$1 ORDER BY created_at DESC LIMIT $2`, communityID, limit)
	return collect(rows, err, func(r scanner) (*community.AutomodLog, error) {
		var l community.AutomodLog
		var ch, uid, name, term, content sql.NullString
		var created int64
		if err := r.Scan(&l.ID, &l.CommunityID, &ch, &uid, &name, &l.RuleType, &l.ActionTaken, &term, &content, &created); err != nil {
			return nil, err
		}
		l.ChannelID, l.UserID, l.Username, l.MatchedTerm, l.MessageContent = strPtr(ch), strPtr(uid), strPtr(name), strPtr(term), strPtr(content)
		l.CreatedAt = FromMicros(created)
		return &l, nil
	})
}

// CountRecent counts an author's live messages in a channel since a time.
func (s *TogetherExtras) CountRecent(ctx context.Context, channelID, authorID string, since time.Time, body *string) (int, error) {
	q := `SELECT COUNT(*) FROM messages WHERE conversation_id=$1 AND author_id=$2 AND created_at > $3 AND NOT deleted`
	args := []any{channelID, authorID, Micros(since)}
	if body != nil {
		q += ` AND body = $4`
		args = append(args, *body)
	}
	var n int
	err := s.db.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

// AddAudit records an audit-log entry and, in the same transaction,
// deletes the community's entries older than its newest keep (entries of
// the same microsecond as the keep-th newest stay). The index on
// (community_id, created_at) answers the keep-th newest without reading
// the rows.
func (s *TogetherExtras) AddAudit(ctx context.Context, l *community.AuditLog, keep int) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO together_audit_logs (id, community_id, actor_id, action, target_type, target_id,
		details, ip_address, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`, l.ID, l.CommunityID, nullString(l.ActorID), l.Action,
			nullString(l.TargetType), nullString(l.TargetID), string(l.Details), nullString(l.IPAddress), Micros(l.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM together_audit_logs WHERE community_id=$1 AND created_at <
			(SELECT created_at FROM together_audit_logs WHERE community_id=$1 ORDER BY created_at DESC LIMIT 1 OFFSET $2)`,
			l.CommunityID, keep-1)
		return err
	})
}

// AuditLogs lists a server's audit log, newest first, filtered.
func (s *TogetherExtras) AuditLogs(ctx context.Context, communityID string, q community.AuditQuery) ([]*community.AuditLog, error) {
	var sb strings.Builder
	args := []any{communityID}
	sb.WriteString(`SELECT id, community_id, actor_id, action, target_type, target_id, details, ip_address, created_at
		FROM together_audit_logs WHERE community_id=$1`)
	add := func(cond string, v any) {
		args = append(args, v)
		sb.WriteString(" AND " + cond + "$" + itoa(len(args)))
	}
	if q.Action != "" {
		add("action=", q.Action)
	}
	if q.ActorID != "" {
		add("actor_id=", q.ActorID)
	}
	if q.TargetType != "" {
		add("target_type=", q.TargetType)
	}
	if q.Before != nil {
		add("created_at<", Micros(*q.Before))
	}
	args = append(args, q.Limit)
	sb.WriteString(" ORDER BY created_at DESC, id DESC LIMIT $" + itoa(len(args)))
	rows, err := s.db.QueryContext(ctx, sb.String(), args...)
	return collect(rows, err, func(r scanner) (*community.AuditLog, error) {
		var l community.AuditLog
		var actor, tt, tid, ip sql.NullString
		var details string
		var created int64
		if err := r.Scan(&l.ID, &l.CommunityID, &actor, &l.Action, &tt, &tid, &details, &ip, &created); err != nil {
			return nil, err
		}
		l.ActorID, l.TargetType, l.TargetID, l.IPAddress = strPtr(actor), strPtr(tt), strPtr(tid), strPtr(ip)
		l.Details, l.CreatedAt = []byte(details), FromMicros(created)
		return &l, nil
	})
}
