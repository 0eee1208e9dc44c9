package app

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/rtmp"
)

// liveService names the live domain for the App field.
type liveService = live.Service

// wireLive builds the live-streaming service (stages, stream keys, HLS
// origin) and the RTMP ingest listener. The Owncast surface serves its
// routes (wire_owncast.go passes a.Live in owncast.Deps).
func (a *App) wireLive(ctx context.Context) error {
	cfg := a.Config
	port := 0
	if cfg.RTMPAddr != "" {
		if _, p, err := net.SplitHostPort(cfg.RTMPAddr); err == nil {
			port, _ = strconv.Atoi(p)
		}
	}
	// Viewer counts are shared between nodes: a viewer is counted by the
	// node its pings reach.
	viewers, err := a.presenceTracker("live", a.Log.With("component", "live"))
	if err != nil {
		return fmt.Errorf("live: %w", err)
	}
	svc, err := live.New(ctx, live.Config{DataDir: cfg.DataDir, FFmpegPath: cfg.FFmpegPath, RTMPPort: port,
		TempStreamKey: cfg.StreamKey, DefaultStreamKey: cfg.DefaultStreamKey, Viewers: viewers}, a.DB.Live(), a.Bus, a.Log.With("component", "live"))
	if err != nil {
		return fmt.Errorf("live: %w", err)
	}
	a.Live = svc
	if cfg.RTMPAddr != "" {
		srv, err := rtmp.NewServer(rtmp.Config{Addr: cfg.RTMPAddr}, svc, a.Log.With("component", "rtmp"))
		if err != nil {
			return err
		}
		if ta, ok := srv.Addr().(*net.TCPAddr); ok {
			svc.SetIngestPort(ta.Port) // the bound port, also when --rtmp-addr asks for :0
		}
		a.runners = append(a.runners, srv.Run)
	}
	a.runners = append(a.runners, svc.Run)
	return nil
}

// stageChannelsService names live's stage-channel rules for the App field.
type stageChannelsService = live.StageChannels
