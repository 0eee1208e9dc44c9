package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/hearth-community/hearth/internal/webhooks"
)

var _ webhooks.HookStore = (*TogetherExtras)(nil)

const webhookCols = `id, community_id, created_by, name, url, secret, event_types, enabled, delivery_failures, last_used_at,
	created_at, updated_at`

func scanWebhook(row scanner) (*webhooks.Hook, error) {
	var w webhooks.Hook
	var events string
	var last sql.NullInt64
	var created, updated int64
	if err := row.Scan(&w.ID, &w.CommunityID, &w.CreatedBy, &w.Name, &w.URL, &w.Secret, &events, &w.Enabled, &w.DeliveryFailures,
		&last, &created, &updated); err != nil {
		return nil, noRows(err)
	}
	if err := json.Unmarshal([]byte(events), &w.EventTypes); err != nil {
		return nil, err
	}
	w.LastUsedAt, w.CreatedAt, w.UpdatedAt = TimePtr(last), FromMicros(created), FromMicros(updated)
	return &w, nil
}

// CreateWebhook inserts a webhook, or answers webhooks.ErrTooManyHooks
// when its community has max already (underBound: the count holds on
// PostgreSQL against creates at the same moment).
func (s *TogetherExtras) CreateWebhook(ctx context.Context, w *webhooks.Hook, max int) error {
	events, err := json.Marshal(w.EventTypes)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.db.underBound(ctx, tx, "communities", w.CommunityID, `SELECT COUNT(*) FROM together_webhooks WHERE community_id=$1`, max,
			webhooks.ErrTooManyHooks); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO together_webhooks (`+webhookCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
			w.ID, w.CommunityID, w.CreatedBy, w.Name, w.URL, w.Secret, string(events), w.Enabled, w.DeliveryFailures,
			NullMicros(w.LastUsedAt), Micros(w.CreatedAt), Micros(w.UpdatedAt))
		return err
	})
}

// UpdateWebhook writes w's columns named by f and its updated_at, and no
// other: a whole-row write from the caller's read undid a change made
// after it (a disable, a new URL).
func (s *TogetherExtras) UpdateWebhook(ctx context.Context, w *webhooks.Hook, f webhooks.HookFields) error {
	set := setAfter(w.ID)
	set.add("updated_at", Micros(w.UpdatedAt))
	if f&webhooks.HookName != 0 {
		set.add("name", w.Name)
	}
	if f&webhooks.HookURL != 0 {
		set.add("url", w.URL)
	}
	if f&webhooks.HookEvents != 0 {
		events, err := json.Marshal(w.EventTypes)
		if err != nil {
			return err
		}
		set.add("event_types", string(events))
	}
	if f&webhooks.HookEnabled != 0 {
		set.add("enabled", w.Enabled)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE together_webhooks SET `+set.clause()+` WHERE id=$1`, set.args...)
	if err != nil {
		return err
	}
	return expectOne(res)
}

// DeleteWebhook removes a webhook of a community.
func (s *TogetherExtras) DeleteWebhook(ctx context.Context, communityID, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM together_webhooks WHERE community_id=$1 AND id=$2`, communityID, id)
	if err != nil {
		return err
	}
	return expectOne(res)
}

// Webhook returns a webhook of a community.
func (s *TogetherExtras) Webhook(ctx context.Context, communityID, id string) (*webhooks.Hook, error) {
	return scanWebhook(s.db.QueryRowContext(ctx, `SELECT `+webhookCols+` FROM together_webhooks WHERE community_id=$1 AND id=$2`, communityID, id))
}

// Webhooks lists a community's webhooks, oldest first.
func (s *TogetherExtras) Webhooks(ctx context.Context, communityID string) ([]*webhooks.Hook, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+webhookCols+` FROM together_webhooks WHERE community_id=$1 ORDER BY created_at`, communityID)
	return collect(rows, err, scanWebhook)
}

// WebhookDelivered records the outcome of a delivery.
func (s *TogetherExtras) WebhookDelivered(ctx context.Context, id string, ok bool, at time.Time) error {
	var err error
	if ok {
		_, err = s.db.ExecContext(ctx, `UPDATE together_webhooks SET delivery_failures=0, last_used_at=$2 WHERE id=$1`, id, Micros(at))
	} else {
		_, err = s.db.ExecContext(ctx, `UPDATE together_webhooks SET delivery_failures=delivery_failures+1 WHERE id=$1`, id)
	}
	return err
}
