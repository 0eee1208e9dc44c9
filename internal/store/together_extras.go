package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
)

// TogetherExtras implements the Together surface's ExtrasStore (checked where it is wired).
type TogetherExtras struct{ db *DB }

// TogetherExtras returns the store of Together's attachments, emoji, polls and events.
func (db *DB) TogetherExtras() *TogetherExtras { return &TogetherExtras{db: db} }

func nullInt(p *int) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*p), Valid: true}
}

func intPtr(n sql.NullInt64) *int {
	if !n.Valid {
		return nil
	}
	v := int(n.Int64)
	return &v
}

// ErrOverQuota refuses an upload that would take its uploader's kept
// attachments and custom emoji past the quota the caller gave.
var ErrOverQuota = errors.New("store: upload quota used up")

// withinQuota holds accountID's row (lockRow) and answers ErrOverQuota
// when what the account keeps already (UploadedBytes) and add more would
// pass quota (quota <= 0: none). Held in the transaction that inserts,
// the sum stays true until it commits, so uploads finishing side by side
// cannot each pass the quota with the others' bytes unseen. Accounts are
// the last rows an upload locks (after its message or community).
func (s *TogetherExtras) withinQuota(ctx context.Context, tx *sql.Tx, accountID string, add, quota int64) error {
	if quota <= 0 {
		return nil
	}
	if err := s.db.lockRow(ctx, tx, "accounts", accountID); err != nil {
		return err
	}
	var used int64
	if err := tx.QueryRowContext(ctx, uploadedBytes, accountID).Scan(&used); err != nil {
		return err
	}
	if used+add > quota {
		return ErrOverQuota
	}
	return nil
}

// AddAttachments inserts as unless the message would then hold more than
// max (Invalid), or their uploader's kept uploads would pass quota bytes
// (ErrOverQuota; quota <= 0: none). as share one message and one uploader.
func (s *TogetherExtras) AddAttachments(ctx context.Context, as []*Attachment, max int, quota int64) error {
	if len(as) == 0 {
		return nil
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.db.lockRow(ctx, tx, "messages", as[0].MessageID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM together_attachments WHERE message_id=$1`, as[0].MessageID).Scan(&n); err != nil {
			return err
		}
		if n+len(as) > max {
			return fault.Newf(fault.Invalid, "A message can have at most %d attachments", max)
		}
		var size int64
		for _, a := range as {
			size += a.FileSize
		}
		if err := s.withinQuota(ctx, tx, as[0].UploaderID, size, quota); err != nil {
			return err
		}
		for _, a := range as {
			if _, err := tx.ExecContext(ctx, `INSERT INTO together_attachments (`+attachmentCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
				a.ID, a.MessageID, a.UploaderID, a.Filename, a.StoredName, a.FileSize, a.MimeType, nullInt(a.Width), nullInt(a.Height),
				Micros(a.CreatedAt), a.NodeID); err != nil {
				return err
			}
		}
		return nil
	})
}

const attachmentCols = `id, message_id, uploader_id, filename, stored_name, file_size, mime_type, width, height, created_at, node_id`

func scanAttachment(row scanner) (*Attachment, error) {
	var a Attachment
	var w, h sql.NullInt64
	var created int64
	if err := row.Scan(&a.ID, &a.MessageID, &a.UploaderID, &a.Filename, &a.StoredName, &a.FileSize, &a.MimeType, &w, &h, &created, &a.NodeID); err != nil {
		return nil, noRows(err)
	}
	a.Width, a.Height, a.CreatedAt = intPtr(w), intPtr(h), FromMicros(created)
	return &a, nil
}

// Attachments lists a message's attachments in upload order.
func (s *TogetherExtras) Attachments(ctx context.Context, messageID string) ([]*Attachment, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+attachmentCols+` FROM together_attachments WHERE message_id=$1 ORDER BY created_at, id`, messageID)
	return collect(rows, err, scanAttachment)
}

// Attachment finds one attachment of a message that is not deleted, by
// its stored name.
func (s *TogetherExtras) Attachment(ctx context.Context, messageID, storedName string) (*Attachment, error) {
	return scanAttachment(s.db.QueryRowContext(ctx, `SELECT `+attachmentCols+` FROM together_attachments
		WHERE message_id=$1 AND stored_name=$2 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id=$1 AND m.deleted)`,
		messageID, storedName))
}

const uploadedBytes = `SELECT (SELECT COALESCE(SUM(file_size), 0) FROM together_attachments WHERE uploader_id=$1)
	+ (SELECT COALESCE(SUM(file_size), 0) FROM together_emojis WHERE created_by=$1)`

// UploadedBytes is the size of every attachment and custom emoji an
// account uploaded that is still kept.
func (s *TogetherExtras) UploadedBytes(ctx context.Context, accountID string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, uploadedBytes, accountID).Scan(&n)
	return n, err
}

// InstanceTotals counts the instance's channels, its Together messages
// (channel and DM, deleted ones too, as Together counts its table) and the
// bytes of kept attachments and custom emoji, for /admin/stats.
func (s *TogetherExtras) InstanceTotals(ctx context.Context) (channels, msgs, storageBytes int64, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM channels),
		(SELECT COUNT(*) FROM messages WHERE conversation_kind IN ('channel', 'dm')),
		(SELECT COALESCE(SUM(file_size), 0) FROM together_attachments) + (SELECT COALESCE(SUM(file_size), 0) FROM together_emojis)`).
		Scan(&channels, &msgs, &storageBytes)
	return channels, msgs, storageBytes, err
}

// DropAttachments removes a message's attachment rows and returns them
// (their files are the caller's to remove).
func (s *TogetherExtras) DropAttachments(ctx context.Context, messageID string) ([]*Attachment, error) {
	rows, err := s.db.QueryContext(ctx, `DELETE FROM together_attachments WHERE message_id=$1 RETURNING `+attachmentCols, messageID)
	return collect(rows, err, scanAttachment)
}

// DropDeletedAttachments removes up to n attachment rows of deleted
// messages and returns them.
func (s *TogetherExtras) DropDeletedAttachments(ctx context.Context, n int) ([]*Attachment, error) {
	rows, err := s.db.QueryContext(ctx, `DELETE FROM together_attachments WHERE id IN (SELECT a.id FROM together_attachments a
		JOIN messages m ON m.id = a.message_id WHERE m.deleted LIMIT $1) RETURNING `+attachmentCols, n)
	return collect(rows, err, scanAttachment)
}

const emojiCols = `id, community_id, created_by, name, content_type, file_size, created_at, node_id`

func scanEmoji(row scanner) (*Emoji, error) {
	var e Emoji
	var created int64
	if err := row.Scan(&e.ID, &e.CommunityID, &e.CreatedBy, &e.Name, &e.ContentType, &e.FileSize, &created, &e.NodeID); err != nil {
		return nil, noRows(err)
	}
	e.CreatedAt = FromMicros(created)
	return &e, nil
}

// CreateEmoji inserts an emoji; Conflict when the name is taken, Invalid
// when the community already has max, ErrOverQuota when its creator's kept
// uploads would pass quota bytes (quota <= 0: none).
func (s *TogetherExtras) CreateEmoji(ctx context.Context, e *Emoji, max int, quota int64) error {
	return conflictOr(s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.db.underBound(ctx, tx, "communities", e.CommunityID, `SELECT COUNT(*) FROM together_emojis WHERE community_id=$1`, max,
			fault.Newf(fault.Invalid, "Servers may not have more than %d custom emojis", max)); err != nil {
			return err
		}
		if err := s.withinQuota(ctx, tx, e.CreatedBy, e.FileSize, quota); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO together_emojis (`+emojiCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
			e.ID, e.CommunityID, e.CreatedBy, e.Name, e.ContentType, e.FileSize, Micros(e.CreatedAt), e.NodeID)
		return err
	}))
}

// Emojis lists a community's emoji by name.
func (s *TogetherExtras) Emojis(ctx context.Context, communityID string) ([]*Emoji, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+emojiCols+` FROM together_emojis WHERE community_id=$1 ORDER BY name`, communityID)
	return collect(rows, err, scanEmoji)
}

// Emoji returns one emoji.
func (s *TogetherExtras) Emoji(ctx context.Context, id string) (*Emoji, error) {
	return scanEmoji(s.db.QueryRowContext(ctx, `SELECT `+emojiCols+` FROM together_emojis WHERE id=$1`, id))
}

// DeleteEmoji removes an emoji of a community.
func (s *TogetherExtras) DeleteEmoji(ctx context.Context, communityID, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM together_emojis WHERE community_id=$1 AND id=$2`, communityID, id)
	if err != nil {
		return err
	}
	return expectOne(res)
}

// CreatePoll inserts a poll.
func (s *TogetherExtras) CreatePoll(ctx context.Context, p *Poll) error {
	opts, err := json.Marshal(p.Options)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO together_polls (id, message_id, channel_id, question, options, created_at)
		VALUES ($1,$2,$3,$4,$5,$6)`, p.ID, p.MessageID, p.ChannelID, p.Question, string(opts), Micros(p.CreatedAt))
	return err
}

const pollCols = `id, message_id, channel_id, question, options, created_at`

func scanPoll(row scanner) (*Poll, error) {
	var p Poll
	var opts string
	var created int64
	if err := row.Scan(&p.ID, &p.MessageID, &p.ChannelID, &p.Question, &opts, &created); err != nil {
		return nil, noRows(err)
	}
	if err := json.Unmarshal([]byte(opts), &p.Options); err != nil {
		return nil, err
	}
	p.CreatedAt = FromMicros(created)
	return &p, nil
}

// Poll returns one poll.
func (s *TogetherExtras) Poll(ctx context.Context, id string) (*Poll, error) {
	return scanPoll(s.db.QueryRowContext(ctx, `SELECT `+pollCols+` FROM together_polls WHERE id=$1`, id))
}

func placeholders(start, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = "$" + itoa(start+i)
	}
	return strings.Join(ps, ",")
}

func anys(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// PollsOf maps message ids to their polls.
func (s *TogetherExtras) PollsOf(ctx context.Context, messageIDs []string) (map[string]*Poll, error) {
	out := map[string]*Poll{}
	if len(messageIDs) == 0 {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+pollCols+` FROM together_polls WHERE message_id IN (`+placeholders(1, len(messageIDs))+`)`, anys(messageIDs)...)
	ps, err := collect(rows, err, scanPoll)
	for _, p := range ps {
		out[p.MessageID] = p
	}
	return out, err
}

// Vote records (or replaces) accountID's vote.
func (s *TogetherExtras) Vote(ctx context.Context, pollID, accountID, optionID string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO together_poll_votes (poll_id, account_id, option_id) VALUES ($1,$2,$3)
		ON CONFLICT (poll_id, account_id) DO UPDATE SET option_id = excluded.option_id`, pollID, accountID, optionID)
	return err
}

// Votes counts votes per option and returns accountID's choice.
func (s *TogetherExtras) Votes(ctx context.Context, pollID, accountID string) (map[string]int, string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT option_id, account_id FROM together_poll_votes WHERE poll_id=$1`, pollID)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	counts, mine := map[string]int{}, ""
	for rows.Next() {
		var opt, acct string
		if err := rows.Scan(&opt, &acct); err != nil {
			return nil, "", err
		}
		counts[opt]++
		if acct == accountID {
			mine = opt
		}
	}
	return counts, mine, rows.Err()
}

// Ballots maps each account that voted in the poll to its option id.
func (s *TogetherExtras) Ballots(ctx context.Context, pollID string) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT account_id, option_id FROM together_poll_votes WHERE poll_id=$1`, pollID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var acct, opt string
		if err := rows.Scan(&acct, &opt); err != nil {
			return nil, err
		}
		out[acct] = opt
	}
	return out, rows.Err()
}

const eventCols = `id, community_id, channel_id, message_id, name, description, starts_at, created_by, created_at`

func scanEvent(row scanner) (*Event, error) {
	var e Event
	var desc, by sql.NullString
	var starts, created int64
	if err := row.Scan(&e.ID, &e.CommunityID, &e.ChannelID, &e.MessageID, &e.Name, &desc, &starts, &by, &created); err != nil {
		return nil, noRows(err)
	}
	e.Description, e.CreatedBy = strPtr(desc), strPtr(by)
	e.StartsAt, e.CreatedAt = FromMicros(starts), FromMicros(created)
	return &e, nil
}

// CreateEvent inserts an event.
func (s *TogetherExtras) CreateEvent(ctx context.Context, e *Event) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO together_events (`+eventCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
		e.ID, e.CommunityID, e.ChannelID, e.MessageID, e.Name, nullString(e.Description), Micros(e.StartsAt), nullString(e.CreatedBy), Micros(e.CreatedAt))
	return err
}

// EventsOf maps message ids to their events.
func (s *TogetherExtras) EventsOf(ctx context.Context, messageIDs []string) (map[string]*Event, error) {
	out := map[string]*Event{}
	if len(messageIDs) == 0 {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+eventCols+` FROM together_events WHERE message_id IN (`+placeholders(1, len(messageIDs))+`)`, anys(messageIDs)...)
	es, err := collect(rows, err, scanEvent)
	for _, e := range es {
		out[e.MessageID] = e
	}
	return out, err
}

// UpcomingEvents lists a community's events starting after a time.
func (s *TogetherExtras) UpcomingEvents(ctx context.Context, communityID string, after time.Time) ([]*Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+eventCols+` FROM together_events WHERE community_id=$1 AND starts_at >= $2
		ORDER BY starts_at LIMIT 100`, communityID, Micros(after))
	return collect(rows, err, scanEvent)
}

// RecentByAuthor lists an author's newest live channel messages.
func (s *TogetherExtras) RecentByAuthor(ctx context.Context, authorID string, limit int) ([]AuthoredMessage, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT created_at, body, conversation_id FROM messages
		WHERE author_id=$1 AND conversation_kind='channel' AND NOT deleted ORDER BY id DESC LIMIT $2`, authorID, limit)
	return collect(rows, err, func(r scanner) (AuthoredMessage, error) {
		var m AuthoredMessage
		var created int64
		err := r.Scan(&created, &m.Body, &m.ChannelID)
		m.CreatedAt = FromMicros(created)
		return m, err
	})
}
