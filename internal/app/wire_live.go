package app

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/hearth-community/hearth/internal/bus"
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
	// The RTMP listener is bound first, so that the port the live service
	// hands out (and RTMPAddr reports) is the bound one, also with ":0".
	port := 0
	var ln net.Listener
	if cfg.RTMPAddr != "" {
		var err error
		if ln, err = net.Listen("tcp", cfg.RTMPAddr); err != nil {
			return fmt.Errorf("rtmp: listen %s: %w", cfg.RTMPAddr, err)
		}
		a.closers = append(a.closers, func() error { _ = ln.Close(); return nil })
		port = ln.Addr().(*net.TCPAddr).Port
	}
	node, err := nodeID(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("live: %w", err)
	}
	peerKey, err := a.clusterPeerKey(ctx, node)
	if err != nil {
		return err
	}
	a.node, a.peerKey = node, peerKey
	// Viewer counts are shared between nodes: a viewer is counted by the
	// node its pings reach. The tracker names this node by its node id,
	// so that the others find where a stage's broadcast runs (the node
	// counting its broadcast key) and its URL (nodeURLs).
	viewers, err := a.presenceTracker("live", node, a.Log.With("component", "live"))
	if err != nil {
		return fmt.Errorf("live: %w", err)
	}
	svc, err := live.New(ctx, live.Config{DataDir: cfg.DataDir, FFmpegPath: cfg.FFmpegPath, RTMPPort: port,
		TempStreamKey: cfg.StreamKey, DefaultStreamKey: cfg.DefaultStreamKey, Viewers: viewers, Peers: nodeURLs{a}, PeerKey: peerKey,
		NodeID: node, Limits: a.limits},
		a.DB.Live(), a.Bus, a.Log.With("component", "live"))
	if err != nil {
		return fmt.Errorf("live: %w", err)
	}
	a.Live = svc
	// The admin's disconnect asked of another node reaches the one running
	// the broadcast.
	sub, err := a.Bus.Subscribe(live.DisconnectTopicPrefix+">", func(m bus.Message) {
		svc.DisconnectLocal(strings.TrimPrefix(m.Topic, live.DisconnectTopicPrefix))
	})
	if err != nil {
		return fmt.Errorf("live: subscribe %s: %w", live.DisconnectTopicPrefix, err)
	}
	a.closers = append(a.closers, sub.Unsubscribe)
	// The video settings an admin changed on another node (ffmpeg path,
	// S3, the video serving endpoint) hold here too.
	sub, err = a.Bus.Subscribe(live.SettingsTopic, func(bus.Message) {
		if err := svc.ReloadSettings(a.lifeCtx()); err != nil {
			a.Log.Warn("live: reload settings", "err", err)
		}
	})
	if err != nil {
		return fmt.Errorf("live: subscribe %s: %w", live.SettingsTopic, err)
	}
	a.closers = append(a.closers, sub.Unsubscribe)
	if cfg.RTMPAddr != "" {
		srv, err := rtmp.NewServer(rtmp.Config{Listener: ln}, svc, a.Log.With("component", "rtmp"))
		if err != nil {
			return err
		}
		a.rtmpAddr = ln.Addr()
		if ta, ok := srv.Addr().(*net.TCPAddr); ok {
			svc.SetIngestPort(ta.Port) // the bound port, also when --rtmp-addr asks for :0
		}
		a.runners = append(a.runners, srv.Run)
	}
	a.runners = append(a.runners, svc.Run)
	return nil
}

// RTMPAddr is the address the RTMP ingest listens on (nil without one);
// with --rtmp-addr on port 0 it is the port the OS chose.
func (a *App) RTMPAddr() net.Addr { return a.rtmpAddr }

// stageChannelsService names live's stage-channel rules for the App field.
type stageChannelsService = live.StageChannels
