package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// TogetherBots implements the Together surface's BotStore (checked where it is wired).
type TogetherBots struct{ db *DB }

// TogetherBots returns the Together bot store.
func (db *DB) TogetherBots() *TogetherBots { return &TogetherBots{db: db} }

const botCols = `id, account_id, token_id, name, description, created_by, revoked_at, created_at`

func scanBot(row scanner) (*Bot, error) {
	var b Bot
	var desc sql.NullString
	var revoked sql.NullInt64
	var created int64
	if err := row.Scan(&b.ID, &b.AccountID, &b.TokenID, &b.Name, &desc, &b.CreatedBy, &revoked, &created); err != nil {
		return nil, noRows(err)
	}
	b.Description, b.RevokedAt, b.CreatedAt = strPtr(desc), TimePtr(revoked), FromMicros(created)
	return &b, nil
}

// CreateBot inserts a bot record.
func (s *TogetherBots) CreateBot(ctx context.Context, b *Bot) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO together_bots (`+botCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		b.ID, b.AccountID, b.TokenID, b.Name, nullString(b.Description), b.CreatedBy, NullMicros(b.RevokedAt), Micros(b.CreatedAt))
	return conflictOr(err)
}

// UpdateBotProfile stores a live bot's name and description, and never
// its token or revocation; false when the bot is unknown or revoked.
func (s *TogetherBots) UpdateBotProfile(ctx context.Context, b *Bot) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE together_bots SET name=$2, description=$3 WHERE id=$1 AND revoked_at IS NULL`,
		b.ID, b.Name, nullString(b.Description))
	return oneRow(res, err)
}

// SetBotToken points a live bot at tokenID if its token is still oldID
// (compare-and-set); false when it is not, or the bot is revoked.
func (s *TogetherBots) SetBotToken(ctx context.Context, id, oldID, tokenID string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE together_bots SET token_id=$3 WHERE id=$1 AND token_id=$2 AND revoked_at IS NULL`,
		id, oldID, tokenID)
	return oneRow(res, err)
}

// RevokeBot marks a live bot revoked at at and returns its token's id as
// of that write (to be revoked); ok false when it is unknown or revoked.
func (s *TogetherBots) RevokeBot(ctx context.Context, id string, at time.Time) (tokenID string, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, `UPDATE together_bots SET revoked_at=$2 WHERE id=$1 AND revoked_at IS NULL RETURNING token_id`,
		id, Micros(at)).Scan(&tokenID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return tokenID, err == nil, err
}

func oneRow(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Bot returns one bot.
func (s *TogetherBots) Bot(ctx context.Context, id string) (*Bot, error) {
	return scanBot(s.db.QueryRowContext(ctx, `SELECT `+botCols+` FROM together_bots WHERE id=$1`, id))
}

// BotsBy lists the bots an account created, newest first.
func (s *TogetherBots) BotsBy(ctx context.Context, accountID string) ([]*Bot, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+botCols+` FROM together_bots WHERE created_by=$1 ORDER BY created_at DESC`, accountID)
	return collect(rows, err, scanBot)
}
