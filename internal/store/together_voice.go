package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/hearth-community/hearth/internal/fault"
)

const voiceCols = `account_id, channel_id, community_id, username, self_mute, self_deaf, self_video, self_screen,
	server_mute, server_deaf, joined_at`

func scanVoice(row scanner) (*VoiceState, error) {
	var v VoiceState
	var joined int64
	if err := row.Scan(&v.UserID, &v.ChannelID, &v.CommunityID, &v.Username, &v.SelfMute, &v.SelfDeaf, &v.SelfVideo,
		&v.SelfScreen, &v.ServerMute, &v.ServerDeaf, &joined); err != nil {
		return nil, noRows(err)
	}
	v.JoinedAt = FromMicros(joined)
	return &v, nil
}

// SetVoice stores an account's voice state, replacing any other, and
// returns the one it replaced (nil when none). As Together, a moderator's
// server_mute and server_deaf stay with the account across the switch: v
// takes them from the state it replaces.
func (s *TogetherExtras) SetVoice(ctx context.Context, v *VoiceState) (*VoiceState, error) {
	var prev *VoiceState
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		p, err := scanVoice(tx.QueryRowContext(ctx, `SELECT `+voiceCols+` FROM together_voice_states WHERE account_id=$1`, v.UserID))
		if err != nil && !errors.Is(err, fault.NotFound) {
			return err
		}
		prev = p
		if p != nil {
			v.ServerMute, v.ServerDeaf = p.ServerMute, p.ServerDeaf
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO together_voice_states (`+voiceCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
			ON CONFLICT (account_id) DO UPDATE SET channel_id=excluded.channel_id, community_id=excluded.community_id,
			username=excluded.username, self_mute=excluded.self_mute, self_deaf=excluded.self_deaf, self_video=excluded.self_video,
			self_screen=excluded.self_screen, server_mute=excluded.server_mute, server_deaf=excluded.server_deaf,
			joined_at=excluded.joined_at`, v.UserID, v.ChannelID, v.CommunityID, v.Username, v.SelfMute, v.SelfDeaf, v.SelfVideo,
			v.SelfScreen, v.ServerMute, v.ServerDeaf, Micros(v.JoinedAt))
		return err
	})
	return prev, err
}

// Voice returns an account's voice state.
func (s *TogetherExtras) Voice(ctx context.Context, accountID string) (*VoiceState, error) {
	return scanVoice(s.db.QueryRowContext(ctx, `SELECT `+voiceCols+` FROM together_voice_states WHERE account_id=$1`, accountID))
}

// DeleteVoice removes an account's voice state (only in channelID when it
// is not empty) and returns what was removed.
func (s *TogetherExtras) DeleteVoice(ctx context.Context, accountID, channelID string) (*VoiceState, error) {
	var out *VoiceState
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		v, err := scanVoice(tx.QueryRowContext(ctx, `SELECT `+voiceCols+` FROM together_voice_states WHERE account_id=$1`, accountID))
		if err != nil {
			return err
		}
		if channelID != "" && v.ChannelID != channelID {
			return fault.NotFound
		}
		// Only the delete that removes the row read reports it: on
		// PostgreSQL two callers may both read it, the second's delete then
		// waits for the first and removes nothing (each node would announce
		// the leave).
		res, err := tx.ExecContext(ctx, `DELETE FROM together_voice_states WHERE account_id=$1 AND channel_id=$2`, accountID, v.ChannelID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return fault.NotFound
		}
		out = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// VoiceIn lists the voice states of a channel, by join time.
func (s *TogetherExtras) VoiceIn(ctx context.Context, channelID string) ([]*VoiceState, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+voiceCols+` FROM together_voice_states WHERE channel_id=$1 ORDER BY joined_at`, channelID)
	return collect(rows, err, scanVoice)
}

// VoiceAccounts lists the accounts that have a voice state, in any
// channel, or broadcast a go-live session.
func (s *TogetherExtras) VoiceAccounts(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT account_id FROM together_voice_states
		UNION SELECT broadcaster_id FROM together_go_live`)
	return collect(rows, err, func(row scanner) (string, error) {
		var id string
		err := row.Scan(&id)
		return id, err
	})
}

// SetVoiceServerMute stores a moderator's server_mute of an account's
// voice state and returns the state (fault.NotFound when it has none).
func (s *TogetherExtras) SetVoiceServerMute(ctx context.Context, accountID string, mute bool) (*VoiceState, error) {
	return scanVoice(s.db.QueryRowContext(ctx, `UPDATE together_voice_states SET server_mute=$2 WHERE account_id=$1
		RETURNING `+voiceCols, accountID, mute))
}

// UpdateVoice stores the self_* flags of an existing state.
func (s *TogetherExtras) UpdateVoice(ctx context.Context, v *VoiceState) error {
	res, err := s.db.ExecContext(ctx, `UPDATE together_voice_states SET self_mute=$2, self_deaf=$3, self_video=$4, self_screen=$5
		WHERE account_id=$1 AND channel_id=$6`, v.UserID, v.SelfMute, v.SelfDeaf, v.SelfVideo, v.SelfScreen, v.ChannelID)
	if err != nil {
		return err
	}
	return expectOne(res)
}
