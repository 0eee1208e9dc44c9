package app

import (
	"context"
	"path/filepath"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/gateway"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/surface/together"
)

// wireTogether builds the community and message services and Together's
// surface (REST bare and under /api/, gateway at /ws?token=).
func (a *App) wireTogether(ctx context.Context) error {
	log := a.Log.With("component", "together")
	msgs, err := messages.New(a.DB.Messages(), a.Bus, a.Log.With("component", "messages"))
	if err != nil {
		return err
	}
	comm, err := community.New(a.DB.Community(), a.Bus, msgs, a.Log.With("component", "community"))
	if err != nil {
		return err
	}
	// The rules of a community conversation (permissions, timeouts,
	// automod, mentions) hold for every writer into a channel.
	comm.SetModeration(a.DB.TogetherExtras())
	msgs.SetRules(comm)
	a.Messages, a.Community = msgs, comm
	// Together authenticates sockets with an explicit ?token=, never with
	// ambient credentials, and its clients connect from other origins (the
	// Vite dev server, the desktop app): no Origin check, as upstream.
	hub, err := a.NewHub(gateway.Config{InsecureSkipVerify: true, ReadLimit: together.MaxFrameBytes, IdleTimeout: together.IdleTimeout}, "together")
	if err != nil {
		return err
	}
	out, err := egress.New(egress.Config{Timeout: 5 * time.Second, MaxBodyBytes: 1 << 20})
	if err != nil {
		return err
	}
	turnURLs, turnSecret, err := a.wireTURN(ctx)
	if err != nil {
		return err
	}
	sfu := a.voiceSFU(comm)
	calls, err := a.wireCalls(comm, sfu)
	if err != nil {
		return err
	}
	s, err := together.New(together.Deps{Life: a.lifeCtx(), Log: log, Identity: a.Identity, Community: comm, Messages: msgs, Bus: a.Bus, PresenceBus: a.Bus,
		Sub: busSubscriber(a.Bus), Hub: hub, Bots: a.DB.TogetherBots(), DBPing: a.DB.Ping, Version: "hearth",
		Extras: a.DB.TogetherExtras(), Voice: a.DB.TogetherExtras(), Calls: calls, Webhooks: a.DB.TogetherExtras(), WebhookEngine: a.webhookEngine, WebhookReach: a.communityReach(), UploadDir: filepath.Join(a.Config.DataDir, "uploads"), UploadMinFree: a.Config.UploadMinFree, UploadQuota: a.Config.UploadQuota, NodeID: a.node, Peers: nodeURLs{a}, PeerKey: a.peerKey, Limits: a.limits, Egress: out,
		AuthRate: a.Config.TogetherAuthRate, BotRate: a.Config.TogetherBotRate, MessageRate: a.Config.TogetherMessageRate, JoinRate: together.JoinsPerSec, SocketsPerAccount: a.Config.TogetherSockets, TrustProxy: a.Config.TrustProxy, AllowedOrigins: a.Config.AllowedOrigins,
		TurnURLs: turnURLs, TurnSecret: turnSecret, GiphyAPIKey: a.Config.GiphyAPIKey, StageChats: a.stageChats(), SFU: sfu})
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	a.closers = append(a.closers, s.Close)
	s.Register(a.HTTP)
	return nil
}
