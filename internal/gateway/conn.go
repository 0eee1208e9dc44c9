package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"
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
// An idle connection holds no goroutine and no buffer. Reads are driven by
// readiness: the socket's descriptor is watched by the process's poller
// (epoll, see poller_linux.go), and a goroutine lives only while there are
// bytes to read, framing them through the WebSocket library with a pooled
// buffer; only the rest of a frame that has not fully arrived is kept
// between reads. (A socket without a descriptor, such as TLS, falls back
// to a reader goroutine of its own.) Queued messages are written by the
// hub's flusher (see flusher) in one non-blocking write per batch; a writer
// goroutine of the connection's own (writeRun) takes over only while the
// socket cannot take a batch at once, and to perform the close handshake.
// Pings and the idle timeout run from timers. The writer owns the shutdown
// sequence; Done is closed when it has finished, subscriptions are gone and
// the socket is closed.
type Conn struct {
	hub         *Hub
	id          uint64
	nc          net.Conn
	accountID   string
	sessionID   string
	addrKey     string // the place held in the hub's Sockets budget (put)
	subprotocol string
	codec       Codec
	emit        func(websocket.MessageType, []byte) error
	runWriter   func()          // c.writeRun, made once: a go statement on a method value would allocate each time
	raw         syscall.RawConn // the TCP socket, for direct writes and reads; nil (e.g. TLS): always queue, read on a goroutine
	idle        time.Duration
	maxMsgs     int
	maxBytes    int

	// write scratch, used only by the holder of the writing token
	one       [1][]byte
	wf        frameBuf
	rawWrite  func(fd uintptr) bool
	wp        []byte
	wn        int
	werr      error
	wdeadline time.Time   // the write deadline in force
	pinned    atomic.Bool // the close handshake fixed the deadlines; no refresh

	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{}
	peerDone chan struct{} // closed when the peer's close frame arrived or the read side ended
	running  atomic.Bool

	pingMu      sync.Mutex
	pingTimer   *time.Timer
	idleTimer   *time.Timer
	lastData    atomic.Int64 // unix nanoseconds of the last data frame or ping read
	awaitPong   bool
	pingStopped bool

	qmu          sync.Mutex
	writer       bool      // the writer's part is taken: listed on the flusher, or writeRun runs (or has finished the connection)
	writing      bool      // a writer (direct or the goroutine) owns the socket's data stream
	writable     sync.Cond // on qmu: writing went false (a value: one allocation less per socket)
	carry        []byte    // framed bytes a direct write left over; written before the queue
	ctrl         frameBuf  // control frames (pong, ping, a close reply) waiting for the writer; written after carry
	pongAt       int       // 1 + the offset in ctrl of the pong waiting there; 0: none
	closeSent    bool      // a close frame is queued or written; no data frame follows it
	queue        [][]byte  // from queuePool while non-empty or being written; nil when idle
	pendingMsgs  int       // queued + being written
	pendingBytes int
	hwMsgs       int
	hwBytes      int
	closing      bool
	closeCode    websocket.StatusCode
	closeReason  string

	// read side
	rd reader

	// ends counts down the two halves (reader, writer) still running; the
	// last one to finish calls onClose and closes served.
	ends    atomic.Int32
	onClose func(error)
	served  chan struct{}
	stopCtx func() bool
	runErr  error // set by the reader before it ends

	// guarded by hub.subMu; a slice, not a map: a connection has a few
	// patterns, and an empty map costs an idle socket a few hundred bytes
	subs       []connSub
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
		accountID: opts.AccountID,
		sessionID: opts.SessionID,
		codec:     codec,
		idle:      idle,
		maxMsgs:   h.cfg.SendQueueMessages,
		maxBytes:  h.cfg.SendQueueBytes,
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
		peerDone:  make(chan struct{}),
		served:    make(chan struct{}),
	}
	c.ends.Store(2)
	c.emit = c.frameData
	c.runWriter = c.writeRun
	c.rawWrite = c.rawWriteFn
	c.writable.L = &c.qmu
	return c
}

func (c *Conn) start() {
	c.pingMu.Lock()
	c.pingTimer = time.AfterFunc(c.hub.cfg.PingInterval, c.ping)
	c.pingMu.Unlock()
}

// logger tags the hub's logger with the connection. It is made when a
// line is logged, not kept: a logger per idle socket costs ~200 bytes.
func (c *Conn) logger() *slog.Logger { return c.hub.log.With("conn", c.id) }

// ID is unique among the Hub's connections (for logs).
func (c *Conn) ID() uint64 { return c.id }

// AccountID returns the account tag given at Accept.
func (c *Conn) AccountID() string { return c.accountID }

// SessionID returns the session tag given at Accept.
func (c *Conn) SessionID() string { return c.sessionID }

// Subprotocol returns the negotiated subprotocol ("" for none).
func (c *Conn) Subprotocol() string { return c.subprotocol }

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
//
// Fan-outs use Send: the flusher's workers write the sockets in parallel,
// and a burst queued while a socket waits for its write goes out in one.
func (c *Conn) Send(msg []byte) bool { return c.send(msg, false) }

// Reply is Send for an answer to the peer (a heartbeat acknowledgement, a
// handshake reply), called from the goroutine that read the request. When
// nothing is queued or being written it frames msg and offers it to the
// kernel at once, one non-blocking write, instead of waking the writer and
// waiting for it to be scheduled; what the kernel does not take goes to the
// writer, first. Order with Send is kept either way.
func (c *Conn) Reply(msg []byte) bool { return c.send(msg, true) }

func (c *Conn) send(msg []byte, direct bool) bool {
	c.qmu.Lock()
	if c.closing {
		c.qmu.Unlock()
		return false
	}
	if len(msg) > c.maxBytes {
		c.qmu.Unlock()
		c.hub.stats.oversize.Add(1)
		c.logger().Warn("message larger than the send queue dropped", "bytes", len(msg), "limit", c.maxBytes)
		return false
	}
	if direct && c.raw != nil && !c.writing && len(c.queue) == 0 && c.carry == nil && c.ctrl.b == nil {
		c.writing = true
		c.qmu.Unlock()
		c.hub.stats.queued.Add(1)
		c.sendDirect(msg)
		return true
	}
	if c.pendingMsgs+1 > c.maxMsgs || c.pendingBytes+len(msg) > c.maxBytes {
		msgs, bytes := c.pendingMsgs, c.pendingBytes
		c.qmu.Unlock()
		if c.closeCounted(StatusSlowConsumer, ReasonSlowConsumer, &c.hub.stats.slow) {
			c.logger().Info("slow consumer disconnected", "account", c.accountID, "pending_messages", msgs, "pending_bytes", bytes)
		}
		return false
	}
	if c.queue == nil {
		c.queue = getQueue()
	}
	c.queue = append(c.queue, msg)
	c.addPendingLocked(len(msg))
	kick := c.kickLocked()
	c.qmu.Unlock()
	c.hub.stats.queued.Add(1)
	if kick {
		c.hub.flush.schedule(c)
	}
	return true
}

// flushListed runs on a flusher worker for a connection it took off the
// list (the worker holds the writer's part): pending control frames and
// everything queued are framed and offered to the kernel in one
// non-blocking write. What the kernel does not take, a closing connection,
// or a socket without a raw descriptor goes to the connection's own writer
// goroutine; messages queued meanwhile put the connection back on the list.
func (c *Conn) flushListed() {
	c.qmu.Lock()
	if c.closing || c.carry != nil || c.writing || c.raw == nil {
		c.qmu.Unlock()
		go c.runWriter()
		return
	}
	batch := c.queue
	ctrl := c.takeCtrlLocked()
	if len(batch) == 0 && ctrl == nil {
		c.writer = false
		c.qmu.Unlock()
		return
	}
	c.queue = nil
	c.writing = true
	c.qmu.Unlock()

	bytes := 0
	for _, m := range batch {
		bytes += len(m)
	}
	var err error
	if ctrl != nil {
		c.wf.b = ctrl
	} else {
		c.wf.b = getBuf()
	}
	if len(batch) > 0 {
		var scratch []byte
		scratch, err = c.codec.Encode(getBuf(), batch, c.emit)
		putBuf(scratch)
	}
	frames := c.wf.take()
	n := 0
	if err == nil {
		n, err = c.tryWrite(frames)
	}
	done := err != nil || n == len(frames)

	c.qmu.Lock()
	c.writing = false
	c.pendingMsgs -= len(batch)
	c.pendingBytes -= bytes
	putQueue(batch)
	if !done {
		// The writer goroutine finishes the frames before anything queued
		// after them.
		c.carry = frames[n:]
		c.addPendingLocked(len(c.carry))
	}
	handOff := c.carry != nil || c.closing
	relist := !handOff && err == nil && (len(c.queue) > 0 || c.ctrl.b != nil)
	if !handOff && !relist {
		c.writer = false
	}
	c.writable.Broadcast()
	c.qmu.Unlock()
	if done {
		putBuf(frames)
	}
	if err != nil {
		c.logger().Debug("write failed", "err", err)
		// Starts the writer goroutine to finish the connection unless this
		// call kept the writer's part (handOff).
		c.closeWith(noFrame, "", false)
	} else if done {
		c.hub.stats.sent.Add(uint64(len(batch)))
	} else if len(batch) > 0 {
		// The carry counts as one message when the writer finishes it.
		c.hub.stats.sent.Add(uint64(len(batch) - 1))
	}
	switch {
	case handOff:
		go c.runWriter()
	case relist:
		c.hub.flush.schedule(c)
	}
}

// addPendingLocked counts one more unwritten message of n bytes (queued, or
// a direct write's leftover) and its high-water marks. c.qmu must be held.
func (c *Conn) addPendingLocked(n int) {
	c.pendingMsgs++
	c.pendingBytes += n
	c.hwMsgs = max(c.hwMsgs, c.pendingMsgs)
	c.hwBytes = max(c.hwBytes, c.pendingBytes)
}

// kickLocked claims the writer's part if no writer goroutine runs; the
// caller then starts writeRun. c.qmu must be held.
func (c *Conn) kickLocked() bool {
	if c.writer {
		return false
	}
	c.writer = true
	return true
}

// sendDirect writes msg as the holder of the writing token and gives the
// token back.
func (c *Conn) sendDirect(msg []byte) {
	c.one[0] = msg
	c.wf.b = getBuf()
	scratch, err := c.codec.Encode(getBuf(), c.one[:], c.emit)
	putBuf(scratch)
	c.one[0] = nil
	frames := c.wf.take()
	n := 0
	if err == nil {
		n, err = c.tryWrite(frames)
	}
	done := err != nil || n == len(frames)
	c.qmu.Lock()
	c.writing = false
	if !done {
		// The writer finishes the frame before anything queued after it.
		c.carry = frames[n:]
		c.addPendingLocked(len(c.carry))
	}
	kick := (len(c.queue) > 0 || c.carry != nil || c.ctrl.b != nil) && c.kickLocked()
	c.writable.Broadcast()
	c.qmu.Unlock()
	if done {
		putBuf(frames)
	}
	switch {
	case err != nil:
		c.logger().Debug("write failed", "err", err)
		// Closing needs the writer goroutine to finish the connection: the
		// close starts one unless this call already claimed it (kick).
		c.closeWith(noFrame, "", false)
	case done:
		c.hub.stats.sent.Add(1)
		c.hub.stats.direct.Add(1)
	}
	if kick {
		go c.runWriter()
	}
}

// frameData is the codec's emit: one data frame into the write scratch.
// Only the holder of the writing token calls it.
func (c *Conn) frameData(typ websocket.MessageType, p []byte) error {
	c.wf.frame(opcodeOf(typ), p)
	c.countFrame(p)
	return nil
}

// sendControl queues a control frame for the writer, ahead of queued data.
// A close frame is the last frame: nothing is framed after it.
func (c *Conn) sendControl(op ws.OpCode, payload []byte) bool {
	c.qmu.Lock()
	if c.closeSent {
		c.qmu.Unlock()
		return false
	}
	if op == ws.OpClose {
		c.closeSent = true
	}
	if op == ws.OpPong {
		// Only the latest ping is answered (RFC 6455 §5.5.3 allows it): a
		// peer that sends pings and reads nothing cannot make us hold a
		// pong per ping while the writer waits on its socket.
		if c.pongAt > 0 {
			start := c.pongAt - 1
			end := start + 2 + int(c.ctrl.b[start+1]&0x7f)
			c.ctrl.b = append(c.ctrl.b[:start], c.ctrl.b[end:]...)
		}
		c.pongAt = len(c.ctrl.b) + 1
	}
	c.ctrl.frame(op, payload)
	kick := c.kickLocked()
	c.qmu.Unlock()
	if kick {
		c.hub.flush.schedule(c)
	}
	return true
}

// takeCtrlLocked returns the control frames waiting for the writer and
// leaves none. c.qmu must be held.
func (c *Conn) takeCtrlLocked() []byte {
	c.pongAt = 0
	return c.ctrl.take()
}

func (c *Conn) countFrame(p []byte) {
	c.hub.stats.frames.Add(1)
	c.hub.stats.bytes.Add(uint64(len(p)))
}

func opcodeOf(typ websocket.MessageType) ws.OpCode {
	if typ == websocket.MessageBinary {
		return ws.OpBinary
	}
	return ws.OpText
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
	return c.closeWithHook(code, reason, drain, nil, nil)
}

// closeWithHook is closeWith that also runs started (if this call starts
// the close) before anyone can observe the close, and queues reply (a
// close frame's payload answering the peer's) in the same step, so no data
// frame can slip in after it.
func (c *Conn) closeWithHook(code websocket.StatusCode, reason string, drain bool, started func(), reply []byte) bool {
	if code != noFrame && !wireCode(code) {
		code = websocket.StatusInternalError
	}
	c.qmu.Lock()
	if reply != nil && !c.closeSent && !c.closing {
		c.closeSent = true
		c.ctrl.frame(ws.OpClose, reply)
	}
	if c.closing {
		c.qmu.Unlock()
		return false
	}
	c.closing = true
	c.closeCode, c.closeReason = code, truncateReason(reason)
	if !drain {
		for _, m := range c.queue {
			c.pendingBytes -= len(m)
		}
		c.pendingMsgs -= len(c.queue)
		putQueue(c.queue)
		c.queue = nil
	}
	kick := c.kickLocked()
	c.qmu.Unlock()
	if started != nil {
		started()
	}
	c.cancel()
	if kick {
		go c.runWriter()
	}
	return true
}

// closeCounted closes without draining and, if this call started the close,
// bumps counter before anyone can observe the close (tests read Stats after
// Done).
func (c *Conn) closeCounted(code websocket.StatusCode, reason string, counter *atomic.Uint64) bool {
	return c.closeWithHook(code, reason, false, func() { counter.Add(1) }, nil)
}

// forceClose cuts the socket off without a handshake; the writer then
// finishes quickly.
func (c *Conn) forceClose() {
	c.closeWith(noFrame, "", false)
	c.closeSocket()
}

// closeSocket stops watching the socket and closes it. Idempotent.
func (c *Conn) closeSocket() {
	c.rd.stop(c)
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

// Run is Serve that waits: it returns after the connection is fully closed
// and its reading has ended, with what Serve would pass to onClose. The
// calling goroutine is parked meanwhile; a surface that keeps many idle
// sockets uses Serve instead.
func (c *Conn) Run(ctx context.Context, onMessage Handler) error {
	var err error
	if serr := c.Serve(ctx, onMessage, func(e error) { err = e }); serr != nil {
		return serr
	}
	<-c.served
	return err
}

// Serve starts reading frames and returns at once. onMessage is called for
// each data message (ReadLimit applies; a nil onMessage discards them), one
// at a time, on a goroutine that lives only while the socket has bytes to
// read. Pongs and close frames are only processed once Serve has been
// called, so it must be called, even on a connection that is being closed
// right after Accept. If ctx is cancelled the connection is closed with
// 1001. onClose (if not nil) is called once, after the connection is fully
// closed and its reading has ended: with nil when it was closed by either
// side in an orderly way or by the Hub (Close, CloseAccount, Shutdown, slow
// consumer, timeouts), the handler's error wrapped if it returned one, else
// the read error wrapped.
func (c *Conn) Serve(ctx context.Context, onMessage Handler, onClose func(error)) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("gateway: Run or Serve called more than once")
	}
	c.onClose = onClose
	if ctx.Done() != nil { // the surfaces pass contexts that never end: nothing to watch
		c.stopCtx = context.AfterFunc(ctx, func() { c.Close(websocket.StatusGoingAway, "") })
	}
	if c.idle > 0 {
		c.lastData.Store(time.Now().UnixNano())
		c.pingMu.Lock()
		if !c.pingStopped {
			c.idleTimer = time.AfterFunc(c.idle, c.idleCheck)
		}
		c.pingMu.Unlock()
	}
	c.rd.start(c, onMessage)
	return nil
}

// endOne marks one half (reader or writer) finished; the last one calls
// onClose.
func (c *Conn) endOne() {
	if c.ends.Add(-1) != 0 {
		return
	}
	if c.stopCtx != nil {
		c.stopCtx()
	}
	if c.onClose != nil {
		c.onClose(c.runErr)
	}
	close(c.served)
}

// idleCheck runs on the idle timer: close the socket if no data frame or
// ping came for the idle timeout, else wait for the rest of it.
func (c *Conn) idleCheck() {
	since := time.Duration(time.Now().UnixNano() - c.lastData.Load())
	if since < c.idle {
		c.pingMu.Lock()
		if !c.pingStopped {
			c.idleTimer.Reset(c.idle - since)
		}
		c.pingMu.Unlock()
		return
	}
	if c.closeCounted(StatusIdleTimeout, ReasonIdleTimeout, &c.hub.stats.idleTimeouts) {
		c.logger().Debug("idle timeout", "after", c.idle)
	}
}

func (c *Conn) pongReceived() {
	c.pingMu.Lock()
	if c.awaitPong && !c.pingStopped {
		c.awaitPong = false
		c.pingTimer.Reset(c.hub.cfg.PingInterval)
	}
	c.pingMu.Unlock()
	if f := c.hub.onPong; f != nil {
		f(c)
	}
}

var pingPayload = []byte("hearth")

// ping runs on the ping timer: it queues a ping and arms the timer for the
// pong's deadline; if the timer fires again before the pong came, the
// socket is closed with 1008 "ping timeout".
func (c *Conn) ping() {
	c.pingMu.Lock()
	if c.pingStopped {
		c.pingMu.Unlock()
		return
	}
	if c.awaitPong {
		c.pingMu.Unlock()
		if c.closeCounted(StatusPingTimeout, ReasonPingTimeout, &c.hub.stats.pingTimeouts) {
			c.logger().Debug("ping timeout", "after", c.hub.cfg.PongTimeout)
		}
		return
	}
	c.awaitPong = true
	c.pingTimer.Reset(c.hub.cfg.PongTimeout)
	c.pingMu.Unlock()
	c.sendControl(ws.OpPing, pingPayload)
}

// stopPings stops the ping and idle timers.
func (c *Conn) stopPings() {
	c.pingMu.Lock()
	c.pingStopped = true
	if c.pingTimer != nil {
		c.pingTimer.Stop()
	}
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
	c.pingMu.Unlock()
}

// writeRun is the writer goroutine. It runs only while there is something
// to write (an idle socket keeps no goroutine parked for it): it drains the
// queue and exits, or, once the connection is closing, finishes it.
func (c *Conn) writeRun() {
	for {
		if err := c.flush(); err != nil {
			c.logger().Debug("write failed", "err", err)
			c.closeWith(noFrame, "", false)
		}
		c.qmu.Lock()
		if c.closing {
			c.qmu.Unlock()
			c.finish()
			c.teardown()
			return
		}
		if len(c.queue) == 0 && c.carry == nil && c.ctrl.b == nil {
			c.writer = false
			c.qmu.Unlock()
			return
		}
		c.qmu.Unlock()
	}
}

// flush writes everything pending, batch by batch, until nothing is left:
// a direct write's leftover first, then control frames, then the queue. It
// waits for a direct write in flight (one non-blocking syscall) to give
// the token back.
func (c *Conn) flush() error {
	for {
		c.qmu.Lock()
		for c.writing {
			c.writable.Wait()
		}
		carry := c.carry
		if len(c.queue) == 0 && carry == nil && c.ctrl.b == nil {
			c.qmu.Unlock()
			return nil
		}
		batch := c.queue
		c.queue, c.carry = nil, nil
		ctrl := c.takeCtrlLocked()
		afterClose := c.closeSent
		c.writing = true
		c.qmu.Unlock()

		n := len(carry)
		for _, m := range batch {
			n += len(m)
		}
		msgs := len(batch)
		if carry != nil {
			msgs++
		}
		// Not framed again: carry is the rest of a frame, starting
		// anywhere in its payload.
		frames := getBuf()
		frames = append(frames, carry...)
		putBuf(carry[:0])
		frames = append(frames, ctrl...)
		putBuf(ctrl)
		var err error
		if len(batch) > 0 && !afterClose {
			c.wf.b = frames
			var scratch []byte
			scratch, err = c.codec.Encode(getBuf(), batch, c.emit)
			putBuf(scratch)
			frames = c.wf.take()
		}
		if err == nil {
			err = c.writeAll(frames)
		}
		putBuf(frames)

		c.qmu.Lock()
		c.writing = false
		c.pendingMsgs -= msgs
		c.pendingBytes -= n
		putQueue(batch)
		c.writable.Broadcast()
		c.qmu.Unlock()
		if err != nil {
			return err
		}
		c.hub.stats.sent.Add(uint64(msgs))
	}
}

// finish runs on the writer after closing began: write what is left (the
// whole queue if the close drains), then the close handshake, bounded by
// CloseTimeout.
func (c *Conn) finish() {
	c.qmu.Lock()
	code, reason := c.closeCode, c.closeReason
	c.qmu.Unlock()
	// Without drain the queue is already empty, but the rest of a frame a
	// direct write began, and a close frame answering the peer's, must
	// still go out.
	if err := c.flush(); err != nil {
		c.logger().Debug("write failed while draining", "err", err)
		return
	}
	if code == noFrame {
		return
	}
	c.qmu.Lock()
	sent := c.closeSent
	c.closeSent = true
	c.qmu.Unlock()
	if sent {
		// The peer closed first and was answered.
		return
	}
	c.pinned.Store(true)
	_ = c.nc.SetDeadline(time.Now().Add(c.hub.cfg.CloseTimeout))
	var f frameBuf
	f.frame(ws.OpClose, ws.NewCloseFrameBody(ws.StatusCode(code), reason))
	err := c.writeAll(f.b)
	putBuf(f.b)
	if err != nil {
		c.logger().Debug("close handshake incomplete", "code", int(code), "err", err)
		return
	}
	t := time.NewTimer(c.hub.cfg.CloseTimeout)
	defer t.Stop()
	select {
	case <-c.peerDone:
	case <-t.C:
		c.logger().Debug("close handshake incomplete", "code", int(code), "err", "no close frame from the peer")
	}
}

// teardown releases everything once the writer is done.
func (c *Conn) teardown() {
	c.stopPings()
	c.closeSocket()
	c.hub.unsubscribeAll(c)
	c.hub.unregister(c)
	c.qmu.Lock()
	putQueue(c.queue)
	c.queue = nil
	c.qmu.Unlock()
	c.cancel()
	close(c.done)
	c.endOne()
}

// fanoutChunk is how many listed sockets one flusher worker takes at a
// time, and how many sockets each worker beyond the first stands for.
const fanoutChunk = 64

// SendAll hands msg to every connection in conns, as Send does: it is
// queued on each socket and the flusher's workers (at most GOMAXPROCS, not
// a goroutine per socket) write it; SendAll itself writes nothing. It
// returns once the workers have taken every socket that was listed before
// msg, which holds the sockets listed for the caller's previous message,
// so a publisher is at most one fan-out ahead of the writes.
//
// That one fan-out is where the saving is. A message to 1,000 sockets
// takes the workers ≈ 10 ms of write(2) on loopback, and a busy community
// posts one every few milliseconds: msg then joins the queue of every
// socket still waiting with the previous one, and both go out in one
// write(2) (one system call per socket for two frames, where writing each
// message from the publisher cost one per frame). Nothing waits on
// purpose: on an idle node a message is written as soon as a worker runs.
// And since the publisher waits for the previous fan-out, a node that falls
// behind keeps its backlog where it was (the publisher's inbox), not in the
// sockets' queues, where it would count against their slow-consumer limit.
// Successive calls keep their order on each socket.
func SendAll(conns []*Conn, msg []byte) {
	if len(conns) == 0 {
		return
	}
	// One Hub's flusher in practice (a surface has one Hub); a second
	// Hub's is waited on too, and a fan-out over more is not bounded.
	var fl [2]*flusher
	var marks [2]uint64
	hubs := fl[:0]
	for _, c := range conns {
		f := &c.hub.flush
		if len(hubs) < len(fl) && !slices.Contains(hubs, f) {
			marks[len(hubs)] = f.mark()
			hubs = append(hubs, f)
		}
	}
	for _, c := range conns {
		c.send(msg, false)
	}
	for i, f := range hubs {
		f.waitTaken(marks[i])
	}
}
