package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"
)

// readFairBytes is how much one read turn takes from a socket before it
// lets the poller serve others (the socket is re-armed and comes back).
const readFairBytes = 64 << 10

// reader is a connection's read side. Frames are read by whichever
// goroutine the socket's readiness started (one at a time, see busy), into
// a pooled buffer; between turns it keeps only the bytes of a frame that
// has not fully arrived.
type reader struct {
	mu       sync.Mutex
	started  bool // Serve was called
	busy     bool // a goroutine is reading
	stopped  bool // no more reading: the socket is closing or the read side ended
	ended    bool // the read side has finished (endOne called)
	polled   bool // registered with the poller
	key      uint64
	fd       int
	handler  Handler
	partial  []byte // an incomplete frame's bytes, kept between turns
	need     int    // bytes the next frame needs, when its header is known
	msg      []byte // fragments of a message being assembled
	msgOp    ws.OpCode
	frag     bool // inside a fragmented message
	discard  bool // the handler failed: later messages are dropped
	sr       sliceReader
	hdr      [ws.MaxHeaderSize]byte
	readN    int
	readErr  error
	readBuf  []byte
	readFunc func(fd uintptr) bool
}

type sliceReader struct{ b []byte }

func (s *sliceReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

// start begins reading: through the poller when the socket has a
// descriptor, else on a goroutine of the connection's own.
func (r *reader) start(c *Conn, h Handler) {
	r.mu.Lock()
	r.started, r.handler = true, h
	if r.stopped {
		r.mu.Unlock()
		r.finish(c)
		return
	}
	if c.raw != nil {
		if p := getPoller(); p != nil {
			var fd int
			if err := c.raw.Control(func(f uintptr) { fd = int(f) }); err == nil {
				if key, err := p.add(c, fd); err == nil {
					r.polled, r.key, r.fd = true, key, fd
					r.readFunc = r.readFn
				}
			}
		}
	}
	polled, pending := r.polled, r.partial != nil
	r.mu.Unlock()
	switch {
	case !polled:
		go r.loop(c)
	case pending:
		// Bytes that came with the handshake: no readiness will announce
		// them.
		go r.readable(c)
	}
}

// stop ends reading before the socket is closed.
func (r *reader) stop(c *Conn) {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	r.stopped = true
	if r.polled {
		getPoller().del(r.key, r.fd)
	}
	idle := r.started && r.polled && !r.busy
	r.mu.Unlock()
	if idle {
		r.finish(c)
	}
}

// finish marks the read side ended, once.
func (r *reader) finish(c *Conn) {
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return
	}
	r.ended, r.stopped = true, true
	if r.polled {
		getPoller().del(r.key, r.fd)
		r.polled = false
	}
	r.partial, r.msg = nil, nil
	r.mu.Unlock()
	close(c.peerDone)
	c.endOne()
}

// readable is one read turn, started by the poller.
func (r *reader) readable(c *Conn) {
	r.mu.Lock()
	if r.busy || r.stopped {
		r.mu.Unlock()
		return
	}
	r.busy = true
	r.mu.Unlock()
	alive := r.turn(c)
	r.mu.Lock()
	r.busy = false
	end := !alive || r.stopped
	if !end {
		if err := getPoller().rearm(r.key, r.fd); err != nil {
			end = true
		}
	}
	r.mu.Unlock()
	if end {
		r.finish(c)
	}
}

// turn reads what the socket has (up to readFairBytes) without blocking
// and handles every complete frame. It reports false when the read side
// has ended.
func (r *reader) turn(c *Conn) bool {
	buf := getBuf()
	buf = append(buf, r.partial...)
	r.partial = nil
	total := 0
	for {
		off, alive := r.parse(c, buf)
		if !alive {
			putBuf(buf)
			return false
		}
		buf = buf[:copy(buf, buf[off:])]
		if total >= readFairBytes {
			break
		}
		buf = r.room(buf)
		r.readBuf = buf[len(buf):cap(buf)]
		cerr := c.raw.Read(r.readFunc)
		n, err := r.readN, r.readErr
		r.readBuf, r.readErr = nil, nil
		if cerr != nil {
			err = cerr
		}
		if err == syscall.EAGAIN {
			break
		}
		if err == nil && n == 0 {
			err = io.EOF
		}
		if err != nil {
			putBuf(buf)
			r.readFailed(c, err)
			return false
		}
		buf = buf[:len(buf)+n]
		total += n
	}
	if len(buf) > 0 {
		r.partial = bytes.Clone(buf)
	}
	putBuf(buf)
	return true
}

func (r *reader) readFn(fd uintptr) bool {
	for {
		r.readN, r.readErr = syscall.Read(int(fd), r.readBuf)
		if r.readErr != syscall.EINTR {
			return true
		}
	}
}

// loop reads with blocking reads, for a socket without a descriptor.
func (r *reader) loop(c *Conn) {
	buf := make([]byte, 0, 4<<10)
	buf = append(buf, r.partial...)
	r.partial = nil
	for {
		off, alive := r.parse(c, buf)
		if !alive {
			break
		}
		buf = buf[:copy(buf, buf[off:])]
		buf = r.room(buf)
		n, err := c.nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if off, alive = r.parse(c, buf); alive {
				r.readFailed(c, err)
			}
			_ = off
			break
		}
	}
	r.finish(c)
}

// room makes space in buf for the next read: at least 512 bytes, and the
// whole next frame when its header is known.
func (r *reader) room(buf []byte) []byte {
	want := max(512, r.need-len(buf))
	if cap(buf)-len(buf) < want {
		buf = slices.Grow(buf, want)
	}
	return buf
}

// errTooBig is coder/websocket's, which callers already test for.
var errTooBig = websocket.ErrMessageTooBig

// parse handles the complete frames at the start of b and returns how many
// bytes they took, and false once the read side has ended (a close frame,
// a protocol error).
func (r *reader) parse(c *Conn, b []byte) (int, bool) {
	off := 0
	r.need = 0
	for len(b)-off >= 2 {
		r.sr.b = b[off:]
		h, err := ws.ReadHeaderBuffer(&r.sr, r.hdr[:])
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return off, true
		}
		hl := len(b) - off - len(r.sr.b)
		r.sr.b = nil
		state := ws.StateServerSide
		if r.frag {
			state |= ws.StateFragmented
		}
		if err == nil {
			err = ws.CheckHeader(h, state)
		}
		if err != nil {
			r.protocolError(c, err)
			return off, false
		}
		limit := c.hub.cfg.ReadLimit
		if h.OpCode.IsData() || h.OpCode == ws.OpContinuation {
			// Compared as what is left of the limit: a continuation may
			// declare up to 2^63-1 bytes, and adding that to the bytes
			// already gathered would wrap past the check (and the frame's
			// length would then size the read buffer).
			if h.Length > limit-int64(len(r.msg)) {
				c.runErr = fmt.Errorf("gateway: read: %w (limit %d bytes)", errTooBig, limit)
				c.closeWith(websocket.StatusMessageTooBig, fmt.Sprintf("read limited at %d bytes", limit), false)
				return off, false
			}
		}
		if int64(len(b)-off-hl) < h.Length {
			r.need = hl + int(h.Length)
			return off, true
		}
		payload := b[off+hl : off+hl+int(h.Length)]
		off += hl + int(h.Length)
		if h.Masked {
			ws.Cipher(payload, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpPing:
			// A client's ping is activity for the idle timeout, as any
			// inbound frame is for Together's gateway: a client whose
			// library pings but sends no data stays connected there.
			// Pongs are not (they answer the hub's own pings, which
			// every live browser does).
			c.lastData.Store(time.Now().UnixNano())
			c.sendControl(ws.OpPong, payload)
		case ws.OpPong:
			c.pongReceived()
		case ws.OpClose:
			r.peerClosed(c, payload)
			return off, false
		default:
			r.data(c, h, payload)
		}
	}
	return off, true
}

func (r *reader) data(c *Conn, h ws.Header, payload []byte) {
	var msg []byte
	switch {
	case h.Fin && !r.frag:
		r.msgOp = h.OpCode
		msg = bytes.Clone(payload)
		if msg == nil {
			msg = []byte{}
		}
	case !r.frag:
		r.frag, r.msgOp = true, h.OpCode
		r.msg = append([]byte{}, payload...)
		return
	default:
		r.msg = append(r.msg, payload...)
		if !h.Fin {
			return
		}
		msg, r.msg, r.frag = r.msg, nil, false
	}
	c.lastData.Store(time.Now().UnixNano())
	if r.handler == nil || r.discard {
		return
	}
	typ := websocket.MessageText
	if r.msgOp == ws.OpBinary {
		typ = websocket.MessageBinary
	}
	if err := r.handler(c.ctx, typ, msg); err != nil {
		code, reason := websocket.StatusInternalError, "internal error"
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			code, reason = ce.Code, ce.Reason
		}
		r.discard = true
		c.runErr = fmt.Errorf("gateway: message handler: %w", err)
		c.closeWith(code, reason, true)
	}
}

// peerClosed answers the peer's close frame (echoing its code) unless our
// own close is under way, which this frame completes.
func (r *reader) peerClosed(c *Conn, payload []byte) {
	var reply []byte
	if len(payload) >= 2 {
		code, _ := ws.ParseCloseFrameData(payload)
		if !wireCode(websocket.StatusCode(code)) {
			code = ws.StatusProtocolError
		}
		reply = ws.NewCloseFrameBody(code, "")
	} else {
		reply = []byte{}
	}
	c.closeWithHook(noFrame, "", false, nil, reply)
}

func (r *reader) protocolError(c *Conn, err error) {
	c.runErr = fmt.Errorf("gateway: read: %w", err)
	c.closeWith(websocket.StatusProtocolError, err.Error(), false)
}

// readFailed handles the end of the byte stream.
func (r *reader) readFailed(c *Conn, err error) {
	c.qmu.Lock()
	closing := c.closing
	c.qmu.Unlock()
	switch {
	case closing:
		// Our own close is under way; the writer finishes it.
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET):
		c.closeWith(noFrame, "", false)
	default:
		c.runErr = fmt.Errorf("gateway: read: %w", err)
		c.closeWith(noFrame, "", false)
	}
}
