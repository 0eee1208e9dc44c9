package store

import (
	"context"
	"database/sql"
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

// UpdateBot stores name, description, token and revocation.
func (s *TogetherBots) UpdateBot(ctx context.Context, b *Bot) error {
	res, err := s.db.ExecContext(ctx, `UPDATE together_bots SET name=$2, description=$3, token_id=$4, revoked_at=$5 WHERE id=$1`,
		b.ID, b.Name, nullString(b.Description), b.TokenID, NullMicros(b.RevokedAt))
	if err != nil {
		return err
	}
	return expectOne(res)
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
