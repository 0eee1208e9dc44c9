package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Defaults for NewNATS.
const (
	defaultNATSName           = "hearth"
	defaultNATSConnectTimeout = 5 * time.Second
	natsReconnectWait         = 2 * time.Second
	natsPingTimeout           = 5 * time.Second
)

// NATS is the Bus for scale-out: every node connects to the same NATS server
// (or cluster) and topics are NATS subjects.
//
// Delivery to handlers goes through the same per-subscription goroutine and
// bounded queue as Local, so ordering, slow-consumer dropping (counted by
// Dropped) and Unsubscribe behave identically on both kinds. Each received
// message has its own payload.
type NATS struct {
	nc      *nats.Conn
	logger  *slog.Logger
	timeout time.Duration
	dropped atomic.Uint64

	mu     sync.Mutex
	closed bool
	subs   map[*natsSub]struct{}
}

var _ Bus = (*NATS)(nil)

// NATSOption adjusts NewNATS.
type NATSOption func(*natsConfig)

type natsConfig struct {
	name           string
	connectTimeout time.Duration
}

// WithClientName sets the connection name the NATS server shows in its
// monitoring (default "hearth").
func WithClientName(name string) NATSOption {
	return func(c *natsConfig) { c.name = name }
}

// WithConnectTimeout bounds the initial connection, each reconnection
// attempt's dial, and the round trip Subscribe waits for (default 5s).
func WithConnectTimeout(d time.Duration) NATSOption {
	return func(c *natsConfig) {
		if d > 0 {
			c.connectTimeout = d
		}
	}
}

// NewNATS connects to the NATS server(s) at serverURL (one URL or a
// comma-separated list). The initial connection must succeed before ctx ends
// and within the connect timeout, or NewNATS returns an error naming the URL
// (with credentials redacted). Once connected, the client reconnects
// forever, buffering publishes meanwhile, and logs each transition on logger
// (nil discards).
func NewNATS(ctx context.Context, serverURL string, logger *slog.Logger, opts ...NATSOption) (*NATS, error) {
	cfg := natsConfig{name: defaultNATSName, connectTimeout: defaultNATSConnectTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "bus", "kind", "nats")
	where := redactURLs(serverURL)

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bus: connect %s: %w", where, err)
	}
	natsOpts := []nats.Option{
		nats.Name(cfg.name),
		nats.Timeout(cfg.connectTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(natsReconnectWait),
		nats.NoCallbacksAfterClientClose(),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected; reconnecting", "err", err)
			} else {
				logger.Info("nats disconnected; reconnecting")
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			logger.Info("nats reconnected", "url", c.ConnectedUrlRedacted())
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			logger.Error("nats connection closed unexpectedly")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				logger.Warn("nats subscription error", "subject", sub.Subject, "err", err)
				return
			}
			logger.Warn("nats error", "err", err)
		}),
	}

	// nats.Connect takes no context; it gives up by itself after the
	// connect timeout. If ctx ends first, return at once and close the
	// connection should it still come up.
	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(serverURL, natsOpts...)
		done <- result{nc, err}
	}()
	var nc *nats.Conn
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("bus: connect %s: %w", where, r.err)
		}
		nc = r.nc
	case <-ctx.Done():
		go func() {
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("bus: connect %s: %w", where, context.Cause(ctx))
	}
	logger.Info("nats connected", "url", nc.ConnectedUrlRedacted(), "server_id", nc.ConnectedServerId())
	return &NATS{
		nc:      nc,
		logger:  logger,
		timeout: cfg.connectTimeout,
		subs:    make(map[*natsSub]struct{}),
	}, nil
}

// Publish sends data on topic. It returns once the message is in the
// client's outgoing buffer (buffered while reconnecting), not when it has
// been delivered. It returns ErrBadTopic for an invalid topic and an error
// matching ErrClosed after Close.
func (b *NATS) Publish(ctx context.Context, topic string, data []byte) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.isClosed() {
		return ErrClosed
	}
	if err := b.nc.Publish(topic, data); err != nil {
		if errors.Is(err, nats.ErrConnectionClosed) {
			return fmt.Errorf("%w: %w", ErrClosed, err)
		}
		return fmt.Errorf("bus: publish %s: %w", topic, err)
	}
	return nil
}

// Subscribe starts delivering messages whose subject matches pattern to h.
// When connected, it waits for the server to acknowledge the subscription
// (bounded by the connect timeout), so a message published anywhere after
// Subscribe returns is delivered.
func (b *NATS) Subscribe(pattern string, h Handler) (Subscription, error) {
	if err := checkPattern(pattern); err != nil {
		return nil, err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	s := &natsSub{bus: b, q: newInbox(h, queueMaxMsgs, queueMaxBytes, &b.dropped)}
	ns, err := b.nc.Subscribe(pattern, func(m *nats.Msg) {
		// nats.go gives every message its own payload; handing it over
		// without a copy is safe.
		s.q.push(Message{Topic: m.Subject, Data: m.Data})
	})
	if err != nil {
		b.mu.Unlock()
		s.q.stop()
		if errors.Is(err, nats.ErrConnectionClosed) {
			return nil, fmt.Errorf("%w: %w", ErrClosed, err)
		}
		return nil, fmt.Errorf("bus: subscribe %s: %w", pattern, err)
	}
	// The callback only moves messages into the inbox, so nats.go's own
	// pending queue stays short; these limits are a backstop, well above
	// nats.go's defaults.
	if err := ns.SetPendingLimits(1<<20, 256<<20); err != nil {
		b.logger.Warn("nats set pending limits", "subject", pattern, "err", err)
	}
	s.sub = ns
	b.subs[s] = struct{}{}
	b.mu.Unlock()

	if b.nc.IsConnected() {
		if err := b.nc.FlushTimeout(b.timeout); err != nil {
			// The subscription stands and nats.go re-sends it on
			// reconnect; only the "active on return" promise is lost.
			b.logger.Warn("nats subscribe not acknowledged", "subject", pattern, "err", err)
		}
	}
	return s, nil
}

// Ping checks the connection with a round trip to the server. Without a
// deadline on ctx it waits at most 5s.
func (b *NATS) Ping(ctx context.Context) error {
	if b.isClosed() {
		return ErrClosed
	}
	if !b.nc.IsConnected() {
		return fmt.Errorf("bus: nats ping: %s", b.nc.Status())
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, natsPingTimeout)
		defer cancel()
	}
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("bus: nats ping: %w", err)
	}
	return nil
}

// Close flushes buffered publishes, closes the connection, ends every
// subscription and waits until no handler is running (a handler that calls
// Close is the exception). Later Publish, Subscribe and Ping calls return
// ErrClosed; Close itself may be called again and returns nil.
func (b *NATS) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	subs := b.subs
	b.subs = nil
	b.mu.Unlock()

	b.nc.Close()
	for s := range subs {
		s.q.stop()
	}
	b.logger.Info("nats closed")
	return nil
}

// Dropped returns how many messages have been dropped for slow subscriptions
// since the bus was created. (Drops inside nats.go, which should not happen
// because its callback never blocks, are logged as slow-consumer errors.)
func (b *NATS) Dropped() uint64 {
	return b.dropped.Load()
}

func (b *NATS) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

type natsSub struct {
	bus *NATS
	sub *nats.Subscription
	q   *inbox
}

// Unsubscribe removes the subscription from the server and waits for a
// running handler call to return (unless called from that handler). It is
// idempotent and returns nil after the bus is closed.
func (s *natsSub) Unsubscribe() error {
	b := s.bus
	b.mu.Lock()
	_, live := b.subs[s]
	delete(b.subs, s)
	b.mu.Unlock()

	var err error
	if live {
		uerr := s.sub.Unsubscribe()
		if uerr != nil && !errors.Is(uerr, nats.ErrConnectionClosed) && !errors.Is(uerr, nats.ErrBadSubscription) {
			err = fmt.Errorf("bus: unsubscribe %s: %w", s.sub.Subject, uerr)
		}
	}
	s.q.stop() // delivery stops even if the server could not be told
	return err
}

// redactURLs hides credentials in a comma-separated NATS URL list, for
// errors and logs: a password is masked, and a user part without one (which
// may be a token) is replaced.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if !strings.Contains(p, "://") {
			p = "nats://" + p // nats.go's own default
		}
		u, err := url.Parse(p)
		switch {
		case err != nil:
			parts[i] = "<invalid url>"
		case u.User == nil:
			parts[i] = u.String()
		default:
			if _, hasPassword := u.User.Password(); hasPassword {
				parts[i] = u.Redacted()
			} else {
				u.User = url.User("redacted")
				parts[i] = u.String()
			}
		}
	}
	return strings.Join(parts, ",")
}
