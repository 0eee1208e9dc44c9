package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// Webhooks implements webhooks.Store.
type Webhooks struct{ db *DB }

// Webhooks returns the webhook store.
func (db *DB) Webhooks() *Webhooks { return &Webhooks{db: db} }

var _ webhooks.Store = (*Webhooks)(nil)

// CreateWebhook inserts w.
func (s *Webhooks) CreateWebhook(ctx context.Context, w *webhooks.Webhook) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO webhooks (id, url, events, secret, created_at) VALUES ($1,$2,$3,$4,$5)`,
		w.ID, w.URL, strings.Join(w.Events, ","), w.Secret, Micros(w.CreatedAt))
	return conflictOr(err)
}

// Webhooks lists every webhook, oldest first.
func (s *Webhooks) Webhooks(ctx context.Context) ([]*webhooks.Webhook, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, url, events, secret, created_at, last_used_at, last_error, last_error_at
		FROM webhooks ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*webhooks.Webhook{}
	for rows.Next() {
		var w webhooks.Webhook
		var events string
		var created int64
		var used, errAt sql.NullInt64
		if err := rows.Scan(&w.ID, &w.URL, &events, &w.Secret, &created, &used, &w.LastError, &errAt); err != nil {
			return nil, err
		}
		w.Events = []string{}
		if events != "" {
			w.Events = strings.Split(events, ",")
		}
		w.CreatedAt, w.LastUsedAt, w.LastErrorAt = FromMicros(created), TimePtr(used), TimePtr(errAt)
		out = append(out, &w)
	}
	return out, rows.Err()
}

// DeleteWebhook removes a webhook.
func (s *Webhooks) DeleteWebhook(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM webhooks WHERE id=$1`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fault.NotFound
	}
	return nil
}

// RecordDelivery records a successful (errMsg == "") or failed delivery.
func (s *Webhooks) RecordDelivery(ctx context.Context, id string, at time.Time, errMsg string) error {
	var res sql.Result
	var err error
	if errMsg == "" {
		res, err = s.db.ExecContext(ctx, `UPDATE webhooks SET last_used_at=$2 WHERE id=$1`, id, Micros(at))
	} else {
		if len(errMsg) > 500 {
			errMsg = errMsg[:500]
		}
		res, err = s.db.ExecContext(ctx, `UPDATE webhooks SET last_error=$2, last_error_at=$3 WHERE id=$1`, id, errMsg, Micros(at))
	}
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fault.NotFound
	}
	return nil
}
