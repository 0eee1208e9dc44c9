package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/surface/together"
)

// wireStages links stage channels to stages (the rules are live's
// StageChannels); it runs after the live and community services exist.
func (a *App) wireStages(ctx context.Context) error {
	l := a.stageChannels()
	if l == nil {
		return nil
	}
	if err := a.onCommunityEvents("stages", l.OnCommunityEvent); err != nil {
		return err
	}
	// A disabled account stops playing stage channels at once, on every
	// node (its signed HLS URL and its WebRTC sessions outlive its
	// sign-in; enabledMembers refuses it from then on).
	if err := a.onAccountRevoked("stages", func(ctx context.Context, accountID string) {
		if active, err := a.Identity.Active(ctx, accountID); err == nil && !active {
			l.AccountDisabled(ctx, accountID)
		}
	}); err != nil {
		return err
	}
	// A demoted instance admin stops watching, on every node, the stage
	// channels it watched only as an admin (it stays signed in, and keeps
	// what its memberships give it).
	if err := a.onAccountDemoted("stages", l.AccountDemoted); err != nil {
		return err
	}
	// Stages of channels deleted while no node ran go at start.
	a.runners = append(a.runners, func(ctx context.Context) error {
		l.Sweep(ctx)
		return nil
	})
	return nil
}

// stageChannels is the live domain's stage-channel service (nil without
// live streaming or communities).
func (a *App) stageChannels() *live.StageChannels {
	if a.Live == nil || a.Community == nil {
		return nil
	}
	if a.stages == nil {
		sc, err := live.NewStageChannels(a.Live, enabledMembers{a}, a.Community.Store(), a.Log.With("component", "stages"))
		if err != nil {
			return nil
		}
		a.stages = sc
		// A stage channel's key streams only while its holder manages
		// the channel.
		a.Live.SetPublishGate(sc)
	}
	return a.stages
}

// enabledMembers is the community service as the stage-channel rules see
// it: an account that may not act (disabled or deleted; a bot revoked, or
// whose maker is disabled or deleted: identity.Active) is no one's member,
// so a signed HLS URL, a WebRTC session, a held stream key or the stage
// routes it got before play and stream nothing more.
type enabledMembers struct{ a *App }

func (m enabledMembers) ChannelAccess(ctx context.Context, accountID, channelID string) (*community.ChannelAccess, error) {
	active, err := m.a.Identity.Active(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if !active {
		return nil, community.ErrChannelNotFound
	}
	return m.a.Community.ChannelAccess(ctx, accountID, channelID)
}

// InstanceAdmin is live.InstanceAdmins: an instance admin who may act
// (identity.Active) watches every stage over WHEP (recordingGate.Access),
// and the recheck of their sessions on community events keeps them.
func (m enabledMembers) InstanceAdmin(ctx context.Context, accountID string) (bool, error) {
	active, err := m.a.Identity.Active(ctx, accountID)
	if err != nil || !active {
		return false, err
	}
	acct, err := m.a.Identity.Account(ctx, accountID)
	if errors.Is(err, fault.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return acct.IsAdmin, nil
}

var _ live.InstanceAdmins = enabledMembers{}

// stageChats is the Together surface's view of it (a nil interface, not
// a nil pointer, when there is none).
func (a *App) stageChats() together.StageChats {
	if sc := a.stageChannels(); sc != nil {
		return sc
	}
	return nil
}

// stageURLKey is the instance's key for signed stage playlist URLs,
// shared by every node.
func (a *App) stageURLKey(ctx context.Context) ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := a.Identity.Store().SetInstanceValueOnce(ctx, "stage.hls_url_key", hex.EncodeToString(b))
	if err != nil {
		return nil, fmt.Errorf("stages: url key: %w", err)
	}
	return []byte(v), nil
}
