package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/watch"
)

// Watch implements watch.Store.
type Watch struct{ db *DB }

// Watch returns the watch-room store.
func (db *DB) Watch() *Watch { return &Watch{db: db} }

var (
	_ watch.Store      = (*Watch)(nil)
	_ watch.RoomsSaver = (*Watch)(nil)
)

const roomCols = `name, title, description, visibility, queue_mode, is_temporary, owner_id, settings, state, created_at, updated_at,
	gen, version`

func scanRoom(row interface{ Scan(...any) error }) (*watch.Record, error) {
	var r watch.Record
	var owner sql.NullString
	var settings, state string
	var created, updated int64
	if err := row.Scan(&r.Name, &r.Title, &r.Description, &r.Visibility, &r.QueueMode, &r.IsTemporary, &owner,
		&settings, &state, &created, &updated, &r.Gen, &r.Version); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fault.NotFound
		}
		return nil, err
	}
	r.OwnerID = owner.String
	r.Settings, r.State = []byte(settings), []byte(state)
	r.CreatedAt, r.UpdatedAt = FromMicros(created), FromMicros(updated)
	return &r, nil
}

func nullID(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func jsonText(b []byte) string {
	if len(b) == 0 {
		return "{}"
	}
	return string(b)
}

// CreateRoom inserts a room; a name taken in any letter case is a conflict.
func (s *Watch) CreateRoom(ctx context.Context, r *watch.Record) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO watch_rooms (`+roomCols+`, name_key)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)`,
		r.Name, r.Title, r.Description, string(r.Visibility), string(r.QueueMode), r.IsTemporary, nullID(r.OwnerID),
		jsonText(r.Settings), jsonText(r.State), Micros(r.CreatedAt), Micros(r.UpdatedAt), r.Gen, r.Version, strings.ToLower(r.Name))
	return conflictOr(err)
}

// RoomByName looks a room up, ignoring case.
func (s *Watch) RoomByName(ctx context.Context, name string) (*watch.Record, error) {
	return scanRoom(s.db.QueryRowContext(ctx, `SELECT `+roomCols+` FROM watch_rooms WHERE name_key=$1`, strings.ToLower(name)))
}

// TakeRoom looks a room up for a copy that will run it, starting a new
// generation of its row (watch.Store).
func (s *Watch) TakeRoom(ctx context.Context, name string) (*watch.Record, error) {
	return scanRoom(s.db.QueryRowContext(ctx, `UPDATE watch_rooms SET gen=gen+1 WHERE name_key=$1 RETURNING `+roomCols,
		strings.ToLower(name)))
}

// SaveRoom stores every mutable field of r, fenced by r.Gen and r.Version
// (watch.Store).
func (s *Watch) SaveRoom(ctx context.Context, r *watch.Record) error {
	return saveRoom(ctx, s.db.ExecContext, s.db.QueryRowContext, r)
}

// SaveRooms updates several rooms in one transaction: all or none (the
// watch service keeps the rooms changed within one save delay this way).
func (s *Watch) SaveRooms(ctx context.Context, rs []*watch.Record) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, r := range rs {
			if err := saveRoom(ctx, func(ctx context.Context, q string, args ...any) (sql.Result, error) {
				return s.db.txExec(ctx, tx, q, args...)
			}, tx.QueryRowContext, r); err != nil {
				return fmt.Errorf("save room %q: %w", r.Name, err)
			}
		}
		return nil
	})
}

type (
	execFunc     func(ctx context.Context, q string, args ...any) (sql.Result, error)
	queryRowFunc func(ctx context.Context, q string, args ...any) *sql.Row
)

// saveRoom writes r whole. With a generation it changes the row only while
// the row is that generation's and holds an older version: the one copy
// running the room writes it, and only its newest encoding lands.
func saveRoom(ctx context.Context, exec execFunc, queryRow queryRowFunc, r *watch.Record) error {
	// The owner as the copy knows it, if the account still exists: its
	// deletion set the row's owner_id NULL (ON DELETE SET NULL), and
	// writing the old id back broke the foreign key, so every later save
	// of the room failed.
	const set = `UPDATE watch_rooms SET title=$2, description=$3, visibility=$4, queue_mode=$5,
		owner_id=(SELECT id FROM accounts WHERE id=$6), settings=$7, state=$8, updated_at=$9`
	args := []any{strings.ToLower(r.Name), r.Title, r.Description, string(r.Visibility), string(r.QueueMode), nullID(r.OwnerID),
		jsonText(r.Settings), jsonText(r.State), Micros(r.UpdatedAt)}
	if r.Gen == 0 {
		res, err := exec(ctx, set+` WHERE name_key=$1`, args...)
		if err != nil {
			return err
		}
		return expectOne(res)
	}
	res, err := exec(ctx, set+`, version=$11 WHERE name_key=$1 AND gen=$10 AND version < $11`, append(args, r.Gen, r.Version)...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	// Nothing written: say why.
	var gen, version int64
	err = queryRow(ctx, `SELECT gen, version FROM watch_rooms WHERE name_key=$1`, strings.ToLower(r.Name)).Scan(&gen, &version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fault.NotFound
	case err != nil:
		return err
	case gen != r.Gen:
		return watch.ErrSuperseded
	}
	return nil // this copy's newer save is in already
}

// DeleteRoom removes a room if its row is still generation gen's (0:
// whichever).
func (s *Watch) DeleteRoom(ctx context.Context, name string, gen int64) error {
	key := strings.ToLower(name)
	if gen == 0 {
		res, err := s.db.ExecContext(ctx, `DELETE FROM watch_rooms WHERE name_key=$1`, key)
		if err != nil {
			return err
		}
		return expectOne(res)
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM watch_rooms WHERE name_key=$1 AND gen=$2`, key, gen)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	var held int64
	err = s.db.QueryRowContext(ctx, `SELECT gen FROM watch_rooms WHERE name_key=$1`, key).Scan(&held)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fault.NotFound
	case err != nil:
		return err
	}
	return watch.ErrSuperseded
}

// RoomsByOwner lists an account's rooms by name.
func (s *Watch) RoomsByOwner(ctx context.Context, ownerID string) ([]*watch.Record, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+roomCols+` FROM watch_rooms WHERE owner_id=$1 ORDER BY name_key`, ownerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*watch.Record
	for rows.Next() {
		r, err := scanRoom(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteTemporaryRoomsBefore deletes the temporary rooms neither saved nor
// run since t (watch.Store): a room whose lease (watch_leases) was live at
// t or later is kept, checked in the same statement as the delete. A room
// loaded for hours saves nothing while its state does not change (one long
// video playing), but its node renews its lease every tick; the sweep
// deleted such a room under its users, and every later save of it failed.
//
// The row is deleted only while it is still the generation the statement
// read: on PostgreSQL a node that claims the lease and loads the room
// (TakeRoom) after the statement began, which the lease check cannot see,
// changes the generation, so the delete, rechecking the row it waited for,
// leaves it.
//
// A swept room's lease, lapsed before t, goes with it. A node still holding
// one (it stalled past the TTL with the room loaded: a node renews its
// leases however long expired) finds it gone at its next renewal and
// retires its copy as deleted; renewing it, the node ran the room on with
// nothing stored under it.
func (s *Watch) DeleteTemporaryRoomsBefore(ctx context.Context, t time.Time) (int, error) {
	var n int
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `DELETE FROM watch_rooms WHERE (name_key, gen) IN (
			SELECT r.name_key, r.gen FROM watch_rooms r WHERE r.is_temporary AND r.updated_at < $1
			AND NOT EXISTS (SELECT 1 FROM watch_leases l WHERE l.name_key = r.name_key AND l.expires_at >= $1))
			RETURNING name_key`, Micros(t))
		if err != nil {
			return err
		}
		var keys []string
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				_ = rows.Close()
				return err
			}
			keys = append(keys, k)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `DELETE FROM watch_leases WHERE name_key=$1 AND expires_at < $2`, k, Micros(t)); err != nil {
				return err
			}
		}
		n = len(keys)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// MediaCache implements media.Cache.
type MediaCache struct{ db *DB }

// MediaCache returns the video metadata cache.
func (db *DB) MediaCache() *MediaCache { return &MediaCache{db: db} }

// CachedVideo returns a cached entry and when it was written and created.
func (s *MediaCache) CachedVideo(ctx context.Context, service, id string) ([]byte, time.Time, time.Time, error) {
	var data string
	var created, updated int64
	err := s.db.QueryRowContext(ctx, `SELECT data, created_at, updated_at FROM media_cache WHERE service=$1 AND service_id=$2`,
		service, id).Scan(&data, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, time.Time{}, fault.NotFound
	}
	if err != nil {
		return nil, time.Time{}, time.Time{}, err
	}
	return []byte(data), FromMicros(updated), FromMicros(created), nil
}

// PutCachedVideo inserts or refreshes an entry.
func (s *MediaCache) PutCachedVideo(ctx context.Context, service, id string, data []byte, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO media_cache (service, service_id, data, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$4) ON CONFLICT (service, service_id) DO UPDATE SET data=excluded.data, updated_at=excluded.updated_at`,
		service, id, string(data), Micros(now))
	return err
}

var _ watch.LeaseStore = (*Watch)(nil)

// ClaimRoomLease takes key's lease for node if it is free, expired or
// node's already, and returns the holder afterwards.
func (s *Watch) ClaimRoomLease(ctx context.Context, key, node string, now, until time.Time) (string, error) {
	key = strings.ToLower(key)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO watch_leases (name_key, node_id, expires_at) VALUES ($1,$2,$3)
		ON CONFLICT (name_key) DO UPDATE SET node_id=excluded.node_id, expires_at=excluded.expires_at
		WHERE watch_leases.node_id=excluded.node_id OR watch_leases.expires_at < $4`,
		key, node, Micros(until), Micros(now)); err != nil {
		return "", err
	}
	var owner string
	err := s.db.QueryRowContext(ctx, `SELECT node_id FROM watch_leases WHERE name_key=$1`, key).Scan(&owner)
	return owner, err
}

// RenewRoomLeases extends every lease node holds and returns their keys.
func (s *Watch) RenewRoomLeases(ctx context.Context, node string, until time.Time) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `UPDATE watch_leases SET expires_at=$2 WHERE node_id=$1 RETURNING name_key`, node, Micros(until))
	return collect(rows, err, scanString)
}

// ReleaseRoomLease drops node's lease on key.
func (s *Watch) ReleaseRoomLease(ctx context.Context, key, node string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM watch_leases WHERE name_key=$1 AND node_id=$2`, strings.ToLower(key), node)
	return err
}

// RoomLeaseOwner returns the node holding a live lease on key, or "".
func (s *Watch) RoomLeaseOwner(ctx context.Context, key string, now time.Time) (string, error) {
	var owner string
	err := s.db.QueryRowContext(ctx, `SELECT node_id FROM watch_leases WHERE name_key=$1 AND expires_at >= $2`,
		strings.ToLower(key), Micros(now)).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return owner, err
}

// LeaseNodes returns the nodes holding a live lease.
func (s *Watch) LeaseNodes(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT node_id FROM watch_leases WHERE expires_at >= $1 ORDER BY node_id`, Micros(now))
	return collect(rows, err, scanString)
}
