package gateway

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// corkConn sits between the WebSocket library and the TCP connection. The
// gateway's writer frames data messages itself (appendFrame) into the cork
// buffer and hands a whole batch to the kernel in one write (uncork), so a
// batch of N one-message frames (Together, OTT) costs one syscall, not N,
// and no trip through the library's writer. The library still writes the
// control frames (pings, pongs, close) through Write: one Write per frame,
// which mu keeps whole. A control frame written while the writer is between
// cork and uncork joins the batch in order.
//
// Every write refreshes the write deadline when less than half of timeout is
// left, so a write never blocks much longer than timeout and a quiet socket
// never meets a stale deadline; that costs a clock read per write instead of
// two deadline changes per batch.
type corkConn struct {
	net.Conn
	timeout time.Duration // 0: no write deadline

	mu       sync.Mutex
	corked   bool
	buf      []byte
	deadline time.Time // the write deadline in force
	pinned   bool      // SetDeadline fixed it; no refresh
	closed   bool      // a close frame went out; later data frames are dropped

	// tryWrite's arguments and results for rawWrite, under mu
	rawWrite func(fd uintptr) bool
	wp       []byte
	wn       int
	werr     error
}

func (cc *corkConn) Write(p []byte) (int, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if len(p) > 0 && p[0]&0x0f == 0x8 {
		// The library writes each control frame in one Write, so p starts
		// with the frame's first byte: this is a close frame.
		cc.closed = true
	}
	if cc.corked {
		cc.buf = append(cc.buf, p...)
		return len(p), nil
	}
	if err := cc.refreshDeadline(); err != nil {
		return 0, err
	}
	n, err := cc.Conn.Write(p)
	if err != nil {
		return n, fmt.Errorf("gateway: socket write: %w", err)
	}
	return n, nil
}

func (cc *corkConn) cork() {
	cc.mu.Lock()
	cc.corked = true
	if cc.buf == nil {
		cc.buf = getBuf()
	}
	cc.mu.Unlock()
}

// Cork buffers are pooled, not kept per socket: a socket needs one only
// while its writer is between cork and uncork, and hundreds of idle sockets
// each keeping the largest batch it ever wrote added up. The pool holds
// boxes, and the empty boxes are pooled too, so taking a buffer and giving
// it back allocates nothing once the pools are warm (putting a bare slice
// in a sync.Pool would allocate its header every time).
var bufPool, boxPool sync.Pool

type bufBox struct{ b []byte }

func getBuf() []byte {
	box, ok := bufPool.Get().(*bufBox)
	if !ok {
		return make([]byte, 0, 4<<10)
	}
	b := box.b[:0]
	box.b = nil
	boxPool.Put(box)
	return b
}

func putBuf(b []byte) {
	if cap(b) == 0 || cap(b) > keepScratchBytes {
		return
	}
	box, ok := boxPool.Get().(*bufBox)
	if !ok {
		box = new(bufBox)
	}
	box.b = b[:0]
	bufPool.Put(box)
}

// appendFrame adds one data frame to the cork buffer. Only the writer calls
// it, between cork and uncork.
func (cc *corkConn) appendFrame(opcode byte, payload []byte) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if !cc.closed {
		cc.buf = appendWSFrame(cc.buf, opcode, payload)
	}
}

// appendFramed adds bytes that are already framed (the rest of a frame a
// non-blocking write left over) to the cork buffer. Only the writer calls
// it, between cork and uncork.
func (cc *corkConn) appendFramed(p []byte) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if !cc.closed {
		cc.buf = append(cc.buf, p...)
	}
}

// appendWSFrame appends one unmasked, unfragmented frame (RFC 6455 §5.2).
func appendWSFrame(b []byte, opcode byte, payload []byte) []byte {
	b = append(b, 0x80|opcode) // FIN
	switch n := len(payload); {
	case n <= 125:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// tryWrite hands p to the kernel without waiting: one non-blocking write(2)
// on rc, the socket's descriptor. It reports how much the kernel took (the
// rest is the caller's to write later, in order) and attempted=false, having
// written nothing, when another write holds the socket (a control frame,
// possibly blocked on a full socket). After a close frame, p is dropped.
func (cc *corkConn) tryWrite(rc syscall.RawConn, p []byte) (n int, attempted bool, err error) {
	if !cc.mu.TryLock() {
		return 0, false, nil
	}
	defer cc.mu.Unlock()
	if cc.closed {
		return len(p), true, nil
	}
	// The descriptor refuses even a non-blocking write once its deadline
	// has passed.
	if err := cc.refreshDeadline(); err != nil {
		return 0, true, err
	}
	// The callback is built once per socket (cc.rawWrite) and takes its
	// arguments from fields under cc.mu: a closure made here would escape
	// into the RawConn interface and cost an allocation per write.
	cc.wp = p
	cerr := rc.Write(cc.rawWriteFn())
	n, werr := cc.wn, cc.werr
	cc.wp, cc.werr = nil, nil
	if cerr != nil {
		return 0, true, fmt.Errorf("gateway: socket write: %w", cerr)
	}
	n = max(n, 0)
	if werr != nil && werr != syscall.EAGAIN { // EAGAIN: the socket is full; the rest waits
		return n, true, fmt.Errorf("gateway: socket write: %w", werr)
	}
	return n, true, nil
}

// rawWriteFn returns the socket's non-blocking write callback for
// RawConn.Write, building it on first use. cc.mu must be held.
func (cc *corkConn) rawWriteFn() func(fd uintptr) bool {
	if cc.rawWrite == nil {
		cc.rawWrite = func(fd uintptr) bool {
			for {
				cc.wn, cc.werr = syscall.Write(int(fd), cc.wp)
				if cc.werr != syscall.EINTR {
					return true
				}
			}
		}
	}
	return cc.rawWrite
}

// uncork writes what was gathered and returns to direct writes.
func (cc *corkConn) uncork() error {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.corked = false
	buf := cc.buf
	cc.buf = nil
	defer putBuf(buf)
	if len(buf) == 0 {
		return nil
	}
	err := cc.refreshDeadline()
	if err == nil {
		_, err = cc.Conn.Write(buf)
	}
	if err != nil {
		return fmt.Errorf("gateway: socket write: %w", err)
	}
	return nil
}

// refreshDeadline moves the write deadline to timeout from now when less
// than half of it is left. cc.mu must be held.
func (cc *corkConn) refreshDeadline() error {
	if cc.timeout <= 0 || cc.pinned {
		return nil
	}
	now := time.Now()
	if cc.deadline.Sub(now) >= cc.timeout/2 {
		return nil
	}
	cc.deadline = now.Add(cc.timeout)
	if err := cc.Conn.SetWriteDeadline(cc.deadline); err != nil {
		return fmt.Errorf("gateway: set write deadline: %w", err)
	}
	return nil
}

// SetDeadline fixes both deadlines (the close handshake's bound); writes no
// longer refresh the write deadline after it.
func (cc *corkConn) SetDeadline(t time.Time) error {
	cc.mu.Lock()
	cc.pinned, cc.deadline = true, t
	cc.mu.Unlock()
	if err := cc.Conn.SetDeadline(t); err != nil {
		return fmt.Errorf("gateway: set deadline: %w", err)
	}
	return nil
}

// controlWriterSize holds the largest control frame a server writes: a 2-byte
// header and a 125-byte payload (servers do not mask).
const controlWriterSize = 128

// hijackCapture hands websocket.Accept a corkConn instead of the raw
// connection, and keeps it, so the gateway can also set deadlines on it
// (bounded writes and close handshakes) and force it closed.
type hijackCapture struct {
	http.ResponseWriter
	writeTimeout time.Duration
	conn         *corkConn
}

func (hc *hijackCapture) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(hc.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: hijack: %w", err)
	}
	if err := brw.Writer.Flush(); err != nil {
		_ = nc.Close()
		return nil, nil, fmt.Errorf("gateway: hijack: flush: %w", err)
	}
	hc.conn = &corkConn{Conn: nc, timeout: hc.writeTimeout}
	// The library writes only control frames through this writer (at most
	// 2+4+125 bytes each, flushed one by one); data frames go through the
	// cork buffer. net/http's 4 KiB writer would sit idle on every socket,
	// and net/http's conn (alive as long as the handler runs) keeps a
	// pointer to that very Writer: so the small writer is copied into it,
	// which drops the 4 KiB buffer instead of keeping it for the socket's
	// life. net/http does not touch its writer after a hijack.
	*brw.Writer = *bufio.NewWriterSize(hc.conn, controlWriterSize)
	return hc.conn, brw, nil
}

func (hc *hijackCapture) Unwrap() http.ResponseWriter { return hc.ResponseWriter }

// canHijack reports whether w (or a writer it wraps) can be hijacked, as
// websocket.Accept requires; hijackCapture always claims it can.
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
