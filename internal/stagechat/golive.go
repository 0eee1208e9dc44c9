package stagechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/webpush"
)

// ChannelBrowserPush is Owncast's only registrable notification channel.
const ChannelBrowserPush = "BROWSER_PUSH_NOTIFICATION"

// vapidKey is the instance value holding the browser push key pair,
// generated once for every node.
const vapidKey = "owncast_browser_push_vapid"

// maxDestination bounds a stored destination (a push subscription is a few
// hundred bytes).
const maxDestination = 4096

// RegisterNotification stores a go-live notification destination. Only
// browser push subscriptions are accepted, and only ones that can be sent
// to (an https endpoint, a P-256 key, a 16-byte auth secret).
func (s *Service) RegisterNotification(ctx context.Context, channel, destination string) error {
	if channel != ChannelBrowserPush {
		return fault.New(fault.Invalid, "invalid notification channel: "+channel)
	}
	if len(destination) > maxDestination {
		return fault.New(fault.Invalid, "unable to save notification")
	}
	if _, err := webpush.ParseSubscription([]byte(destination)); err != nil {
		return fault.New(fault.Invalid, "unable to save notification: not a push subscription")
	}
	return s.st.AddNotification(ctx, channel, destination, s.now().UTC())
}

// BrowserPushKeys returns the instance's VAPID key pair, creating it on
// first use (one pair shared by every node).
func (s *Service) BrowserPushKeys(ctx context.Context) (webpush.VAPID, error) {
	s.vapidMu.Lock()
	defer s.vapidMu.Unlock()
	if s.vapid.PublicKey != "" {
		return s.vapid, nil
	}
	gen, err := webpush.GenerateVAPID()
	if err != nil {
		return webpush.VAPID{}, err
	}
	raw, _ := json.Marshal(map[string]string{"public": gen.PublicKey, "private": gen.PrivateKey})
	stored, err := s.st.SetInstanceValueOnce(ctx, vapidKey, string(raw))
	if err != nil {
		return webpush.VAPID{}, fmt.Errorf("stagechat: browser push keys: %w", err)
	}
	var kp map[string]string
	if err := json.Unmarshal([]byte(stored), &kp); err != nil || kp["public"] == "" {
		return webpush.VAPID{}, errors.New("stagechat: stored browser push keys are unreadable")
	}
	s.vapid = webpush.VAPID{PublicKey: kp["public"], PrivateKey: kp["private"]}
	return s.vapid, nil
}

// GoLiveConfig tunes go-live notifications (Owncast: 2 minutes after the
// stream starts, at most once per 10 minutes).
type GoLiveConfig struct {
	Delay    time.Duration
	Throttle time.Duration
	// Client sends Discord webhooks and browser pushes: the SSRF-safe
	// egress client.
	Client webpush.Doer
	// Headline, when set, names what is starting (the scheduled event the
	// stream belongs to, "" for none); the notifications carry it.
	Headline func(context.Context) string
	// Life is the node's lifetime: a round of notifications, sent on a
	// timer, takes its context from it, so shutdown cancels a round in
	// flight. nil: the chat service's Life.
	Life context.Context
	// PushTimeout bounds one browser push (default 10 s).
	PushTimeout time.Duration
}

// pushWorkers is how many browser pushes of a round are in flight at once.
// Any chat user may register a subscription, on any push service: one whose
// service never answers holds a worker for PushTimeout, where sending them
// one after another let a few such subscriptions ahead of everyone else's
// use up the round's two minutes.
const pushWorkers = 16

// GoLive sends Owncast's go-live notifications: a Discord webhook message
// and a browser push to every registered subscription.
type GoLive struct {
	chat *Service
	cfg  GoLiveConfig

	mu      sync.Mutex
	pending *time.Timer
	sent    chan struct{} // closed and replaced after each round (tests)
}

// goLiveLastKey is the instance value that held when the last round of
// go-live notifications went out (RFC 3339), before the rounds' claims
// recorded it; it is read, never written.
const goLiveLastKey = "owncast.golive.last"

// goLiveClaimPrefix starts the claim key of a round of go-live
// notifications (followed by the previous round's time, in microseconds).
const goLiveClaimPrefix = "golive:"

// NewGoLive builds the notifier.
func NewGoLive(chat *Service, cfg GoLiveConfig) (*GoLive, error) {
	if chat == nil || cfg.Client == nil {
		return nil, errors.New("stagechat: go-live notifier needs the chat and an HTTP client")
	}
	if cfg.Delay <= 0 {
		cfg.Delay = 2 * time.Minute
	}
	if cfg.Throttle <= 0 {
		cfg.Throttle = 10 * time.Minute
	}
	if cfg.Life == nil {
		cfg.Life = chat.cfg.Life
	}
	if cfg.PushTimeout <= 0 {
		cfg.PushTimeout = 10 * time.Second
	}
	return &GoLive{chat: chat, cfg: cfg, sent: make(chan struct{})}, nil
}

// StreamChanged is called on the node where the stream started or
// stopped: a start schedules the notifications after the delay, a stop
// before then cancels them.
func (g *GoLive) StreamChanged(online bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pending != nil {
		g.pending.Stop()
		g.pending = nil
	}
	if online {
		g.pending = time.AfterFunc(g.cfg.Delay, g.fire)
	}
}

// Sent returns a channel closed when the next notification round ends
// (sent, throttled or nothing to send).
func (g *GoLive) Sent() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sent
}

func (g *GoLive) fire() {
	g.mu.Lock()
	g.pending = nil
	g.mu.Unlock()
	ctx, cancel := context.WithTimeout(g.cfg.Life, 2*time.Minute)
	if ok, err := g.claimRound(ctx); err != nil {
		g.chat.log.Warn("go-live notifications: throttle", "err", err)
	} else if ok {
		g.Notify(ctx)
	}
	cancel()
	g.mu.Lock()
	close(g.sent)
	g.sent = make(chan struct{})
	g.mu.Unlock()
}

// claimRound reports whether a round may go out now: none went out, on any
// node, within the throttle (a stream that moves to another node does not
// notify twice). The round's claim is its record: the last round is the
// latest go-live claim, and the claim is keyed by it, so of the nodes that
// read the same last round exactly one moves it on. (The record was once a
// separate write after the claim: a node killed between the two left the
// claim of the last round taken and the record unmoved, and no round went
// out, on any node, until the claim was pruned a day or more later.)
func (g *GoLive) claimRound(ctx context.Context) (bool, error) {
	now := g.chat.now().UTC()
	last, err := g.chat.st.LastEventClaim(ctx, goLiveClaimPrefix)
	if err != nil {
		return false, err
	}
	// A round recorded the old way (before an upgrade) counts too.
	if v, err := g.chat.st.InstanceValue(ctx, goLiveLastKey); err == nil {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil && t.After(last) {
			last = t
		}
	} else if !errors.Is(err, fault.NotFound) {
		return false, err
	}
	if !last.IsZero() && now.Sub(last) < g.cfg.Throttle {
		return false, nil
	}
	return g.chat.ClaimOnce(ctx, goLiveClaimPrefix+strconv.FormatInt(last.UnixMicro(), 10))
}

// Notify sends the notifications now.
func (g *GoLive) Notify(ctx context.Context) {
	set := g.chat.Settings()
	headline := ""
	if g.cfg.Headline != nil {
		headline = g.cfg.Headline(ctx)
	}
	if d := set.Notifications.Discord; d.Enabled && d.Webhook != "" {
		msg := d.GoLiveMessage
		if headline != "" {
			msg += "\n" + headline
		}
		if set.StreamTitle != "" {
			msg += "\n" + set.StreamTitle
		}
		if err := g.discord(ctx, set, msg); err != nil {
			g.chat.log.Warn("go-live discord notification", "err", err)
		}
	}
	if set.Notifications.Browser.Enabled {
		body := set.Notifications.Browser.GoLiveMessage
		if headline != "" {
			body += "\n" + headline
		}
		g.browser(ctx, set, body, "owncast-go-live")
	}
}

// Remind sends a scheduled stream's reminder (its text names the event and
// its start) to the same channels as the go-live notifications, as
// Owncast's scheduled-event notifications: the Discord webhook and every
// browser push subscription, each when enabled.
func (g *GoLive) Remind(ctx context.Context, text string) {
	set := g.chat.Settings()
	if d := set.Notifications.Discord; d.Enabled && d.Webhook != "" {
		if err := g.discord(ctx, set, text); err != nil {
			g.chat.log.Warn("scheduled stream reminder: discord", "err", err)
		}
	}
	if set.Notifications.Browser.Enabled {
		g.browser(ctx, set, text, "owncast-schedule-reminder")
	}
}

func (g *GoLive) discord(ctx context.Context, set Settings, msg string) error {
	msg = fmt.Sprintf("%s\n\n%s", msg, set.ServerURL)
	avatar := ""
	if set.ServerURL != "" {
		avatar = strings.TrimRight(set.ServerURL, "/") + "/logo"
	}
	body, _ := json.Marshal(map[string]string{"username": set.Name, "content": msg, "avatar_url": avatar})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, set.Notifications.Discord.Webhook, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 16<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("discord answered %d", resp.StatusCode)
	}
	return nil
}

func (g *GoLive) browser(ctx context.Context, set Settings, body, topic string) {
	keys, err := g.chat.BrowserPushKeys(ctx)
	if err != nil {
		g.chat.log.Error("go-live browser push keys", "err", err)
		return
	}
	dests, err := g.chat.st.NotificationDestinations(ctx, ChannelBrowserPush)
	if err != nil {
		g.chat.log.Error("go-live browser push destinations", "err", err)
		return
	}
	payload, _ := json.Marshal(map[string]string{"title": set.Name, "body": body, "icon": "/logo/external"})
	o := webpush.Options{VAPID: keys, TTL: 120 * time.Second, Topic: topic}
	if strings.HasPrefix(set.ServerURL, "https://") {
		o.Subscriber = set.ServerURL
	}
	queue := make(chan string)
	var wg sync.WaitGroup
	for range min(pushWorkers, len(dests)) {
		wg.Go(func() {
			for d := range queue {
				g.push(ctx, d, payload, o)
			}
		})
	}
	for _, d := range dests {
		queue <- d
	}
	close(queue)
	wg.Wait()
}

// push sends one browser push, within PushTimeout, and forgets a
// subscription its push service says is gone.
func (g *GoLive) push(ctx context.Context, d string, payload []byte, o webpush.Options) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.PushTimeout)
	defer cancel()
	sub, err := webpush.ParseSubscription([]byte(d))
	if err == nil {
		err = webpush.Send(ctx, g.cfg.Client, sub, payload, o)
	}
	switch {
	case errors.Is(err, webpush.ErrGone), errors.Is(err, webpush.ErrBadSubscription):
		if err := g.chat.st.RemoveNotification(ctx, ChannelBrowserPush, d); err != nil {
			g.chat.log.Warn("forget push subscription", "err", err)
		}
	case err != nil:
		g.chat.log.Warn("go-live browser push", "err", err)
	}
}
