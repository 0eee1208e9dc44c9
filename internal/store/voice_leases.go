package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/hearth-community/hearth/internal/voice"
)

// VoiceLeases keeps which node runs which voice channel's SFU room.
type VoiceLeases struct{ db *DB }

// VoiceLeases returns the voice lease store on db.
func (db *DB) VoiceLeases() *VoiceLeases { return &VoiceLeases{db: db} }

var _ voice.LeaseStore = (*VoiceLeases)(nil)

// ClaimVoiceLease takes (or extends) channelID's lease for node until the
// given time if it is free, expired (before now) or node's already, and
// returns the node holding it afterwards.
func (s *VoiceLeases) ClaimVoiceLease(ctx context.Context, channelID, node string, now, until time.Time) (string, error) {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO voice_leases (channel_id, node_id, expires_at) VALUES ($1,$2,$3)
		ON CONFLICT (channel_id) DO UPDATE SET node_id=excluded.node_id, expires_at=excluded.expires_at
		WHERE voice_leases.node_id=excluded.node_id OR voice_leases.expires_at < $4`,
		channelID, node, Micros(until), Micros(now)); err != nil {
		return "", err
	}
	var owner string
	err := s.db.QueryRowContext(ctx, `SELECT node_id FROM voice_leases WHERE channel_id=$1`, channelID).Scan(&owner)
	return owner, err
}

// ReleaseVoiceLease drops node's lease on channelID (a no-op when another
// node holds it).
func (s *VoiceLeases) ReleaseVoiceLease(ctx context.Context, channelID, node string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM voice_leases WHERE channel_id=$1 AND node_id=$2`, channelID, node)
	return err
}

// VoiceLeaseOwner returns the node holding a live lease on channelID, or "".
func (s *VoiceLeases) VoiceLeaseOwner(ctx context.Context, channelID string, now time.Time) (string, error) {
	var owner string
	err := s.db.QueryRowContext(ctx, `SELECT node_id FROM voice_leases WHERE channel_id=$1 AND expires_at >= $2`,
		channelID, Micros(now)).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return owner, err
}
