package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

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
		sc, err := live.NewStageChannels(a.Live, a.Community, a.Community.Store(), a.Log.With("component", "stages"))
		if err != nil {
			return nil
		}
		a.stages = sc
	}
	return a.stages
}

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
