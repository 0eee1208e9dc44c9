package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// noFrame marks a close that sends no close frame (the peer already closed,
// or the socket is broken).
const noFrame websocket.StatusCode = -1

// Buffers kept between batches are dropped when they grew past these, so an
// idle connection holds little memory after a burst.
const (
	keepScratchBytes = 64 << 10
	keepQueueCap     = 64
)

// Handler receives one inbound data message. Returning an error closes the
// connection: with the error's code and reason if it is (or wraps) a
// websocket.CloseError, else with 1011.
type Handler func(ctx context.Context, typ websocket.MessageType, data []byte) error

// Conn is one accepted WebSocket.
//
// Three goroutines serve it: the caller's Run (reads), a writer that drains
// the send queue through the Codec and performs the close handshake, and a
// pinger. The writer owns the shutdown sequence; Done is closed when it has
// finished, subscriptions are gone and the socket is closed.
type Conn struct {
	hub       *Hub
	id        uint64
	log       *slog.Logger
	ws        *websocket.Conn
	nc        *corkConn
	accountID string
	sessionID string
	codec     Codec
	emit      func(websocket.MessageType, []byte) error
	idle      time.Duration
	maxMsgs   int
	maxBytes  int

	ctx       context.Context
	cancel    context.CancelFunc
	closingCh chan struct{}
	done      chan struct{}
	wake      chan struct{}
	running   atomic.Bool
	pinger    sync.WaitGroup

	qmu          sync.Mutex
	queue        [][]byte
	spare        [][]byte
	pendingMsgs  int // queued + being written
	pendingBytes int
	hwMsgs       int
	hwBytes      int
	closing      bool
	closeCode    websocket.StatusCode
	closeReason  string
	drain        bool

	scratch []byte // writer goroutine only

	// guarded by hub.subMu
	subs       map[string]*subscription
	subsClosed bool
}

func newConn(h *Hub, opts ConnOptions) *Conn {
	codec := opts.Codec
	if codec == nil {
		codec = MessagePerFrame{}
	}
	idle := h.cfg.IdleTimeout
	if opts.IdleTimeout > 0 {
		idle = opts.IdleTimeout
	}
	ctx, cancel := context.WithCancel(h.base)
	c := &Conn{
		hub:       h,
		log:       h.log,
		accountID: opts.AccountID,
		sessionID: opts.SessionID,
		codec:     codec,
		idle:      idle,
		maxMsgs:   h.cfg.SendQueueMessages,
		maxBytes:  h.cfg.SendQueueBytes,
		ctx:       ctx,
		cancel:    cancel,
		closingCh: make(chan struct{}),
		done:      make(chan struct{}),
		wake:      make(chan struct{}, 1),
	}
	c.emit = c.writeFrame
	return c
}

func (c *Conn) start() {
	c.pinger.Add(1)
	go c.pingLoop()
	go c.writeLoop()
}

// ID is unique among the Hub's connections (for logs).
func (c *Conn) ID() uint64 { return c.id }

// AccountID returns the account tag given at Accept.
func (c *Conn) AccountID() string { return c.accountID }

// SessionID returns the session tag given at Accept.
func (c *Conn) SessionID() string { return c.sessionID }

// Subprotocol returns the negotiated subprotocol ("" for none).
func (c *Conn) Subprotocol() string { return c.ws.Subprotocol() }

// Context is cancelled when the connection starts closing.
func (c *Conn) Context() context.Context { return c.ctx }

// Done is closed once the connection is fully closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// QueueHighWater reports the most messages and bytes this connection has
// held unwritten at once. Neither ever exceeds the configured bound.
func (c *Conn) QueueHighWater() (messages, bytes int) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.hwMsgs, c.hwBytes
}

// Send queues msg for the writer and reports whether it was queued. The
// caller must not modify msg afterwards. Send never blocks on the network:
// if the queue would exceed its bounds, the queue is discarded and the
// connection is closed with 1008 "slow consumer". A single message larger
// than SendQueueBytes is dropped (and logged) without closing.
func (c *Conn) Send(msg []byte) bool {
	c.qmu.Lock()
	if c.closing {
		c.qmu.Unlock()
		return false
	}
	if len(msg) > c.maxBytes {
		c.qmu.Unlock()
		c.hub.stats.oversize.Add(1)
		c.log.Warn("message larger than the send queue dropped", "bytes", len(msg), "limit", c.maxBytes)
		return false
	}
	if c.pendingMsgs+1 > c.maxMsgs || c.pendingBytes+len(msg) > c.maxBytes {
		msgs, bytes := c.pendingMsgs, c.pendingBytes
		c.qmu.Unlock()
		if c.closeCounted(StatusSlowConsumer, ReasonSlowConsumer, &c.hub.stats.slow) {
			c.log.Info("slow consumer disconnected", "account", c.accountID, "pending_messages", msgs, "pending_bytes", bytes)
		}
		return false
	}
	c.queue = append(c.queue, msg)
	c.pendingMsgs++
	c.pendingBytes += len(msg)
	c.hwMsgs = max(c.hwMsgs, c.pendingMsgs)
	c.hwBytes = max(c.hwBytes, c.pendingBytes)
	c.qmu.Unlock()
	c.hub.stats.queued.Add(1)
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// Close starts closing the connection: what is already queued is written,
// then a close frame with code and reason (truncated to 123 bytes) is sent.
// It does not wait; use Done for that. Codes that may not appear on the wire
// become 1011.
func (c *Conn) Close(code websocket.StatusCode, reason string) {
	c.closeWith(code, reason, true)
}

// closeWith records why the connection closes and wakes the writer. drain
// says whether queued messages are still written. It reports whether this
// call started the close.
func (c *Conn) closeWith(code websocket.StatusCode, reason string, drain bool) bool {
	return c.closeWithHook(code, reason, drain, nil)
}

func (c *Conn) closeWithHook(code websocket.StatusCode, reason string, drain bool, started func()) bool {
	if code != noFrame && !wireCode(code) {
		code = websocket.StatusInternalError
	}
	c.qmu.Lock()
	if c.closing {
		c.qmu.Unlock()
		return false
	}
	c.closing = true
	c.closeCode, c.closeReason, c.drain = code, truncateReason(reason), drain
	if !drain {
		for _, m := range c.queue {
			c.pendingBytes -= len(m)
		}
		c.pendingMsgs -= len(c.queue)
		clear(c.queue)
		c.queue = nil
	}
	c.qmu.Unlock()
	if started != nil {
		started()
	}
	c.cancel()
	close(c.closingCh)
	return true
}

// closeCounted closes without draining and, if this call started the close,
// bumps counter before anyone can observe the close (tests read Stats after
// Done).
func (c *Conn) closeCounted(code websocket.StatusCode, reason string, counter *atomic.Uint64) bool {
	return c.closeWithHook(code, reason, false, func() { counter.Add(1) })
}

// forceClose cuts the socket off without a handshake; the writer then
// finishes quickly.
func (c *Conn) forceClose() {
	c.closeWith(noFrame, "", false)
	_ = c.nc.Close()
}

func wireCode(code websocket.StatusCode) bool {
	switch code {
	case websocket.StatusNoStatusRcvd, websocket.StatusAbnormalClosure, websocket.StatusTLSHandshake, 1004:
		return false
	}
	return (code >= websocket.StatusNormalClosure && code <= websocket.StatusBadGateway) ||
		(code >= 3000 && code <= 4999)
}

// truncateReason keeps a close reason within the 123 bytes a close frame
// allows, cutting at a rune boundary.
func truncateReason(s string) string {
	const maxReason = 123
	if len(s) <= maxReason {
		return s
	}
	cut := maxReason
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// Run reads frames until the connection closes, calling onMessage for each
// data message (ReadLimit applies; a nil onMessage discards them). Pongs and
// close frames are only processed while Run reads, so Run must be called,
// even on a connection that is being closed right after Accept. If ctx is
// cancelled the connection is closed with 1001. Run returns after the
// connection is fully closed: nil when it was closed by either side in an
// orderly way or by the Hub (Close, CloseAccount, Shutdown, slow consumer,
// timeouts), the handler's error wrapped if it returned one, else the read
// error wrapped.
func (c *Conn) Run(ctx context.Context, onMessage Handler) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("gateway: Run called more than once")
	}
	stop := context.AfterFunc(ctx, func() { c.Close(websocket.StatusGoingAway, "") })
	defer stop()
	err := c.readLoop(onMessage)
	<-c.done
	return err
}

func (c *Conn) readLoop(onMessage Handler) error {
	for {
		if c.idle > 0 {
			// Under qmu so a deadline set here never overrides the close
			// handshake's deadline, which the writer sets after closing.
			c.qmu.Lock()
			if !c.closing {
				_ = c.nc.SetReadDeadline(time.Now().Add(c.idle))
			}
			c.qmu.Unlock()
		}
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			return c.readFailed(err)
		}
		if onMessage == nil {
			continue
		}
		if err := onMessage(c.ctx, typ, data); err != nil {
			code, reason := websocket.StatusInternalError, "internal error"
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				code, reason = ce.Code, ce.Reason
			}
			c.closeWith(code, reason, true)
			return fmt.Errorf("gateway: message handler: %w", err)
		}
	}
}

func (c *Conn) readFailed(err error) error {
	c.qmu.Lock()
	closing := c.closing
	c.qmu.Unlock()
	switch {
	case closing:
		// Our own close is under way; the writer finishes it.
		return nil
	case websocket.CloseStatus(err) != -1:
		// The peer sent a close frame, which the library already answered.
		c.closeWith(noFrame, "", false)
		return nil
	case c.idle > 0 && errors.Is(err, os.ErrDeadlineExceeded):
		if c.closeCounted(StatusIdleTimeout, ReasonIdleTimeout, &c.hub.stats.idleTimeouts) {
			c.log.Debug("idle timeout", "after", c.idle)
		}
		return nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		c.closeWith(noFrame, "", false)
		return nil
	default:
		// Protocol errors and oversized messages were answered with a close
		// frame by the library already.
		c.closeWith(noFrame, "", false)
		return fmt.Errorf("gateway: read: %w", err)
	}
}

func (c *Conn) pongReceived(context.Context, []byte) {
	if f := c.hub.onPong; f != nil {
		f(c)
	}
}

func (c *Conn) pingLoop() {
	defer c.pinger.Done()
	t := time.NewTicker(c.hub.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.closingCh:
			return
		case <-t.C:
		}
		// Not derived from c.ctx: the library closes the socket outright
		// when a context ends mid-write, which would cut a graceful close.
		ctx, cancel := context.WithTimeout(context.Background(), c.hub.cfg.PongTimeout)
		err := c.ws.Ping(ctx)
		cancel()
		if err == nil {
			continue
		}
		select {
		case <-c.closingCh:
			return
		default:
		}
		if errors.Is(err, context.DeadlineExceeded) {
			if c.closeCounted(StatusPingTimeout, ReasonPingTimeout, &c.hub.stats.pingTimeouts) {
				c.log.Debug("ping timeout", "after", c.hub.cfg.PongTimeout)
			}
			return
		}
		c.closeWith(noFrame, "", false)
		return
	}
}

func (c *Conn) writeLoop() {
	defer c.teardown()
	for {
		select {
		case <-c.closingCh:
			c.finish()
			return
		case <-c.wake:
			if err := c.flush(); err != nil {
				c.log.Debug("write failed", "err", err)
				c.closeWith(noFrame, "", false)
				return
			}
		}
	}
}

// flush writes everything queued, batch by batch, until the queue is empty.
func (c *Conn) flush() error {
	for {
		c.qmu.Lock()
		if len(c.queue) == 0 {
			c.qmu.Unlock()
			return nil
		}
		batch := c.queue
		c.queue, c.spare = c.spare, nil
		c.qmu.Unlock()

		n := 0
		for _, m := range batch {
			n += len(m)
		}
		err := c.writeBatch(batch)

		c.qmu.Lock()
		c.pendingMsgs -= len(batch)
		c.pendingBytes -= n
		clear(batch)
		if cap(batch) <= keepQueueCap {
			c.spare = batch[:0]
		}
		c.qmu.Unlock()
		if err != nil {
			return err
		}
		c.hub.stats.sent.Add(uint64(len(batch)))
	}
}

func (c *Conn) writeBatch(batch [][]byte) error {
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.hub.cfg.WriteTimeout)); err != nil {
		return fmt.Errorf("gateway: set write deadline: %w", err)
	}
	// The deadline bounds this batch only. Left in place, it failed every
	// later ping (and pong) once it passed, and a quiet socket was cut
	// without a close frame (1006) one ping interval later.
	defer func() { _ = c.nc.SetWriteDeadline(time.Time{}) }()
	if len(batch) > 1 {
		c.nc.cork()
	}
	buf, err := c.codec.Encode(c.scratch[:0], batch, c.emit)
	if cap(buf) <= keepScratchBytes {
		c.scratch = buf[:0]
	} else {
		c.scratch = nil
	}
	if uerr := c.nc.uncork(); err == nil && uerr != nil {
		err = uerr
	}
	if err != nil {
		return fmt.Errorf("gateway: encode batch: %w", err)
	}
	return nil
}

func (c *Conn) writeFrame(typ websocket.MessageType, p []byte) error {
	if err := c.ws.Write(context.Background(), typ, p); err != nil {
		return fmt.Errorf("gateway: write frame: %w", err)
	}
	c.hub.stats.frames.Add(1)
	c.hub.stats.bytes.Add(uint64(len(p)))
	return nil
}

// finish runs on the writer after closing began: drain if asked, then the
// close handshake, bounded by CloseTimeout.
func (c *Conn) finish() {
	c.qmu.Lock()
	code, reason, drain := c.closeCode, c.closeReason, c.drain
	c.qmu.Unlock()
	if drain {
		if err := c.flush(); err != nil {
			c.log.Debug("write failed while draining", "err", err)
			return
		}
	}
	if code == noFrame {
		return
	}
	_ = c.nc.SetDeadline(time.Now().Add(c.hub.cfg.CloseTimeout))
	if err := c.ws.Close(code, reason); err != nil {
		c.log.Debug("close handshake incomplete", "code", int(code), "err", err)
	}
}

// teardown releases everything once the writer is done.
func (c *Conn) teardown() {
	_ = c.ws.CloseNow()
	c.pinger.Wait()
	c.hub.unsubscribeAll(c)
	c.hub.unregister(c)
	c.qmu.Lock()
	c.queue, c.spare = nil, nil
	c.qmu.Unlock()
	c.cancel()
	close(c.done)
}
