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
type WebhookQueue struct {
	db *DB
	// afterClaim, when set (tests: export_test.go), runs in
	// AddDeliveriesOnce's transaction between the claim and the deliveries:
	// an error there is a node dying at that point.
	afterClaim func() error
}

// WebhookQueue returns the webhook delivery queue.
func (db *DB) WebhookQueue() *WebhookQueue { return &WebhookQueue{db: db} }

var _ webhooks.Queue = (*WebhookQueue)(nil)

// AddDelivery stores d unless max (> 0) deliveries of its kind and ref
// already wait (one statement, so the count and the insert agree). With
// keepNewest it stores d and drops the oldest of its kind and ref past max,
// in one transaction.
func (s *WebhookQueue) AddDelivery(ctx context.Context, d *webhooks.Queued, max int, keepNewest bool) (bool, error) {
	if keepNewest {
		var ok bool
		err := s.db.InTx(ctx, func(tx *sql.Tx) (err error) {
			ok, err = addDelivery(ctx, tx, d, max, keepNewest)
			return err
		})
		return ok, err
	}
	return addDelivery(ctx, s.db, d, max, keepNewest)
}

// addDelivery is AddDelivery on ex (with keepNewest, ex must be a
// transaction: the insert and the trim are two statements).
func addDelivery(ctx context.Context, ex execer, d *webhooks.Queued, max int, keepNewest bool) (bool, error) {
	if max <= 0 {
		max = int(^uint32(0) >> 1)
	}
	if keepNewest {
		if _, err := ex.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, kind, ref, url, body, attempts, next_at, created_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
			d.ID, d.Kind, d.Ref, d.URL, string(d.Body), d.Attempts, Micros(d.NextAt), Micros(d.CreatedAt)); err != nil {
			return false, err
		}
		_, err := ex.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE kind=$1 AND ref=$2 AND id NOT IN
			(SELECT id FROM webhook_deliveries WHERE kind=$1 AND ref=$2 ORDER BY created_at DESC, id DESC LIMIT $3)`,
			d.Kind, d.Ref, max)
		return err == nil, err
	}
	res, err := ex.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, kind, ref, url, body, attempts, next_at, created_at)
		SELECT $1,$2,$3,$4,$5,$6,$7,$8
		WHERE (SELECT COUNT(*) FROM webhook_deliveries WHERE kind=$2 AND ref=$3) < $9`,
		d.ID, d.Kind, d.Ref, d.URL, string(d.Body), d.Attempts, Micros(d.NextAt), Micros(d.CreatedAt), max)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// AddDeliveriesOnce claims the event named key (the claims of
// owncast_event_claims, which StageChat.ClaimEvent takes too) and stores ds
// as AddDelivery would, in one transaction: a node killed, or failing,
// anywhere before the commit leaves neither the claim nor a delivery, so
// another node (or the next try) still claims the event and queues it. It
// reports false, storing nothing, when key was claimed before; stored says
// which of ds were stored (a full queue refuses one).
func (s *WebhookQueue) AddDeliveriesOnce(ctx context.Context, key string, at time.Time, ds []*webhooks.Queued, max int, keepNewest bool) (claimed bool, stored []bool, err error) {
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		claimed, stored = false, make([]bool, len(ds))
		res, err := tx.ExecContext(ctx, `INSERT INTO owncast_event_claims (event_key, claimed_at) VALUES ($1,$2)
			ON CONFLICT (event_key) DO NOTHING`, key, Micros(at))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return err // claimed before: nothing to store
		}
		if s.afterClaim != nil {
			if err := s.afterClaim(); err != nil {
				return err
			}
		}
		for i, d := range ds {
			if stored[i], err = addDelivery(ctx, tx, d, max, keepNewest); err != nil {
				return err
			}
		}
		claimed = true
		return nil
	})
	if err != nil {
		return false, nil, err
	}
	return claimed, stored, nil
}

// PruneEventClaims forgets event claims made before before.
func (s *WebhookQueue) PruneEventClaims(ctx context.Context, before time.Time) error {
	return s.db.StageChat().PruneEventClaims(ctx, before)
}

// claim runs a claiming UPDATE … RETURNING and reads its deliveries, oldest
// due first.
func (s *WebhookQueue) claim(ctx context.Context, query string, args ...any) ([]*webhooks.Queued, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
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

// ClaimFairly leases up to n due deliveries of the given kinds until
// leaseUntil and returns them oldest due first, sharing the claims among
// the targets (a kind and ref): a target holds at most perRef of the claimer's leases,
// held counting those it holds already, so one target with many
// deliveries due cannot fill a claim. It reads the oldest due deliveries
// of the targets below their share (skipping, through the next_at index,
// those at it), takes them oldest due first while their targets have room,
// and leases those no other claimer took meanwhile.
func (s *WebhookQueue) ClaimFairly(ctx context.Context, kinds []string, now, leaseUntil time.Time, n, perRef int,
	held map[webhooks.RefKey]int) ([]*webhooks.Queued, error) {
	if len(kinds) == 0 || n <= 0 {
		return nil, nil
	}
	perRef = max(perRef, 1)
	// A few times n candidates: one target's first share fills at most
	// perRef of them, and it is skipped at the next claim.
	args := []any{Micros(now), n*4 + perRef}
	ph := make([]string, len(kinds))
	for i, k := range kinds {
		args = append(args, k)
		ph[i] = "$" + strconv.Itoa(len(args))
	}
	var full strings.Builder
	for t, c := range held {
		if c >= perRef {
			args = append(args, t.Kind, t.Ref)
			full.WriteString(" AND NOT (kind=$" + strconv.Itoa(len(args)-1) + " AND ref=$" + strconv.Itoa(len(args)) + ")")
		}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, kind, ref FROM webhook_deliveries
		WHERE next_at <= $1 AND claimed_until <= $1 AND kind IN (`+strings.Join(ph, ",")+`)`+full.String()+`
		ORDER BY next_at, id LIMIT $2`, args...)
	if err != nil {
		return nil, err
	}
	taken := map[webhooks.RefKey]int{}
	var ids []any
	for rows.Next() && len(ids) < n {
		var id string
		var t webhooks.RefKey
		if err := rows.Scan(&id, &t.Kind, &t.Ref); err != nil {
			rows.Close()
			return nil, err
		}
		if held[t]+taken[t] < perRef {
			taken[t]++
			ids = append(ids, id)
		}
	}
	if err := cmp.Or(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	args = append([]any{Micros(now), Micros(leaseUntil)}, ids...)
	ph = make([]string, len(ids))
	for i := range ids {
		ph[i] = "$" + strconv.Itoa(i+3)
	}
	return s.claim(ctx, `UPDATE webhook_deliveries SET claimed_until=$2
		WHERE id IN (`+strings.Join(ph, ",")+`) AND claimed_until <= $1
		RETURNING id, kind, ref, url, body, attempts, next_at, created_at`, args...)
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
