// Package gateway is the WebSocket plumbing every Hearth surface shares.
//
// A Hub upgrades HTTP requests to WebSockets (with an origin policy), and each
// resulting Conn gets:
//
//   - a bounded send queue (messages and bytes): a consumer too slow to keep up
//     is disconnected with 1008 "slow consumer" instead of growing memory;
//   - a writer that drains everything queued and hands the batch to the
//     surface's Codec, which may merge messages into one frame (Owncast) or
//     write one frame per message (Together, OTT), in one write: the hub's
//     flusher workers for a socket that takes it at once, a goroutine of the
//     socket's own only while its kernel buffer is full or it is closing;
//   - server pings every PingInterval, closing the socket when no pong arrives
//     within PongTimeout, and an optional idle timeout on inbound frames;
//   - topic subscriptions fed from the bus: the Hub subscribes once per topic
//     pattern, reference counted across connections, and fans each event out
//     through a per-connection Transform that filters (authorisation) and
//     encodes (wire format);
//   - an account and session tag, so Hub.CloseAccount and Hub.CloseSession can
//     close every socket of a disabled account or a revoked token at once.
//
// A surface's handler calls Hub.Accept, then Conn.Serve with its inbound
// message handler and an onClose callback, and returns: reads are driven by
// the process's poller (epoll), so an idle socket keeps no goroutine and no
// buffer. Conn.Run is Serve that waits until the connection is fully closed.
// The upgrade and the frames are the gateway's own: the handshake and every
// frame read go through github.com/gobwas/ws, and the headers of the frames
// the gateway writes are appended by hand into its own pooled write buffer,
// which it writes to the socket itself (no library writer sits under it);
// coder/websocket provides only the status and message types of this API.
package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultReadLimit         = 32 << 10
	DefaultPingInterval      = 30 * time.Second
	DefaultPongTimeout       = 15 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultCloseTimeout      = 2 * time.Second
	DefaultSendQueueMessages = 256
	DefaultSendQueueBytes    = 1 << 20
)

// Close codes and reasons the gateway itself sends.
const (
	StatusSlowConsumer = websocket.StatusPolicyViolation // 1008
	StatusPingTimeout  = websocket.StatusPolicyViolation
	StatusIdleTimeout  = websocket.StatusPolicyViolation

	ReasonSlowConsumer = "slow consumer"
	ReasonPingTimeout  = "ping timeout"
	ReasonIdleTimeout  = "idle timeout"
	ReasonGoingAway    = "server shutting down"
)

// ErrClosed is returned by operations on a closed or closing connection.
var ErrClosed = errors.New("gateway: connection closed")

// ErrShutdown is returned by Accept once Shutdown has begun.
var ErrShutdown = errors.New("gateway: hub shut down")

// Config tunes a Hub. Zero fields take the Default* values; negative values
// are rejected by New.
type Config struct {
	// Life is the node's life: every connection's context (the one its
	// handler's work gets) derives from it, so shutdown cancels that work
	// even before the sockets are closed. nil: context.Background() (tests);
	// Close cancels them either way.
	Life context.Context
	// OriginPatterns lists extra host patterns (path.Match syntax, matched
	// case-insensitively against the Origin host, or against scheme://host
	// when the pattern contains "://") allowed to open sockets. The request's
	// own host is always allowed, as is a request without an Origin header.
	OriginPatterns []string
	// InsecureSkipVerify accepts any Origin (Owncast's chat socket does).
	// Mutually exclusive with OriginPatterns.
	InsecureSkipVerify bool
	// ReadLimit is the largest inbound message in bytes; a larger one closes
	// the socket with 1009.
	ReadLimit int64
	// PingInterval is how often the server pings each socket.
	PingInterval time.Duration
	// PongTimeout is how long a ping may go unanswered before the socket is
	// closed with 1008 "ping timeout".
	PongTimeout time.Duration
	// IdleTimeout closes a socket that sends no data frame and no ping for
	// this long (Together: 300 s). Zero disables it; ConnOptions may
	// override it.
	IdleTimeout time.Duration
	// WriteTimeout bounds one batch write to a socket.
	WriteTimeout time.Duration
	// CloseTimeout bounds the close handshake (sending the close frame and
	// waiting for the peer's answer).
	CloseTimeout time.Duration
	// SendQueueMessages and SendQueueBytes bound what one connection may hold
	// unwritten (queued plus the batch being written). Overflow disconnects
	// the connection as a slow consumer.
	SendQueueMessages int
	SendQueueBytes    int
	// Sockets, when set, is a budget of open sockets this hub shares with
	// others (sockets.go): Accept refuses with 503 once it is spent.
	Sockets *Sockets
}

func (c Config) withDefaults() Config {
	if c.ReadLimit == 0 {
		c.ReadLimit = DefaultReadLimit
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PongTimeout == 0 {
		c.PongTimeout = DefaultPongTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.SendQueueMessages == 0 {
		c.SendQueueMessages = DefaultSendQueueMessages
	}
	if c.SendQueueBytes == 0 {
		c.SendQueueBytes = DefaultSendQueueBytes
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"PingInterval", c.PingInterval},
		{"PongTimeout", c.PongTimeout},
		{"IdleTimeout", c.IdleTimeout},
		{"WriteTimeout", c.WriteTimeout},
		{"CloseTimeout", c.CloseTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %v", d.name, d.v))
		}
	}
	if c.ReadLimit < 0 {
		errs = append(errs, fmt.Errorf("ReadLimit must not be negative, got %d", c.ReadLimit))
	}
	if c.SendQueueMessages < 0 {
		errs = append(errs, fmt.Errorf("SendQueueMessages must not be negative, got %d", c.SendQueueMessages))
	}
	if c.SendQueueBytes < 0 {
		errs = append(errs, fmt.Errorf("SendQueueBytes must not be negative, got %d", c.SendQueueBytes))
	}
	if c.InsecureSkipVerify && len(c.OriginPatterns) > 0 {
		errs = append(errs, errors.New("InsecureSkipVerify and OriginPatterns are mutually exclusive"))
	}
	for _, p := range c.OriginPatterns {
		if p == "" {
			errs = append(errs, errors.New("OriginPatterns contains an empty pattern"))
			continue
		}
		if _, err := path.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("OriginPatterns: bad pattern %q: %w", p, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gateway: invalid config: %w", err)
	}
	return nil
}

// Subscriber is the part of the bus the gateway needs. Subscribe registers h
// for every message whose topic matches pattern; cancel stops delivery, and
// once it returns h is not called again. Calls of h for one subscription must
// not overlap. The gateway keeps data after h returns (it sits in send
// queues), so the Subscriber must not reuse it.
type Subscriber interface {
	Subscribe(pattern string, h func(topic string, data []byte)) (cancel func() error, err error)
}

// SubscriberFunc adapts a function to Subscriber. Wiring the project bus:
//
//	gateway.SubscriberFunc(func(p string, h func(string, []byte)) (func() error, error) {
//		s, err := b.Subscribe(p, func(m bus.Message) { h(m.Topic, m.Data) })
//		if err != nil {
//			return nil, err
//		}
//		return s.Unsubscribe, nil
//	})
type SubscriberFunc func(pattern string, h func(topic string, data []byte)) (func() error, error)

// Subscribe calls f.
func (f SubscriberFunc) Subscribe(pattern string, h func(topic string, data []byte)) (func() error, error) {
	return f(pattern, h)
}

// Stats is a snapshot of a Hub's counters.
type Stats struct {
	Connections     int64  // open now
	Topics          int64  // bus subscriptions held now
	Accepted        uint64 // sockets upgraded
	MessagesQueued  uint64 // messages accepted by Send
	MessagesSent    uint64 // messages written to sockets
	DirectWrites    uint64 // of those, written whole by Reply itself (no writer wake-up)
	FramesSent      uint64 // data frames written (≤ MessagesSent when coalescing)
	BytesSent       uint64 // data frame payload bytes written
	SlowConsumers   uint64 // connections closed because their send queue overflowed
	OversizeDropped uint64 // messages dropped for being larger than SendQueueBytes
	PingTimeouts    uint64
	IdleTimeouts    uint64
}

type counters struct {
	connections, topics                        atomic.Int64
	accepted, queued, sent, direct, frames     atomic.Uint64
	bytes                                      atomic.Uint64
	slow, oversize, pingTimeouts, idleTimeouts atomic.Uint64
}

// Hub owns a set of WebSocket connections and their bus subscriptions.
type Hub struct {
	cfg  Config
	sub  Subscriber
	log  *slog.Logger
	base context.Context
	stop context.CancelFunc

	mu        sync.Mutex
	closed    bool
	nextID    uint64
	conns     map[*Conn]struct{}
	byAccount map[string][]*Conn // a slice, not a set: an account has a few sockets, and a map each costs an idle socket ~300 bytes
	bySession map[string][]*Conn
	accepting map[string]int // per account, upgrades under way (ConnOptions.MaxPerAccount)

	// subMu serialises subscription changes (and so calls to sub.Subscribe
	// and cancel); fan-out never takes it.
	subMu  sync.Mutex
	topics map[string]*topic

	stats counters
	flush flusher

	// onPong, when set (tests only), is called for every pong received.
	onPong func(*Conn)
}

// New validates cfg, applies defaults, and returns a Hub that takes topic
// events from sub. A nil logger discards logs.
func New(cfg Config, sub Subscriber, logger *slog.Logger) (*Hub, error) {
	if sub == nil {
		return nil, errors.New("gateway: nil Subscriber")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	life := cfg.Life
	if life == nil {
		life = context.Background()
	}
	base, stop := context.WithCancel(life)
	return &Hub{
		cfg:       cfg.withDefaults(),
		sub:       sub,
		log:       logger.With("component", "gateway"),
		base:      base,
		stop:      stop,
		conns:     make(map[*Conn]struct{}),
		byAccount: make(map[string][]*Conn),
		bySession: make(map[string][]*Conn),
		accepting: make(map[string]int),
		topics:    make(map[string]*topic),
	}, nil
}

// Config returns the effective configuration (defaults applied).
func (h *Hub) Config() Config { return h.cfg }

// ConnOptions describes one connection at Accept time.
type ConnOptions struct {
	// AccountID and SessionID tag the connection for CloseAccount and
	// CloseSession. Either may be empty (e.g. anonymous viewers).
	AccountID string
	SessionID string
	// Codec turns queued messages into frames; nil means MessagePerFrame{}
	// (one text frame per message).
	Codec Codec
	// IdleTimeout overrides Config.IdleTimeout when positive.
	IdleTimeout time.Duration
	// Subprotocols are negotiated with the client (first match wins).
	Subprotocols []string
	// MaxPerAccount, when positive (and AccountID set), bounds the sockets
	// AccountID holds on this hub, open or being accepted: past it Accept
	// answers 429 with Retry-After (ErrTooManyForAccount).
	MaxPerAccount int
}

// ErrTooManyForAccount is returned by Accept when the account already holds
// ConnOptions.MaxPerAccount sockets on the hub.
var ErrTooManyForAccount = errors.New("gateway: too many sockets for this account")

// Accept upgrades the request to a WebSocket. On failure it has already
// written an HTTP error response (403 for a refused Origin, 503 after
// Shutdown). The caller should then call Run on the returned Conn.
func (h *Hub) Accept(w http.ResponseWriter, r *http.Request, opts ConnOptions) (*Conn, error) {
	if opts.IdleTimeout < 0 {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return nil, fmt.Errorf("gateway: accept: negative IdleTimeout %v", opts.IdleTimeout)
	}
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
		return nil, ErrShutdown
	}

	if !canHijack(w) {
		http.Error(w, http.StatusText(http.StatusNotImplemented), http.StatusNotImplemented)
		return nil, errors.New("gateway: accept: response writer cannot be hijacked")
	}

	proto, status, herr := h.checkHandshake(w, r, opts.Subprotocols)
	if herr != nil {
		http.Error(w, herr.Error(), status)
		return nil, fmt.Errorf("gateway: accept: %w", herr)
	}
	if id := opts.AccountID; opts.MaxPerAccount > 0 && id != "" {
		h.mu.Lock()
		full := len(h.byAccount[id])+h.accepting[id] >= opts.MaxPerAccount
		if !full {
			h.accepting[id]++
		}
		h.mu.Unlock()
		if full {
			w.Header().Set("Retry-After", "10")
			http.Error(w, "too many open sockets for this account", http.StatusTooManyRequests)
			return nil, ErrTooManyForAccount
		}
		// Released when Accept returns: by then the socket is in
		// byAccount or gone.
		defer func() {
			h.mu.Lock()
			if h.accepting[id]--; h.accepting[id] <= 0 {
				delete(h.accepting, id)
			}
			h.mu.Unlock()
		}()
	}
	addrKey, err := h.cfg.Sockets.take(r)
	switch {
	case errors.Is(err, ErrTooManyForAddress):
		w.Header().Set("Retry-After", "10")
		http.Error(w, "too many open sockets from your address, try again later", http.StatusTooManyRequests)
		return nil, err
	case err != nil:
		w.Header().Set("Retry-After", "10")
		http.Error(w, "too many open sockets on this server, try again later", http.StatusServiceUnavailable)
		return nil, err
	}
	up := ws.HTTPUpgrader{}
	if proto != "" {
		up.Protocol = func(p string) bool { return p == proto }
	}
	nc, rw, _, err := up.Upgrade(r, w)
	if err != nil {
		h.cfg.Sockets.put(addrKey)
		if nc != nil {
			_ = nc.Close()
		}
		return nil, fmt.Errorf("gateway: accept: %w", err)
	}
	c := newConn(h, opts)
	c.nc, c.subprotocol, c.addrKey = nc, proto, addrKey
	if n := rw.Reader.Buffered(); n > 0 {
		// The client's first frames came with the handshake.
		b, _ := rw.Reader.Peek(n)
		c.rd.partial = bytes.Clone(b)
	}
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.raw = rc
		}
	}

	if !h.register(c) {
		h.cfg.Sockets.put(addrKey)
		c.cancel()
		_ = nc.SetDeadline(time.Now().Add(h.cfg.CloseTimeout))
		var f frameBuf
		f.frame(ws.OpClose, ws.NewCloseFrameBody(ws.StatusCode(websocket.StatusGoingAway), ReasonGoingAway))
		_, _ = nc.Write(f.b)
		_ = nc.Close()
		return nil, ErrShutdown
	}
	c.start()
	return c, nil
}

// checkHandshake validates the upgrade request as coder/websocket did
// before (426 without the upgrade headers, 405 for another method, 400
// for a bad version or key, 403 for a refused Origin) and picks the
// subprotocol: the first of ours the client offers.
func (h *Hub) checkHandshake(w http.ResponseWriter, r *http.Request, protos []string) (string, int, error) {
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		return "", http.StatusUpgradeRequired, fmt.Errorf("WebSocket protocol violation: Connection header %q does not contain Upgrade", r.Header.Get("Connection"))
	}
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		return "", http.StatusUpgradeRequired, fmt.Errorf("WebSocket protocol violation: Upgrade header %q does not contain websocket", r.Header.Get("Upgrade"))
	}
	if r.Method != http.MethodGet {
		return "", http.StatusMethodNotAllowed, fmt.Errorf("WebSocket protocol violation: handshake request method is not GET but %q", r.Method)
	}
	if v := r.Header.Get("Sec-WebSocket-Version"); v != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		return "", http.StatusBadRequest, fmt.Errorf("unsupported WebSocket protocol version (only 13 is supported): %q", v)
	}
	if key := r.Header.Get("Sec-WebSocket-Key"); len(key) != 24 {
		return "", http.StatusBadRequest, errors.New("WebSocket protocol violation: invalid Sec-WebSocket-Key")
	}
	if err := h.checkOrigin(r); err != nil {
		return "", http.StatusForbidden, err
	}
	for _, p := range protos {
		for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
			for _, cp := range strings.Split(v, ",") {
				if cp = strings.TrimSpace(cp); strings.EqualFold(p, cp) {
					return cp, 0, nil
				}
			}
		}
	}
	return "", 0, nil
}

// checkOrigin allows a request without Origin, one from the request's own
// host, and one matching OriginPatterns (all when InsecureSkipVerify).
func (h *Hub) checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" || h.cfg.InsecureSkipVerify {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil {
		return fmt.Errorf("failed to parse Origin header %q: %w", origin, err)
	}
	if strings.EqualFold(r.Host, u.Host) {
		return nil
	}
	for _, pat := range h.cfg.OriginPatterns {
		target := u.Host
		if strings.Contains(pat, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(pat), strings.ToLower(target)); ok {
			return nil
		}
	}
	if u.Host == "" {
		return fmt.Errorf("request Origin %q is not a valid URL with a host", origin)
	}
	return fmt.Errorf("request Origin %q is not authorized for Host %q", u.Host, r.Host)
}

func headerHasToken(hd http.Header, name, token string) bool {
	for _, v := range hd.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func (h *Hub) register(c *Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.nextID++
	c.id = h.nextID
	h.conns[c] = struct{}{}
	addIndex(h.byAccount, c.accountID, c)
	addIndex(h.bySession, c.sessionID, c)
	h.stats.accepted.Add(1)
	h.stats.connections.Add(1)
	return true
}

func (h *Hub) unregister(c *Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.conns[c]; !ok {
		return
	}
	delete(h.conns, c)
	removeIndex(h.byAccount, c.accountID, c)
	removeIndex(h.bySession, c.sessionID, c)
	h.stats.connections.Add(-1)
	h.cfg.Sockets.put(c.addrKey)
}

func addIndex(idx map[string][]*Conn, key string, c *Conn) {
	if key == "" {
		return
	}
	idx[key] = append(idx[key], c)
}

func removeIndex(idx map[string][]*Conn, key string, c *Conn) {
	set := idx[key]
	i := slices.Index(set, c)
	if i < 0 {
		return
	}
	if len(set) == 1 {
		delete(idx, key)
		return
	}
	set[i] = set[len(set)-1]
	set[len(set)-1] = nil
	idx[key] = set[:len(set)-1]
}

// CloseAccount closes every live socket tagged with accountID with the given
// code and reason (used when an account is disabled or banned). It returns
// the number of sockets told to close; it does not wait for them.
func (h *Hub) CloseAccount(accountID string, code websocket.StatusCode, reason string) int {
	return h.closeIndexed(h.byAccount, accountID, code, reason)
}

// CloseSession closes every live socket tagged with sessionID (used when a
// token or session is revoked). It returns the number of sockets told to close.
func (h *Hub) CloseSession(sessionID string, code websocket.StatusCode, reason string) int {
	return h.closeIndexed(h.bySession, sessionID, code, reason)
}

func (h *Hub) closeIndexed(idx map[string][]*Conn, key string, code websocket.StatusCode, reason string) int {
	if key == "" {
		return 0
	}
	h.mu.Lock()
	conns := slices.Clone(idx[key])
	h.mu.Unlock()
	n := 0
	for _, c := range conns {
		if c.closeWith(code, reason, true) {
			n++
		}
	}
	return n
}

// Shutdown refuses new sockets, sends every open socket a 1001 close frame
// (after what is already queued for it), and waits for all of them to finish
// closing. If ctx expires first, the remaining sockets are cut off and the
// context's error is returned.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	conns := make([]*Conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	defer h.stop()

	for _, c := range conns {
		c.closeWith(websocket.StatusGoingAway, ReasonGoingAway, true)
	}
	for i, c := range conns {
		select {
		case <-c.done:
		case <-ctx.Done():
			for _, rest := range conns[i:] {
				rest.forceClose()
			}
			h.log.Warn("shutdown deadline reached; sockets cut off", "remaining", len(conns)-i)
			return fmt.Errorf("gateway: shutdown: %w", ctx.Err())
		}
	}
	return nil
}

// Stats returns a snapshot of the Hub's counters.
func (h *Hub) Stats() Stats {
	s := &h.stats
	return Stats{
		Connections:     s.connections.Load(),
		Topics:          s.topics.Load(),
		Accepted:        s.accepted.Load(),
		MessagesQueued:  s.queued.Load(),
		MessagesSent:    s.sent.Load(),
		FramesSent:      s.frames.Load(),
		BytesSent:       s.bytes.Load(),
		SlowConsumers:   s.slow.Load(),
		OversizeDropped: s.oversize.Load(),
		PingTimeouts:    s.pingTimeouts.Load(),
		IdleTimeouts:    s.idleTimeouts.Load(),
		DirectWrites:    s.direct.Load(),
	}
}

// canHijack reports whether w (or a writer it wraps) can be hijacked, as
// the upgrade requires.
func canHijack(w http.ResponseWriter) bool {
	for {
		switch t := w.(type) {
		case http.Hijacker:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return false
		}
	}
}
