package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// PutEmoji keeps an uploaded Owncast custom emoji: Conflict when its
// shortcode (code, lower-case) or file is taken.
func (s *StageChat) PutEmoji(ctx context.Context, file, code string, data []byte, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO stage_emoji (file, code, data, created_at) VALUES ($1,$2,$3,$4)`,
		file, code, data, Micros(at))
	if IsUniqueViolation(err) {
		return fault.New(fault.Conflict, "emoji taken")
	}
	return err
}

// StoredEmoji lists the uploaded emoji, without their bytes.
func (s *StageChat) StoredEmoji(ctx context.Context) ([]stagechat.StoredEmoji, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT file, created_at FROM stage_emoji`)
	return collect(rows, err, func(row scanner) (stagechat.StoredEmoji, error) {
		var e stagechat.StoredEmoji
		var at int64
		err := row.Scan(&e.File, &at)
		e.CreatedAt = FromMicros(at)
		return e, err
	})
}

// EmojiData is an uploaded emoji's bytes (NotFound when there is none).
func (s *StageChat) EmojiData(ctx context.Context, file string) ([]byte, time.Time, error) {
	var data []byte
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT data, created_at FROM stage_emoji WHERE file=$1`, file).Scan(&data, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, fault.NotFound
	}
	return data, FromMicros(at), err
}

// DeleteEmoji removes the uploaded emoji of a file name, or when none has
// that file name, the one of a lower-case shortcode (NotFound when there
// is none). One emoji at most: a shortcode may be another's file name
// ("a.png" is the file of shortcode "a" and the shortcode of "a.png.gif").
func (s *StageChat) DeleteEmoji(ctx context.Context, file, code string) error {
	for _, q := range []struct{ where, arg string }{{"file=$1", file}, {"code=$1", code}} {
		res, err := s.db.ExecContext(ctx, `DELETE FROM stage_emoji WHERE `+q.where, q.arg)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n > 0 {
			return nil
		}
	}
	return fault.NotFound
}
