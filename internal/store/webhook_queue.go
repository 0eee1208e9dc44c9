package store

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/webhooks"
)

// WebhookQueue implements webhooks.Queue: the durable queue of the one
// webhook delivery engine.
type WebhookQueue struct{ db *DB }

// WebhookQueue returns the webhook delivery queue.
func (db *DB) WebhookQueue() *WebhookQueue { return &WebhookQueue{db: db} }

var _ webhooks.Queue = (*WebhookQueue)(nil)

// AddDelivery stores d unless max (> 0) deliveries of its kind and ref
// already wait (one statement, so the count and the insert agree). With
// keepNewest it stores d and drops the oldest of its kind and ref past max,
// in one transaction.
func (s *WebhookQueue) AddDelivery(ctx context.Context, d *webhooks.Queued, max int, keepNewest bool) (bool, error) {
	if max <= 0 {
		max = int(^uint32(0) >> 1)
	}
	if keepNewest {
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, kind, ref, url, body, attempts, next_at, created_at)
				VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
				d.ID, d.Kind, d.Ref, d.URL, string(d.Body), d.Attempts, Micros(d.NextAt), Micros(d.CreatedAt)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE kind=$1 AND ref=$2 AND id NOT IN
				(SELECT id FROM webhook_deliveries WHERE kind=$1 AND ref=$2 ORDER BY created_at DESC, id DESC LIMIT $3)`,
				d.Kind, d.Ref, max)
			return err
		})
		return err == nil, err
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, kind, ref, url, body, attempts, next_at, created_at)
		SELECT $1,$2,$3,$4,$5,$6,$7,$8
		WHERE (SELECT COUNT(*) FROM webhook_deliveries WHERE kind=$2 AND ref=$3) < $9`,
		d.ID, d.Kind, d.Ref, d.URL, string(d.Body), d.Attempts, Micros(d.NextAt), Micros(d.CreatedAt), max)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ClaimDeliveries leases up to n due deliveries of the given kinds and
// returns them oldest due first.
func (s *WebhookQueue) ClaimDeliveries(ctx context.Context, kinds []string, now, leaseUntil time.Time, n int) ([]*webhooks.Queued, error) {
	if len(kinds) == 0 || n <= 0 {
		return nil, nil
	}
	args := []any{Micros(now), Micros(leaseUntil), n}
	ph := make([]string, len(kinds))
	for i, k := range kinds {
		args = append(args, k)
		ph[i] = "$" + strconv.Itoa(len(args))
	}
	rows, err := s.db.QueryContext(ctx, `UPDATE webhook_deliveries SET claimed_until=$2
		WHERE id IN (SELECT id FROM webhook_deliveries WHERE next_at <= $1 AND claimed_until <= $1
			AND kind IN (`+strings.Join(ph, ",")+`) ORDER BY next_at, id LIMIT $3) AND claimed_until <= $1
		RETURNING id, kind, ref, url, body, attempts, next_at, created_at`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*webhooks.Queued
	for rows.Next() {
		var d webhooks.Queued
		var body string
		var next, created int64
		if err := rows.Scan(&d.ID, &d.Kind, &d.Ref, &d.URL, &body, &d.Attempts, &next, &created); err != nil {
			return nil, err
		}
		d.Body, d.NextAt, d.CreatedAt = []byte(body), FromMicros(next), FromMicros(created)
		out = append(out, &d)
	}
	slices.SortFunc(out, func(a, b *webhooks.Queued) int {
		return cmp.Or(a.NextAt.Compare(b.NextAt), cmp.Compare(a.ID, b.ID))
	})
	return out, rows.Err()
}

// FinishDelivery removes a delivery.
func (s *WebhookQueue) FinishDelivery(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE id=$1`, id)
	return err
}

// RetryDelivery records attempts, schedules the next try and releases the
// lease.
func (s *WebhookQueue) RetryDelivery(ctx context.Context, id string, attempts int, next time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE webhook_deliveries SET attempts=$2, next_at=$3, claimed_until=0 WHERE id=$1`,
		id, attempts, Micros(next))
	return err
}
