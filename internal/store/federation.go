package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/federation"
)

// Federation implements federation.Store.
type Federation struct{ db *DB }

// Federation returns the federation store.
func (db *DB) Federation() *Federation { return &Federation{db: db} }

var _ federation.Store = (*Federation)(nil)

// FederationKey returns the stored private key and when it was made
// (the federation's beginning: actors' published).
func (s *Federation) FederationKey(ctx context.Context) (string, time.Time, error) {
	var p string
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT private_pem, created_at FROM federation_keys WHERE id=1`).Scan(&p, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, fault.NotFound
	}
	return p, FromMicros(at), err
}

// InsertFederationKey stores the key unless one exists.
func (s *Federation) InsertFederationKey(ctx context.Context, pem string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO federation_keys (id, private_pem, created_at) VALUES (1,$1,$2)
		ON CONFLICT (id) DO NOTHING`, pem, Micros(at))
	return err
}

// PutFollower inserts or replaces a follower.
func (s *Federation) PutFollower(ctx context.Context, f *federation.Follower) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO federation_followers
		(actor, iri, inbox, shared_inbox, name, username, image, request_iri, created_at, approved_at, disabled_at, domain)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)
		ON CONFLICT (actor, iri) DO UPDATE SET inbox=excluded.inbox, shared_inbox=excluded.shared_inbox,
		name=excluded.name, username=excluded.username, image=excluded.image, request_iri=excluded.request_iri,
		approved_at=excluded.approved_at, disabled_at=excluded.disabled_at, domain=excluded.domain`,
		f.Actor, f.IRI, f.Inbox, f.SharedInbox, f.Name, f.Username, f.Image, f.RequestIRI, Micros(f.CreatedAt),
		NullMicros(f.ApprovedAt), NullMicros(f.DisabledAt), f.Domain)
	return err
}

// DomainFollowers counts a local actor's followers and pending requests
// from one remote domain (blocked ones, and the follower other, left out),
// and the distinct inboxes they are delivered to (the shared inbox where
// one is given), and reports whether inbox is one of those.
func (s *Federation) DomainFollowers(ctx context.Context, actor, domain, inbox, other string) (int, int, bool, error) {
	var n, inboxes, known int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*),
		COUNT(DISTINCT CASE WHEN shared_inbox <> '' THEN shared_inbox ELSE inbox END),
		COALESCE(SUM(CASE WHEN (CASE WHEN shared_inbox <> '' THEN shared_inbox ELSE inbox END) = $3 THEN 1 ELSE 0 END), 0)
		FROM federation_followers WHERE actor=$1 AND domain=$2 AND disabled_at IS NULL AND iri <> $4`,
		actor, domain, inbox, other).Scan(&n, &inboxes, &known)
	return n, inboxes, known > 0, err
}

const followerCols = `actor, iri, inbox, shared_inbox, name, username, image, request_iri, created_at, approved_at, disabled_at, domain`

func scanFollower(sc interface{ Scan(...any) error }) (*federation.Follower, error) {
	var f federation.Follower
	var created int64
	var appr, dis sql.NullInt64
	if err := sc.Scan(&f.Actor, &f.IRI, &f.Inbox, &f.SharedInbox, &f.Name, &f.Username, &f.Image, &f.RequestIRI,
		&created, &appr, &dis, &f.Domain); err != nil {
		return nil, err
	}
	f.CreatedAt, f.ApprovedAt, f.DisabledAt = FromMicros(created), TimePtr(appr), TimePtr(dis)
	return &f, nil
}

// Follower returns one follower.
func (s *Federation) Follower(ctx context.Context, actor, iri string) (*federation.Follower, error) {
	f, err := scanFollower(s.db.QueryRowContext(ctx, `SELECT `+followerCols+` FROM federation_followers
		WHERE actor=$1 AND iri=$2`, actor, iri))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fault.New(fault.NotFound, "no such follower")
	}
	return f, err
}

func stateWhere(state federation.FollowerState) string {
	switch state {
	case federation.Pending:
		return `approved_at IS NULL AND disabled_at IS NULL`
	case federation.Blocked:
		return `disabled_at IS NOT NULL`
	default:
		return `approved_at IS NOT NULL AND disabled_at IS NULL`
	}
}

// Followers lists followers in a state, newest first, and counts them.
func (s *Federation) Followers(ctx context.Context, actor string, state federation.FollowerState, offset, limit int) ([]*federation.Follower, int, error) {
	where := stateWhere(state)
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM federation_followers WHERE actor=$1 AND `+where, actor).Scan(&total); err != nil {
		return nil, 0, err
	}
	out := []*federation.Follower{}
	if limit <= 0 {
		return out, total, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+followerCols+` FROM federation_followers WHERE actor=$1 AND `+where+`
		ORDER BY created_at DESC, iri LIMIT $2 OFFSET $3`, actor, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFollower(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, f)
	}
	return out, total, rows.Err()
}

// SetFollowerState sets approval and block times.
func (s *Federation) SetFollowerState(ctx context.Context, actor, iri string, approvedAt, disabledAt *time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE federation_followers SET approved_at=$3, disabled_at=$4 WHERE actor=$1 AND iri=$2`,
		actor, iri, NullMicros(approvedAt), NullMicros(disabledAt))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fault.New(fault.NotFound, "no such follower")
	}
	return nil
}

// DeleteFollower removes a follower.
func (s *Federation) DeleteFollower(ctx context.Context, actor, iri string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM federation_followers WHERE actor=$1 AND iri=$2`, actor, iri)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fault.New(fault.NotFound, "no such follower")
	}
	return nil
}

// AddOutbox stores an outbound activity or object.
func (s *Federation) AddOutbox(ctx context.Context, it *federation.OutboxItem) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO federation_outbox (id, actor, type, value, created_at) VALUES ($1,$2,$3,$4,$5)`,
		it.ID, it.Actor, it.Type, string(it.Value), Micros(it.CreatedAt))
	return conflictOr(err)
}

// OutboxItem returns a stored item.
func (s *Federation) OutboxItem(ctx context.Context, id string) (*federation.OutboxItem, error) {
	var it federation.OutboxItem
	var v string
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT id, actor, type, value, created_at FROM federation_outbox WHERE id=$1`, id).
		Scan(&it.ID, &it.Actor, &it.Type, &v, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fault.New(fault.NotFound, "no such object")
	}
	if err != nil {
		return nil, err
	}
	it.Value, it.CreatedAt = []byte(v), FromMicros(at)
	return &it, nil
}

// Outbox lists an actor's Create activities, newest first, and counts them.
func (s *Federation) Outbox(ctx context.Context, actor string, offset, limit int) ([]*federation.OutboxItem, int, error) {
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM federation_outbox WHERE actor=$1 AND type='Create'`, actor).Scan(&total); err != nil {
		return nil, 0, err
	}
	out := []*federation.OutboxItem{}
	if limit <= 0 {
		return out, total, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, actor, type, value, created_at FROM federation_outbox
		WHERE actor=$1 AND type='Create' ORDER BY created_at DESC, id LIMIT $2 OFFSET $3`, actor, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var it federation.OutboxItem
		var v string
		var at int64
		if err := rows.Scan(&it.ID, &it.Actor, &it.Type, &v, &at); err != nil {
			return nil, 0, err
		}
		it.Value, it.CreatedAt = []byte(v), FromMicros(at)
		out = append(out, &it)
	}
	return out, total, rows.Err()
}

// AddAction records an inbound action; a repeated IRI, or a repeated
// actor, type and object, is a conflict. In the same transaction it
// deletes the local actor's actions older than its keep newest.
func (s *Federation) AddAction(ctx context.Context, a *federation.Action, keep int) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO federation_actions (iri, actor, actor_iri, type, object, created_at)
			VALUES ($1,$2,$3,$4,$5,$6)`, a.IRI, a.Actor, a.ActorIRI, a.Type, a.Object, Micros(a.CreatedAt)); err != nil {
			return conflictOr(err)
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM federation_actions WHERE actor=$1 AND created_at <
			(SELECT created_at FROM federation_actions WHERE actor=$1 ORDER BY created_at DESC LIMIT 1 OFFSET $2)`,
			a.Actor, max(keep, 1)-1)
		return err
	})
}

// Actions lists actions, newest first, and counts them.
func (s *Federation) Actions(ctx context.Context, offset, limit int) ([]*federation.Action, int, error) {
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM federation_actions`).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT iri, actor, actor_iri, type, created_at FROM federation_actions
		ORDER BY created_at DESC, iri LIMIT $1 OFFSET $2`, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []*federation.Action{}
	for rows.Next() {
		var a federation.Action
		var at int64
		if err := rows.Scan(&a.IRI, &a.Actor, &a.ActorIRI, &a.Type, &at); err != nil {
			return nil, 0, err
		}
		a.CreatedAt = FromMicros(at)
		out = append(out, &a)
	}
	return out, total, rows.Err()
}

// StageActorEnabled reports whether a stage channel's actor is on (no row:
// on).
func (s *Federation) StageActorEnabled(ctx context.Context, channelID string) (bool, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT enabled FROM federation_stage_actors WHERE channel_id=$1`, channelID).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	return v != 0, err
}

// SetStageActorEnabled switches a stage channel's actor on or off.
func (s *Federation) SetStageActorEnabled(ctx context.Context, channelID string, on bool, at time.Time) error {
	v := 0
	if on {
		v = 1
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO federation_stage_actors (channel_id, enabled, updated_at) VALUES ($1,$2,$3)
		ON CONFLICT (channel_id) DO UPDATE SET enabled=excluded.enabled, updated_at=excluded.updated_at`, channelID, v, Micros(at))
	return err
}

// PutFollowing inserts or replaces a following (one per actor and IRI).
func (s *Federation) PutFollowing(ctx context.Context, f *federation.Following) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO federation_following
		(id, actor, iri, inbox, name, username, image, follow_iri, accepted_at, post_iri, post_text, post_url,
		post_preview, post_at, live_at, created_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)
		ON CONFLICT (actor, iri) DO UPDATE SET inbox=excluded.inbox, name=excluded.name, username=excluded.username,
		image=excluded.image, follow_iri=excluded.follow_iri, accepted_at=excluded.accepted_at,
		post_iri=excluded.post_iri, post_text=excluded.post_text, post_url=excluded.post_url,
		post_preview=excluded.post_preview, post_at=excluded.post_at, live_at=excluded.live_at`,
		f.ID, f.Actor, f.IRI, f.Inbox, f.Name, f.Username, f.Image, f.FollowIRI, NullMicros(f.AcceptedAt), f.PostIRI,
		f.PostText, f.PostURL, f.PostPreview, NullMicros(f.PostAt), NullMicros(f.LiveAt), Micros(f.CreatedAt))
	return err
}

const followingCols = `id, actor, iri, inbox, name, username, image, follow_iri, accepted_at, post_iri, post_text,
	post_url, post_preview, post_at, live_at, created_at`

func scanFollowing(sc interface{ Scan(...any) error }) (*federation.Following, error) {
	var f federation.Following
	var acc, postAt, liveAt sql.NullInt64
	var created int64
	if err := sc.Scan(&f.ID, &f.Actor, &f.IRI, &f.Inbox, &f.Name, &f.Username, &f.Image, &f.FollowIRI, &acc,
		&f.PostIRI, &f.PostText, &f.PostURL, &f.PostPreview, &postAt, &liveAt, &created); err != nil {
		return nil, err
	}
	f.AcceptedAt, f.PostAt, f.LiveAt, f.CreatedAt = TimePtr(acc), TimePtr(postAt), TimePtr(liveAt), FromMicros(created)
	return &f, nil
}

func (s *Federation) oneFollowing(ctx context.Context, where string, args ...any) (*federation.Following, error) {
	f, err := scanFollowing(s.db.QueryRowContext(ctx, `SELECT `+followingCols+` FROM federation_following WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fault.New(fault.NotFound, "no such followed server")
	}
	return f, err
}

// FollowingByID returns a following by our id.
func (s *Federation) FollowingByID(ctx context.Context, id string) (*federation.Following, error) {
	return s.oneFollowing(ctx, `id=$1`, id)
}

// FollowingOf returns a local actor's following of a remote actor.
func (s *Federation) FollowingOf(ctx context.Context, actor, iri string) (*federation.Following, error) {
	return s.oneFollowing(ctx, `actor=$1 AND iri=$2`, actor, iri)
}

// Followings lists a local actor's followings ("" for all), newest first.
func (s *Federation) Followings(ctx context.Context, actor string) ([]*federation.Following, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+followingCols+` FROM federation_following
		WHERE $1 = '' OR actor = $1 ORDER BY created_at DESC, id`, actor)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*federation.Following{}
	for rows.Next() {
		f, err := scanFollowing(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// DeleteFollowing forgets a following.
func (s *Federation) DeleteFollowing(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM federation_following WHERE id=$1`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fault.New(fault.NotFound, "no such followed server")
	}
	return nil
}

// PutLeaving records that actor sent an Undo to host, until until
// (replacing an earlier record), and drops the records expired at now.
func (s *Federation) PutLeaving(ctx context.Context, actor, host string, until, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM federation_leaving WHERE until_at < $1`, Micros(now)); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO federation_leaving (actor, host, until_at) VALUES ($1,$2,$3)
		ON CONFLICT (actor, host) DO UPDATE SET until_at=excluded.until_at`, actor, host, Micros(until))
	return err
}

// Leaving reports whether actor has a record for host that has not
// expired at now.
func (s *Federation) Leaving(ctx context.Context, actor, host string, now time.Time) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM federation_leaving WHERE actor=$1 AND host=$2 AND until_at >= $3`,
		actor, host, Micros(now)).Scan(&n)
	return n > 0, err
}
