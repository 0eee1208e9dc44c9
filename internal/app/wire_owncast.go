package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/gateway"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/schedule"
	"github.com/hearth-community/hearth/internal/stagechat"
	"github.com/hearth-community/hearth/internal/surface/owncast"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// wireOwncast builds the stage chat, webhooks and Owncast's surface and
// registers its routes on a.HTTP.
func (a *App) wireOwncast(ctx context.Context) error {
	logs := owncast.NewLogBuffer(500)
	stageLog := slog.New(logs.Handler(a.Log.Handler()))
	log := stageLog.With("component", "owncast")
	// The one message store: Together's service when it is wired (it
	// enforces the community rules on every channel post), else a service
	// over the same tables and bus.
	msgs := a.Messages
	if msgs == nil {
		var err error
		if msgs, err = messages.New(a.DB.Messages(), a.Bus, a.Log.With("component", "messages")); err != nil {
			return err
		}
	}
	defaults := stagechat.DefaultSettings()
	stageDefaults(&a.Config, &defaults)
	// Owncast's chat is the default stage's chat: its conversation in the
	// message store is the stage's id, so other surfaces find it by stage.
	conversation := ""
	if a.Live != nil {
		conversation = a.Live.DefaultStageID()
	}
	// Chat users are counted on every node, so joins and parts are
	// announced once for the cluster.
	chatters, err := a.presenceTracker("stagechat", "", log.With("component", "stagechat"))
	if err != nil {
		return err
	}
	// The chat's pace is per account for every writer into it (a chat
	// socket, the others of the same account, a Together post into a
	// bound stage channel); the Owncast surface's FloodRate below stays
	// its per-connection limit, which also paces the socket's other frames.
	chatCfg := stagechat.Config{Life: a.lifeCtx(), Defaults: defaults, Conversation: conversation,
		Presence: stagechat.PresenceConfig{Cluster: chatters}, FloodRate: a.Config.ChatFloodRate, FloodBlock: 10 * time.Second,
		Limits: a.limits}
	if sc := a.stageChannels(); sc != nil {
		// A stage channel actor's fediverse engagement goes to the
		// channel's chat, wherever its messages live.
		chatCfg.ChannelChat = sc.ChatOf
		// The chat of the default stage is also the chat of the stage
		// channels bound to it: their communities' timeouts hold there.
		chatCfg.MaySpeak = sc.MaySpeakInChat
	}
	chat, err := stagechat.New(ctx, chatCfg, a.DB.StageChat(), a.Identity, msgs, a.Bus,
		log.With("component", "stagechat"))
	if err != nil {
		return err
	}
	a.StageChat = chat
	// The chat's rules (switched off, disabled users, sign-in and
	// established-user modes, the word filter) hold for every writer into
	// it: a stage channel bound to the default stage posts there too.
	msgs.AddRules(chat)
	a.closers = append(a.closers, func() error { chat.Presence().Close(); return nil })
	emoji, err := stagechat.OpenEmojiDir(filepath.Join(a.Config.DataDir, "emoji"))
	if err != nil {
		return err
	}
	a.closers = append(a.closers, emoji.Close)
	// Uploads are kept in the database, for every node to list and serve;
	// the others read their listing again when told.
	emoji.Share(a.DB.StageChat(), func() {
		if err := a.Bus.Publish(a.lifeCtx(), stagechat.EmojiTopic, []byte(`{}`)); err != nil {
			log.Warn("publish emoji change", "err", err)
		}
	})
	out, err := egress.New(egress.Config{Timeout: 15 * time.Second, MaxBodyBytes: 64 << 10})
	if err != nil {
		return err
	}
	hooks, err := webhooks.New(webhooks.Config{Bus: a.Bus}, a.DB.Webhooks(), a.webhookEngine, a.webhookClient, log.With("component", "webhooks"))
	if err != nil {
		return err
	}
	a.webhooks = hooks // RECORDING_READY (wire_recordings.go)
	sched, err := schedule.New(a.DB.Schedule(), log, nil)
	if err != nil {
		return err
	}
	// Go-live notifications and reminders wait in the webhooks' durable
	// queue and are sent by workers of their own (golive.Run).
	golive, err := stagechat.NewGoLive(chat, stagechat.GoLiveConfig{Client: out, Queue: a.DB.WebhookQueue(),
		Headline: scheduledHeadline(sched, log)})
	if err != nil {
		return err
	}
	a.runners = append(a.runners, golive.Run)
	stopReminders := runScheduleReminders(a.lifeCtx(), sched, chat, golive, hooks, log)
	a.closers = append(a.closers, func() error { stopReminders(); return nil })
	// Profile pages may be larger than webhook answers.
	authOut, err := egress.New(egress.Config{Timeout: 15 * time.Second, MaxBodyBytes: 1 << 20})
	if err != nil {
		return err
	}
	indie, err := stagechat.NewIndieAuth(chat, a.DB.StageChat(), stagechat.IndieAuthConfig{Client: authOut})
	if err != nil {
		return err
	}
	var surface *owncast.Surface // set below; engagement before then has no webhook
	var surfaceMu sync.Mutex
	fed, err := newFederation(a, chat, log, func(ctx context.Context, e federation.Engagement) {
		chat.FederationEngagement(ctx, e)
		surfaceMu.Lock()
		sf := surface
		surfaceMu.Unlock()
		if sf != nil {
			sf.FediverseWebhook(e)
		}
	})
	if err != nil {
		return err
	}
	fediAuth, err := stagechat.NewFediverseAuth(chat, a.DB.StageChat(), fed)
	if err != nil {
		return err
	}
	dir, err := newDirectory(a, chat, log)
	if err != nil {
		return err
	}
	hub, err := a.NewHub(gateway.Config{
		InsecureSkipVerify: true, // Owncast's chat accepts any Origin
		ReadLimit:          2 * owncast.MaxSocketPayload,
		PingInterval:       54 * time.Second,
		PongTimeout:        60 * time.Second,
	}, "owncast")
	if err != nil {
		return err
	}
	var gate owncast.StageGate
	var urlKey []byte
	if a.Live != nil && a.Community != nil {
		if urlKey, err = a.stageURLKey(ctx); err != nil {
			return err
		}
		gate = a.stageChannels()
	}
	s, err := owncast.New(owncast.Deps{Life: a.lifeCtx(), Limits: a.limits, Schedule: sched, Stages: gate, StageURLKey: urlKey, Log: stageLog, Identity: a.Identity, Chat: chat, Emoji: emoji, Hub: hub, Webhooks: hooks, Live: a.Live, GoLive: golive, IndieAuth: indie, Federation: fed, FediverseAuth: fediAuth, Directory: dir,
		WebServerPort: tcpPort(a.HTTP.Addr()),
		Chats: owncast.ChatOptions{DataDir: a.Config.DataDir, TrustProxy: a.Config.TrustProxy, Version: "hearth (owncast api 0.1.3)",
			FloodRate: floodRate(a.Config.ChatFloodRate), Logs: logs, MaxConnections: maxChatConnections(), FloodBlock: 10 * time.Second}})
	if err != nil {
		return err
	}
	chat.SetHook(s.ChatEventWebhooks)
	surfaceMu.Lock()
	surface = s
	surfaceMu.Unlock()
	for pattern, h := range map[string]func(bus.Message){
		stagechat.SettingsTopic: func(bus.Message) {
			if err := chat.ReloadSettings(a.lifeCtx()); err != nil {
				log.Warn("reload stage settings", "err", err)
			}
		},
		// An emoji uploaded or deleted on another node.
		stagechat.EmojiTopic: func(bus.Message) { emoji.Invalidate() },
		// A webhook created or deleted on another node.
		webhooks.ChangedTopic: func(bus.Message) { hooks.Invalidate() },
		// CHAT webhooks for messages other surfaces post into the stage chat.
		messages.Topic(chat.Conversation()): func(m bus.Message) { s.StageMessageWebhook(m.Data) },
		identity.RevokedTopic: func(m bus.Message) {
			var r identity.Revoked
			if json.Unmarshal(m.Data, &r) != nil || r.AccountID == "" {
				return
			}
			if acct, err := a.Identity.Account(a.lifeCtx(), r.AccountID); err == nil && acct.Disabled() {
				s.AccountDisabled(r.AccountID)
			}
		},
	} {
		sub, err := a.Bus.Subscribe(pattern, h)
		if err != nil {
			return fmt.Errorf("owncast: subscribe %s: %w", pattern, err)
		}
		a.closers = append(a.closers, sub.Unsubscribe)
	}
	s.Register(a.HTTP)
	return nil
}

// stageDefaults fills the instance texts of a fresh data dir from config.
func stageDefaults(cfg *config.Config, d *stagechat.Settings) {
	d.Name, d.Summary, d.ExtraPageContent = cfg.StageName, cfg.StageSummary, cfg.StagePageContent
	d.Tags = append([]string{}, cfg.StageTags...)
	d.SocialHandles = []stagechat.SocialHandle{}
	for _, h := range cfg.StageSocialHandles {
		if platform, u, ok := strings.Cut(h, "="); ok {
			d.SocialHandles = append(d.SocialHandles, stagechat.SocialHandle{Platform: platform, URL: u})
		}
	}
}

// floodRate maps the config (0 = off) onto ChatOptions (negative = off).
func floodRate(r float64) float64 {
	if r == 0 {
		return -1
	}
	return r
}

// maxChatConnections is Owncast's cap: 70 % of the open-file limit.
func maxChatConnections() int {
	return int(float64(openFileLimit()) * 0.7)
}

// scheduledHeadline names the scheduled event a stream going live belongs
// to, for the go-live notifications ("" when none matches).
func scheduledHeadline(sched *schedule.Service, log *slog.Logger) func(context.Context) string {
	return func(ctx context.Context) string {
		ev, ok, err := sched.Matching(ctx)
		if err != nil {
			log.Warn("scheduled event for go-live", "err", err)
		}
		if !ok {
			return ""
		}
		return ev.Name
	}
}

// runScheduleReminders sends the scheduled streams' reminders and
// lifecycle webhooks: every minute, each due reminder goes out through the
// go-live channels and each lifecycle moment as a SCHEDULED_EVENTS
// webhook, each claimed once per cluster. It runs until life ends; the
// returned func waits for that.
func runScheduleReminders(life context.Context, sched *schedule.Service, chat *stagechat.Service, golive *stagechat.GoLive, hooks *webhooks.Service, log *slog.Logger) func() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-life.Done():
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(life, time.Minute)
			// Each claim is taken with its deliveries, in one transaction
			// (Remind, DispatchOnce): a node that dies between them leaves
			// the reminder or moment unclaimed, and the next round (any
			// node's, within its grace) queues it; once queued, any node
			// sends it.
			err := sched.SendDueReminders(ctx, claimWithSend, func(ctx context.Context, r schedule.Reminder) {
				if _, err := golive.Remind(ctx, r.Key, r.Text); err != nil && life.Err() == nil {
					log.Warn("scheduled stream reminder", "key", r.Key, "err", err)
				}
			})
			if err == nil {
				err = sched.SendDueLifecycle(ctx, claimWithSend, func(ctx context.Context, l schedule.Lifecycle) {
					if _, err := hooks.DispatchOnce(ctx, l.Key, webhooks.ScheduledEvents,
						scheduledEventData(l, chat.Settings().ServerURL, time.Now())); err != nil && life.Err() == nil {
						log.Warn("scheduled stream webhook", "key", l.Key, "err", err)
					}
				})
			}
			cancel()
			if err != nil && life.Err() == nil {
				log.Warn("scheduled stream reminders and webhooks", "err", err)
			}
		}
	}()
	return func() { <-done }
}

// claimWithSend is the claim of a schedule moment whose send claims it
// itself (atomically with what it sends): every due moment goes to send.
func claimWithSend(context.Context, string) (bool, error) { return true, nil }

// scheduledEventData is the eventData of Owncast's SCHEDULED_EVENTS
// webhook: the action, the event, the server URL and when.
func scheduledEventData(l schedule.Lifecycle, serverURL string, at time.Time) map[string]any {
	e := l.Event
	return map[string]any{"action": l.Action, "serverURL": serverURL, "timestamp": at.UTC(),
		"event": map[string]any{"id": e.ID, "name": e.Name, "description": e.Description,
			"startTime": e.Start.UTC(), "durationMinutes": e.DurationMinutes, "timezone": e.Timezone, "status": e.Status}}
}

// tcpPort is a listener's TCP port (0: not TCP).
func tcpPort(a net.Addr) int {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.Port
	}
	return 0
}
