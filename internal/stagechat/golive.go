package stagechat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/webhooks"
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
	// Queue is the durable delivery queue (the webhooks' table): a round's
	// notifications are stored in it with the round's claim, in one
	// transaction, and Run sends them, on whichever node runs first.
	Queue webhooks.Queue
	// Headline, when set, names what is starting (the scheduled event the
	// stream belongs to, "" for none); the notifications carry it.
	Headline func(context.Context) string
	// Life is the node's lifetime: a round of notifications, claimed on a
	// timer, takes its context from it. nil: the chat service's Life.
	Life context.Context
	// PushTimeout bounds one notification request: a browser push or the
	// Discord webhook (default 10 s).
	PushTimeout time.Duration
}

// pushWorkers is how many notifications (browser pushes, the Discord
// webhook) are in flight at once on a node, apart from the webhooks'
// workers. Any chat user may register a subscription, on any push service:
// one whose service never answers holds a worker for PushTimeout, where
// sending them one after another let a few such subscriptions ahead of
// everyone else's use up the round.
const pushWorkers = 16

// notifyKind is the delivery queue's kind of the go-live notifications and
// the scheduled streams' reminders. Its ref is discordRef for the Discord
// webhook and pushRef followed by a hash of the subscription for a browser
// push.
const notifyKind = "owncast-notify"

const (
	discordRef = "discord"
	pushRef    = "push:"
)

// notifyDelays are the waits before each retry of a notification that
// failed for a reason that may pass (no answer, 408, 429, 5xx): four
// attempts over about five minutes, after which the news is stale.
var notifyDelays = []time.Duration{15 * time.Second, time.Minute, 4 * time.Minute}

// notifyMaxWaiting caps the notifications waiting for one target (the
// Discord webhook, one subscription): a round (10 minutes apart at least)
// or a reminder adds one each, and each is given up within minutes.
const notifyMaxWaiting = 100

// pushTTL is how long a push service keeps a notification (Owncast's).
const pushTTL = 120 * time.Second

// pushDelivery is a queued browser push: the subscription as registered
// and the plaintext payload. It is encrypted, and the VAPID token signed,
// at each attempt; the key pair is read then, never stored in the queue.
type pushDelivery struct {
	Subscription string `json:"subscription"`
	Payload      string `json:"payload"`
	Topic        string `json:"topic"`
	Subscriber   string `json:"subscriber,omitempty"`
}

// errBadDelivery is a queued notification that cannot be read (not
// retried).
var errBadDelivery = errors.New("stagechat: unreadable queued notification")

// GoLive sends Owncast's go-live notifications: a Discord webhook message
// and a browser push to every registered subscription. A round is claimed
// once per cluster and its notifications queued with the claim (one
// transaction); every node's Run sends what is queued, so a node that dies
// after the claim loses nothing: another node (or this one restarted)
// sends the round (at least once).
type GoLive struct {
	chat   *Service
	cfg    GoLiveConfig
	engine *webhooks.Engine

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

// senderOnly lends the notifications' client to their engine, which only
// sends with it (the URLs were checked when they were stored, and the
// egress client checks every address it dials).
type senderOnly struct{ webpush.Doer }

func (senderOnly) CheckURL(string) (*url.URL, error) {
	return nil, errors.New("stagechat: the notification client checks no URLs")
}

// NewGoLive builds the notifier and its delivery engine (run it with Run).
func NewGoLive(chat *Service, cfg GoLiveConfig) (*GoLive, error) {
	if chat == nil || cfg.Client == nil || cfg.Queue == nil {
		return nil, errors.New("stagechat: go-live notifier needs the chat, an HTTP client and the delivery queue")
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
	// A notification is leased for longer than it may take, so no other
	// node sends it meanwhile.
	lease := max(2*time.Minute, cfg.PushTimeout+time.Minute)
	engine, err := webhooks.NewEngine(webhooks.EngineConfig{Workers: pushWorkers, Lease: lease}, cfg.Queue,
		senderOnly{cfg.Client}, chat.log.With("component", "notifications"))
	if err != nil {
		return nil, err
	}
	g := &GoLive{chat: chat, cfg: cfg, engine: engine, sent: make(chan struct{})}
	if err := engine.Register(webhooks.Kind{Name: notifyKind, Delays: notifyDelays, Timeout: cfg.PushTimeout,
		MaxWaiting: notifyMaxWaiting, Encode: g.encode, Retry: retryNotification, Report: g.report}); err != nil {
		return nil, err
	}
	return g, nil
}

// Run sends the queued notifications (this node's rounds and any other
// node's left unsent) until ctx ends, on workers of their own: a push
// service that never answers holds up no webhook, and no webhook a push.
func (g *GoLive) Run(ctx context.Context) error { return g.engine.Run(ctx) }

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
// (queued, throttled or nothing to send); Run sends what it queued.
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
	if _, err := g.claimRound(ctx); err != nil {
		g.chat.log.Warn("go-live notifications", "err", err)
	}
	cancel()
	g.mu.Lock()
	close(g.sent)
	g.sent = make(chan struct{})
	g.mu.Unlock()
}

// claimRound claims and queues a round when one may go out now: none went
// out, on any node, within the throttle (a stream that moves to another
// node does not notify twice). The round's claim is its record: the last
// round is the latest go-live claim, and the claim is keyed by it, so of
// the nodes that read the same last round exactly one moves it on. (The
// record was once a separate write after the claim: a node killed between
// the two left the claim of the last round taken and the record unmoved,
// and no round went out, on any node, until the claim was pruned a day or
// more later.) The claim and the round's notifications are stored in one
// transaction, so a claimed round is queued (and sent at least once).
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
	set := g.chat.Settings()
	headline := ""
	if g.cfg.Headline != nil {
		headline = g.cfg.Headline(ctx)
	}
	var ts []webhooks.Target
	if d := set.Notifications.Discord; d.Enabled && d.Webhook != "" {
		msg := d.GoLiveMessage
		if headline != "" {
			msg += "\n" + headline
		}
		if set.StreamTitle != "" {
			msg += "\n" + set.StreamTitle
		}
		ts = append(ts, discordTarget(set, msg))
	}
	if set.Notifications.Browser.Enabled {
		body := set.Notifications.Browser.GoLiveMessage
		if headline != "" {
			body += "\n" + headline
		}
		pts, err := g.pushTargets(ctx, set, body, "owncast-go-live")
		if err != nil {
			return false, err
		}
		ts = append(ts, pts...)
	}
	return g.engine.EnqueueOnce(ctx, goLiveClaimPrefix+strconv.FormatInt(last.UnixMicro(), 10), notifyKind, ts)
}

// Remind queues a scheduled stream's reminder (its text names the event
// and its start) for the same channels as the go-live notifications, as
// Owncast's scheduled-event notifications: the Discord webhook and every
// browser push subscription, each when enabled. Only the first call, on
// any node, for key queues it, the claim and the notifications in one
// transaction; it reports whether this call did. On an error nothing is
// claimed (the next minute's round tries again).
func (g *GoLive) Remind(ctx context.Context, key, text string) (bool, error) {
	set := g.chat.Settings()
	var ts []webhooks.Target
	if d := set.Notifications.Discord; d.Enabled && d.Webhook != "" {
		ts = append(ts, discordTarget(set, text))
	}
	if set.Notifications.Browser.Enabled {
		pts, err := g.pushTargets(ctx, set, text, "owncast-schedule-reminder")
		if err != nil {
			return false, err
		}
		ts = append(ts, pts...)
	}
	return g.engine.EnqueueOnce(ctx, key, notifyKind, ts)
}

// discordTarget is the Discord webhook's message: msg, then the server URL,
// under the stage's name and logo.
func discordTarget(set Settings, msg string) webhooks.Target {
	msg = fmt.Sprintf("%s\n\n%s", msg, set.ServerURL)
	avatar := ""
	if set.ServerURL != "" {
		avatar = strings.TrimRight(set.ServerURL, "/") + "/logo"
	}
	body, _ := json.Marshal(map[string]string{"username": set.Name, "content": msg, "avatar_url": avatar})
	return webhooks.Target{Ref: discordRef, URL: set.Notifications.Discord.Webhook, Body: body}
}

// pushTargets are a browser push of body under topic to every registered
// subscription.
func (g *GoLive) pushTargets(ctx context.Context, set Settings, body, topic string) ([]webhooks.Target, error) {
	dests, err := g.chat.st.NotificationDestinations(ctx, ChannelBrowserPush)
	if err != nil {
		return nil, fmt.Errorf("browser push destinations: %w", err)
	}
	payload, _ := json.Marshal(map[string]string{"title": set.Name, "body": body, "icon": "/logo/external"})
	subscriber := ""
	if strings.HasPrefix(set.ServerURL, "https://") {
		subscriber = set.ServerURL
	}
	ts := make([]webhooks.Target, 0, len(dests))
	for _, d := range dests {
		sub, err := webpush.ParseSubscription([]byte(d))
		if err != nil {
			// Stored before the checks were as strict: never sendable.
			g.forget(ctx, d)
			continue
		}
		b, _ := json.Marshal(pushDelivery{Subscription: d, Payload: string(payload), Topic: topic, Subscriber: subscriber})
		sum := sha256.Sum256([]byte(d))
		ts = append(ts, webhooks.Target{Ref: pushRef + hex.EncodeToString(sum[:16]), URL: sub.Endpoint, Body: b})
	}
	return ts, nil
}

// encode makes a notification's request: the Discord message as queued
// (dropped unsent when the webhook was turned off or replaced since), or a
// browser push encrypted for its subscription and signed with the
// instance's VAPID keys, afresh for each attempt.
func (g *GoLive) encode(ctx context.Context, d *webhooks.Queued, h http.Header, _ int, t time.Time) ([]byte, error) {
	if !strings.HasPrefix(d.Ref, pushRef) {
		// Not to a Discord webhook the admin has since turned off or
		// replaced.
		if dc := g.chat.Settings().Notifications.Discord; !dc.Enabled || dc.Webhook != d.URL {
			return nil, fault.New(fault.NotFound, "the Discord webhook changed")
		}
		return d.Body, nil
	}
	var p pushDelivery
	if err := json.Unmarshal(d.Body, &p); err != nil {
		return nil, errBadDelivery
	}
	sub, err := webpush.ParseSubscription([]byte(p.Subscription))
	if err != nil {
		return nil, err
	}
	keys, err := g.chat.BrowserPushKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("browser push keys: %w", err)
	}
	body, hdr, err := webpush.Seal(sub, []byte(p.Payload), webpush.Options{VAPID: keys, TTL: pushTTL, Topic: p.Topic,
		Subscriber: p.Subscriber}, t)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		h[k] = v
	}
	return body, nil
}

// retryNotification: a notification is tried again after no answer, a
// timeout, 408, 429 or 5xx; any other refusal (the webhook or
// subscription is gone or wrong) stands.
func retryNotification(err error) bool {
	var se *webhooks.StatusError
	switch {
	case errors.Is(err, webpush.ErrBadSubscription), errors.Is(err, errBadDelivery):
		return false
	case errors.As(err, &se):
		return se.Code == http.StatusRequestTimeout || se.Code == http.StatusTooManyRequests || se.Code >= 500
	}
	return true
}

// report forgets a subscription its push service says is gone (404, 410)
// or that cannot be sent to, and logs a notification given up on.
func (g *GoLive) report(ctx context.Context, d *webhooks.Queued, n int, err error, final bool) {
	if err == nil {
		return
	}
	to := "discord"
	if strings.HasPrefix(d.Ref, pushRef) {
		to = "browser push"
		var se *webhooks.StatusError
		if errors.Is(err, webpush.ErrBadSubscription) || (errors.As(err, &se) && errors.Is(webpush.StatusErr(se.Code), webpush.ErrGone)) {
			var p pushDelivery
			if json.Unmarshal(d.Body, &p) == nil {
				g.forget(ctx, p.Subscription)
			}
			return
		}
	}
	// A request error names the URL, and the Discord webhook's and a push
	// endpoint's URLs are secrets: log the cause only.
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	if final {
		g.chat.log.Warn("go-live notification failed; giving up", "to", to, "attempts", n, "err", err)
	} else {
		g.chat.log.Debug("go-live notification failed; will retry", "to", to, "attempt", n, "err", err)
	}
}

// forget removes a browser push subscription.
func (g *GoLive) forget(ctx context.Context, d string) {
	if err := g.chat.st.RemoveNotification(ctx, ChannelBrowserPush, d); err != nil {
		g.chat.log.Warn("forget push subscription", "err", err)
	}
}
