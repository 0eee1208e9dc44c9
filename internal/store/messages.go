package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/messages"
)

// Messages implements messages.Store.
type Messages struct{ db *DB }

// Messages returns the message store.
func (db *DB) Messages() *Messages { return &Messages{db: db} }

var _ messages.Store = (*Messages)(nil)

const messageCols = `id, conversation_id, conversation_kind, author_id, body, reply_to, thread_id, thread_reply_count,
	mention_user_ids, mention_everyone, hidden, deleted, pinned, pinned_by, pinned_at, meta, created_at, edited_at, hidden_at`

func scanMessage(row interface{ Scan(...any) error }, extra ...any) (*messages.Message, error) {
	var m messages.Message
	var author, replyTo, threadID, pinnedBy sql.NullString
	var pinnedAt, edited, hiddenAt sql.NullInt64
	var mentions string
	var created int64
	dst := []any{&m.ID, &m.ConversationID, &m.Kind, &author, &m.Body, &replyTo, &threadID, &m.ThreadReplyCount,
		&mentions, &m.MentionEveryone, &m.Hidden, &m.Deleted, &m.Pinned, &pinnedBy, &pinnedAt, &m.Meta, &created, &edited, &hiddenAt}
	if err := row.Scan(append(dst, extra...)...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fault.NotFound
		}
		return nil, err
	}
	m.AuthorID = strPtr(author)
	m.ReplyTo = strPtr(replyTo)
	m.ThreadID = strPtr(threadID)
	m.PinnedBy = strPtr(pinnedBy)
	m.PinnedAt = TimePtr(pinnedAt)
	m.EditedAt = TimePtr(edited)
	m.HiddenAt = TimePtr(hiddenAt)
	m.CreatedAt = FromMicros(created)
	m.MentionUserIDs = splitIDs(mentions)
	return &m, nil
}

func strPtr(n sql.NullString) *string {
	if !n.Valid {
		return nil
	}
	s := n.String
	return &s
}

// joinIDs stores a list of ids as ",a,b," so that LIKE '%,id,%' finds one.
func joinIDs(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return "," + strings.Join(ids, ",") + ","
}

func splitIDs(s string) []string {
	out := []string{}
	for _, p := range strings.Split(s, ",") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// InsertMessage stores m and bumps its thread root's reply count.
func (s *Messages) InsertMessage(ctx context.Context, m *messages.Message, searchText string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error { return s.insertMessage(ctx, tx, m, searchText) })
}

// InsertMessages stores ms (searchTexts[i] is ms[i]'s) in one transaction:
// all or none. Room chat is kept this way, a batch per commit.
func (s *Messages) InsertMessages(ctx context.Context, ms []*messages.Message, searchTexts []string) error {
	if len(ms) != len(searchTexts) {
		return fmt.Errorf("insert messages: %d messages, %d search texts", len(ms), len(searchTexts))
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		for i, m := range ms {
			if err := s.insertMessage(ctx, tx, m, searchTexts[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Messages) insertMessage(ctx context.Context, tx *sql.Tx, m *messages.Message, searchText string) error {
	_, err := s.db.txExec(ctx, tx, `INSERT INTO messages (id, conversation_id, conversation_kind, author_id, body,
		search_text, reply_to, thread_id, mention_user_ids, mention_everyone, hidden, meta, created_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`,
		m.ID, m.ConversationID, string(m.Kind), nullString(m.AuthorID), m.Body, searchText, nullString(m.ReplyTo),
		nullString(m.ThreadID), joinIDs(m.MentionUserIDs), m.MentionEveryone, m.Hidden, m.Meta, Micros(m.CreatedAt))
	if err != nil {
		return conflictOr(err)
	}
	if m.ThreadID != nil {
		_, err = s.db.txExec(ctx, tx, `UPDATE messages SET thread_reply_count = thread_reply_count + 1 WHERE id=$1`, *m.ThreadID)
	}
	return err
}

// Message returns one message.
func (s *Messages) Message(ctx context.Context, id string) (*messages.Message, error) {
	return scanMessage(s.db.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE id=$1`, id))
}

// ListMessages returns a page, newest first unless q.Oldest.
func (s *Messages) ListMessages(ctx context.Context, q messages.ListQuery) ([]*messages.Message, error) {
	var sb strings.Builder
	args := []any{}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + itoa(len(args))
	}
	sb.WriteString(`SELECT ` + messageCols + ` FROM messages WHERE `)
	if q.ThreadID != "" {
		sb.WriteString(`thread_id = ` + arg(q.ThreadID))
	} else {
		sb.WriteString(`conversation_id = ` + arg(q.ConversationID))
		if !q.WithThreads {
			sb.WriteString(` AND thread_id IS NULL`)
		}
	}
	sb.WriteString(` AND NOT deleted`)
	if !q.IncludeHidden {
		sb.WriteString(` AND NOT hidden`)
	}
	if q.Before != "" {
		sb.WriteString(` AND id < ` + arg(q.Before))
	}
	if q.After != "" {
		sb.WriteString(` AND id > ` + arg(q.After))
	}
	// Oldest-first pages taken from the newest end (a chat backlog) need
	// the newest rows, reversed; an After cursor or FromStart reads
	// forwards.
	desc := !(q.Oldest && (q.After != "" || q.FromStart))
	if desc {
		sb.WriteString(` ORDER BY id DESC`)
	} else {
		sb.WriteString(` ORDER BY id`)
	}
	sb.WriteString(` LIMIT ` + arg(q.Limit))
	out, err := s.query(ctx, sb.String(), args...)
	if err != nil {
		return nil, err
	}
	if q.Oldest && desc {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, nil
}

func itoa(n int) string { return strconv.Itoa(n) }

// qualify prefixes every column of a comma-separated list with a table.
func qualify(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = prefix + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

func (s *Messages) query(ctx context.Context, q string, args ...any) ([]*messages.Message, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*messages.Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// EditMessage replaces the body of a live message, and its mentions when
// mentions is not nil.
func (s *Messages) EditMessage(ctx context.Context, id, body, searchText string, at time.Time, mentions *messages.Mentions) error {
	q, args := `UPDATE messages SET body=$2, search_text=$3, edited_at=$4 WHERE id=$1 AND NOT deleted`, []any{id, body, searchText, Micros(at)}
	if mentions != nil {
		q = `UPDATE messages SET body=$2, search_text=$3, edited_at=$4, mention_user_ids=$5, mention_everyone=$6
			WHERE id=$1 AND NOT deleted`
		args = append(args, joinIDs(mentions.UserIDs), mentions.Everyone)
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return err
	}
	return expectOne(res)
}

// DeleteMessage soft-deletes a live message; its text leaves the index.
func (s *Messages) DeleteMessage(ctx context.Context, id string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		var thread sql.NullString
		err := tx.QueryRowContext(ctx, `UPDATE messages SET deleted=TRUE, search_text='' WHERE id=$1 AND NOT deleted
			RETURNING thread_id`, id).Scan(&thread)
		if errors.Is(err, sql.ErrNoRows) {
			return fault.NotFound
		}
		if err != nil {
			return err
		}
		if thread.Valid {
			_, err = s.db.txExec(ctx, tx, `UPDATE messages SET thread_reply_count = thread_reply_count - 1
				WHERE id=$1 AND thread_reply_count > 0`, thread.String)
		}
		return err
	})
}

// SetHidden sets the hidden flag of the messages among ids that are in
// conversationID, and when it hides one its hiding time at, and returns
// the ids that changed.
func (s *Messages) SetHidden(ctx context.Context, conversationID string, ids []string, hidden bool, at time.Time) ([]string, error) {
	changed := []string{}
	var hiddenAt any // NULL while shown
	if hidden {
		hiddenAt = Micros(at)
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, `UPDATE messages SET hidden=$2, hidden_at=$4 WHERE id=$1 AND hidden<>$2 AND conversation_id=$3`,
				id, hidden, conversationID, hiddenAt)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				changed = append(changed, id)
			}
		}
		return nil
	})
	return changed, err
}

// SetPinned pins or unpins a live message. A pin of a message not yet
// pinned is refused with messages.ErrTooManyPins when its conversation
// already holds max pinned messages (PostgreSQL takes a lock on the
// conversation first, so concurrent pins cannot pass the bound together).
func (s *Messages) SetPinned(ctx context.Context, id string, pinned bool, by *string, at time.Time, max int) error {
	if !pinned {
		res, err := s.db.ExecContext(ctx, `UPDATE messages SET pinned=FALSE, pinned_by=NULL, pinned_at=NULL WHERE id=$1 AND NOT deleted`, id)
		if err != nil {
			return err
		}
		return expectOne(res)
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		var conv string
		var was bool
		err := tx.QueryRowContext(ctx, `SELECT conversation_id, pinned FROM messages WHERE id=$1 AND NOT deleted`, id).Scan(&conv, &was)
		if errors.Is(err, sql.ErrNoRows) {
			return fault.NotFound
		}
		if err != nil {
			return err
		}
		if !was {
			if s.db.Engine == Postgres {
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('pins:' || $1))`, conv); err != nil {
					return err
				}
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages WHERE conversation_id=$1 AND pinned AND NOT deleted`, conv).Scan(&n); err != nil {
				return err
			}
			if n >= max {
				return messages.ErrTooManyPins
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE messages SET pinned=TRUE, pinned_by=$2, pinned_at=$3 WHERE id=$1`,
			id, nullString(by), sql.NullInt64{Int64: Micros(at), Valid: true})
		return err
	})
}

// PinnedMessages lists pinned live messages, most recently pinned first.
func (s *Messages) PinnedMessages(ctx context.Context, conversationID string) ([]*messages.Message, error) {
	return s.query(ctx, `SELECT `+messageCols+` FROM messages WHERE conversation_id=$1 AND pinned AND NOT deleted
		ORDER BY pinned_at DESC, id DESC`, conversationID)
}

// AddReaction records a reaction; false when it already existed, and
// messages.ErrReactionKinds when its emoji would be the message's
// maxKinds+1th different one.
func (s *Messages) AddReaction(ctx context.Context, messageID, accountID, emoji string, at time.Time, maxKinds int) (bool, error) {
	const add = `INSERT INTO message_reactions (message_id, account_id, emoji, created_at)
		SELECT $1,$2,$3,$4 WHERE EXISTS (SELECT 1 FROM message_reactions WHERE message_id=$1 AND emoji=$3)
			OR (SELECT COUNT(DISTINCT emoji) FROM message_reactions WHERE message_id=$1) < $5
		ON CONFLICT DO NOTHING`
	var n int64
	if s.db.Engine == Postgres {
		// SQLite runs one writer at a time, so the count above is exact;
		// PostgreSQL's concurrent inserts would each see the count before
		// the others (40 at once left 30 kinds): hold the message's row.
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			if err := s.db.lockRow(ctx, tx, "messages", messageID); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, add, messageID, accountID, emoji, Micros(at), maxKinds)
			if err == nil {
				n, err = res.RowsAffected()
			}
			return err
		})
		if err != nil {
			return false, err
		}
	} else {
		// Not in a transaction on SQLite: a deferred one that reads first
		// meets SQLITE_BUSY when it upgrades to write beside another
		// writer, where this one statement takes the write lock at once.
		res, err := s.db.ExecContext(ctx, add, messageID, accountID, emoji, Micros(at), maxKinds)
		if err == nil {
			n, err = res.RowsAffected()
		}
		if err != nil {
			return false, err
		}
	}
	if n > 0 {
		return true, nil
	}
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM message_reactions WHERE message_id=$1 AND account_id=$2 AND emoji=$3`,
		messageID, accountID, emoji).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, messages.ErrReactionKinds
	}
	return false, err
}

// RemoveReaction deletes a reaction; false when there was none.
func (s *Messages) RemoveReaction(ctx context.Context, messageID, accountID, emoji string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM message_reactions WHERE message_id=$1 AND account_id=$2 AND emoji=$3`,
		messageID, accountID, emoji)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Reactions counts each emoji on a message, in order of first use.
func (s *Messages) Reactions(ctx context.Context, messageID, viewerID string) ([]messages.ReactionCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT emoji, COUNT(*), COALESCE(MAX(CASE WHEN account_id=$2 THEN 1 ELSE 0 END), 0), MIN(created_at)
		FROM message_reactions WHERE message_id=$1 GROUP BY emoji ORDER BY MIN(created_at), emoji`, messageID, viewerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []messages.ReactionCount{}
	for rows.Next() {
		var rc messages.ReactionCount
		var me int
		var first int64
		if err := rows.Scan(&rc.Emoji, &rc.Count, &me, &first); err != nil {
			return nil, err
		}
		rc.Me = me == 1
		out = append(out, rc)
	}
	return out, rows.Err()
}

// Search runs a full-text query: FTS5 on SQLite, tsvector on PostgreSQL,
// both over the folded text. Results are newest first.
func (s *Messages) Search(ctx context.Context, q messages.SearchQuery, terms []string) ([]*messages.Message, []float64, int, error) {
	countSQL, pageSQL, args := searchSQL(s.db.Engine, q, terms)
	var total int
	if err := s.db.QueryRowContext(ctx, countSQL, args[:len(args)-searchPageArgs(q)]...).Scan(&total); err != nil {
		return nil, nil, 0, err
	}
	rows, err := s.db.QueryContext(ctx, pageSQL, args...)
	if err != nil {
		return nil, nil, 0, err
	}
	defer rows.Close()
	var out []*messages.Message
	var ranks []float64
	for rows.Next() {
		var r float64
		m, err := scanMessage(rows, &r)
		if err != nil {
			return nil, nil, 0, err
		}
		out = append(out, m)
		ranks = append(ranks, r)
	}
	return out, ranks, total, rows.Err()
}

// MarkRead upserts the read marker.
func (s *Messages) MarkRead(ctx context.Context, accountID, conversationID string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO read_states (account_id, conversation_id, last_read_at) VALUES ($1,$2,$3)
		ON CONFLICT (account_id, conversation_id) DO UPDATE SET last_read_at = excluded.last_read_at`,
		accountID, conversationID, Micros(at))
	return err
}

// Unread counts, per conversation, messages by others after the read marker
// (all of them when there is none) and those mentioning accountID.
func (s *Messages) Unread(ctx context.Context, accountID string, conversationIDs []string) ([]messages.Unread, error) {
	out := []messages.Unread{}
	// unreadChunk conversations a query, the last chunk padded with its
	// last id (IN is a set: a repeat counts nothing twice): one SQL text
	// however many conversations READY asks about (a text per length
	// filled SQLite's statement cache), and never past an engine's limit
	// on bound parameters (SQLite's 32,766 refused READY for an account
	// whose servers held that many channels).
	for start := 0; start < len(conversationIDs); start += unreadChunk {
		chunk := conversationIDs[start:min(start+unreadChunk, len(conversationIDs))]
		args := make([]any, 0, 2+unreadChunk)
		args = append(args, accountID, "%,"+accountID+",%")
		for i := range unreadChunk {
			args = append(args, chunk[min(i, len(chunk)-1)])
		}
		rows, err := s.db.QueryContext(ctx, unreadSQL, args...)
		if err := eachRow(rows, err, func(r scanner) error {
			var u messages.Unread
			if err := r.Scan(&u.ConversationID, &u.Unread, &u.Mentions); err != nil {
				return err
			}
			out = append(out, u)
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// unreadChunk is how many conversations one Unread query counts.
const unreadChunk = 100

// unreadSQL counts a chunk's unread messages and mentions: $1 the account,
// $2 its mention pattern, $3… the chunk's conversations.
var unreadSQL = func() string {
	in := make([]string, unreadChunk)
	for i := range in {
		in[i] = "$" + itoa(i+3)
	}
	return `SELECT m.conversation_id, COUNT(*),
		SUM(CASE WHEN m.mention_everyone OR m.mention_user_ids LIKE $2 THEN 1 ELSE 0 END)
		FROM messages m LEFT JOIN read_states r ON r.account_id = $1 AND r.conversation_id = m.conversation_id
		WHERE m.conversation_id IN (` + strings.Join(in, ",") + `) AND NOT m.deleted AND NOT m.hidden
		AND m.thread_id IS NULL AND (m.author_id IS NULL OR m.author_id <> $1)
		AND (r.last_read_at IS NULL OR m.created_at > r.last_read_at)
		GROUP BY m.conversation_id`
}()

// DeleteConversation removes a conversation's messages and read markers.
func (s *Messages) DeleteConversation(ctx context.Context, conversationID string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE conversation_id=$1`, conversationID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM read_states WHERE conversation_id=$1`, conversationID)
		return err
	})
}

// searchPageArgs is how many of searchSQL's arguments only the page query
// takes (the cursor and the limit, last).
func searchPageArgs(q messages.SearchQuery) int {
	if q.Before != "" {
		return 2
	}
	return 1
}

// searchSQL builds Search's count and page queries; the count query takes
// the arguments but the last searchPageArgs.
func searchSQL(engine Engine, q messages.SearchQuery, terms []string) (countSQL, pageSQL string, args []any) {
	arg := func(v any) string {
		args = append(args, v)
		return "$" + itoa(len(args))
	}
	var match, rank, from string
	if engine == SQLite {
		quoted := make([]string, len(terms))
		for i, t := range terms {
			quoted[i] = `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
		}
		from = `messages JOIN messages_fts ON messages_fts.rowid = messages.seq`
		match = `messages_fts MATCH ` + arg(strings.Join(quoted, " "))
		rank = `-bm25(messages_fts)`
	} else {
		from = `messages`
		tq := `plainto_tsquery('simple', ` + arg(strings.Join(terms, " ")) + `)`
		match = `search_tsv @@ ` + tq
		rank = `ts_rank_cd(search_tsv, ` + tq + `)`
	}
	in := make([]string, len(q.ConversationIDs))
	for i, c := range q.ConversationIDs {
		in[i] = arg(c)
	}
	where := match + ` AND messages.conversation_id IN (` + strings.Join(in, ",") + `) AND NOT messages.deleted AND NOT messages.hidden`
	countSQL = `SELECT COUNT(*) FROM ` + from + ` WHERE ` + where
	order := `messages.id DESC`
	if engine == SQLite {
		// The full-text index drives, newest row first, and the page stops
		// at its limit: ordering by id made SQLite rank (bm25) and sort
		// every match before taking the page, 1.5 s for a word in each of
		// 131,000 messages against 20 ms this way. Row order is insert
		// order, as id order is (UUIDv7); the cursor is an id, so a page
		// starts below the row of the first id at or above it.
		from = `messages_fts CROSS JOIN messages ON messages.seq = messages_fts.rowid`
		order = `messages_fts.rowid DESC`
		if q.Before != "" {
			where += ` AND messages_fts.rowid < COALESCE((SELECT seq FROM messages WHERE id >= ` + arg(q.Before) +
				` ORDER BY id LIMIT 1), 9223372036854775807)`
		}
	} else if q.Before != "" {
		where += ` AND messages.id < ` + arg(q.Before)
	}
	pageSQL = `SELECT ` + qualify("messages.", messageCols) + `, ` + rank + ` FROM ` + from + ` WHERE ` + where +
		` ORDER BY ` + order + ` LIMIT ` + arg(q.Limit)
	return countSQL, pageSQL, args
}
