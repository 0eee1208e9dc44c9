package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// ClaimPublishLease takes stageID's publish lease for node's broadcast
// session until the given time when it is free, expired (before now) or
// node's already, in one conditional upsert, so that of two nodes claiming
// it at once one gets it. It reports whether node holds it afterwards.
func (l *Live) ClaimPublishLease(ctx context.Context, stageID, node, session string, now, until time.Time) (bool, error) {
	var owner string
	err := l.db.QueryRowContext(ctx, `INSERT INTO live_publish_leases (stage_id, node_id, session_id, expires_at) VALUES ($1,$2,$3,$4)
		ON CONFLICT (stage_id) DO UPDATE SET node_id=excluded.node_id, session_id=excluded.session_id, expires_at=excluded.expires_at
		WHERE live_publish_leases.node_id=excluded.node_id OR live_publish_leases.expires_at < $5
		RETURNING node_id`, stageID, node, session, Micros(until), Micros(now)).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) { // another node's lease, not expired: nothing was written
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return owner == node, nil
}

// RenewPublishLease extends node's lease of stageID for session until the
// given time, or takes it back when it expired (before now) and no one else
// took it. It reports false when the lease is gone (released, or another
// node's): unlike a claim it never makes a lease that is not there, so a
// renewal racing the broadcast's end cannot bring back its released lease.
func (l *Live) RenewPublishLease(ctx context.Context, stageID, node, session string, now, until time.Time) (bool, error) {
	res, err := l.db.ExecContext(ctx, `UPDATE live_publish_leases SET node_id=$2, session_id=$3, expires_at=$4
		WHERE stage_id=$1 AND ((node_id=$2 AND session_id=$3) OR expires_at < $5)`,
		stageID, node, session, Micros(until), Micros(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// ReleasePublishLease drops node's lease of stageID for session (a no-op
// when another node, or another of node's broadcasts, holds it).
func (l *Live) ReleasePublishLease(ctx context.Context, stageID, node, session string) error {
	_, err := l.db.ExecContext(ctx, `DELETE FROM live_publish_leases WHERE stage_id=$1 AND node_id=$2 AND session_id=$3`,
		stageID, node, session)
	return err
}
