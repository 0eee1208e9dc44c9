package gateway

import (
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// Frame buffers are pooled, not kept per socket: a socket needs one only
// while a batch is being framed and written, or while a frame is being
// read. The pool holds boxes, and the empty boxes are pooled too, so taking
// a buffer and giving it back allocates nothing once the pools are warm
// (putting a bare slice in a sync.Pool would allocate its header every time).
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

// Send queues come from a pool too: a connection holds one only while it
// has messages queued or being written, so an idle socket keeps none, and
// a busy one takes and gives back the same few without allocating.
var queuePool, queueBoxPool sync.Pool

type queueBox struct{ q [][]byte }

func getQueue() [][]byte {
	box, ok := queuePool.Get().(*queueBox)
	if !ok {
		return make([][]byte, 0, 16)
	}
	q := box.q[:0]
	box.q = nil
	queueBoxPool.Put(box)
	return q
}

// putQueue gives q back (its messages are dropped; q must not be used
// afterwards). A queue that grew past keepQueueCap is left to the collector.
func putQueue(q [][]byte) {
	if cap(q) == 0 || cap(q) > keepQueueCap {
		return
	}
	clear(q)
	box, ok := queueBoxPool.Get().(*queueBox)
	if !ok {
		box = new(queueBox)
	}
	box.q = q[:0]
	queuePool.Put(box)
}

// frameBuf gathers frames for one write. Each frame's 2–10-byte header is
// appended straight into the pooled buffer by appendFrameHeader: we write
// this buffer to the socket ourselves (tryWrite), so no library writer sits
// under it. gobwas/ws still reads frames and does the handshake; its header
// writer (ws.WriteHeaderBuffer through an io.Writer) cost about 95 more
// instructions per delivery than the append (docs/performance.md).
type frameBuf struct {
	b []byte
}

// frame appends one unmasked, unfragmented frame (servers do not mask).
func (f *frameBuf) frame(op ws.OpCode, payload []byte) {
	if f.b == nil {
		f.b = getBuf()
	}
	f.b = appendFrameHeader(f.b, op, len(payload))
	f.b = append(f.b, payload...)
}

// appendFrameHeader appends the header of a final, unmasked frame of n
// payload bytes (RFC 6455 §5.2): FIN and the opcode, then the length in 7
// bits, or 126 and 16 bits, or 127 and 64 bits, big-endian.
func appendFrameHeader(b []byte, op ws.OpCode, n int) []byte {
	b0 := 0x80 | byte(op)&0x0f
	switch {
	case n < 126:
		return append(b, b0, byte(n))
	case n <= 0xffff:
		return append(b, b0, 126, byte(n>>8), byte(n))
	default:
		u := uint64(n)
		return append(b, b0, 127, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32),
			byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	}
}

// take returns the gathered frames and leaves f empty.
func (f *frameBuf) take() []byte {
	b := f.b
	f.b = nil
	return b
}

// tryWrite hands p to the kernel without waiting: one non-blocking write(2)
// on the socket's descriptor. It reports how much the kernel took; the rest
// is the caller's to write later, in order. Only the holder of the writing
// token calls it.
func (c *Conn) tryWrite(p []byte) (int, error) {
	// The descriptor refuses even a non-blocking write once its deadline
	// has passed.
	if err := c.refreshDeadline(); err != nil {
		return 0, err
	}
	// The callback is built once per socket (c.rawWrite) and takes its
	// arguments from fields the token guards: a closure made here would
	// escape into the RawConn interface and cost an allocation per write.
	c.wp = p
	cerr := c.raw.Write(c.rawWrite)
	n, werr := c.wn, c.werr
	c.wp, c.werr = nil, nil
	if cerr != nil {
		return 0, fmt.Errorf("gateway: socket write: %w", cerr)
	}
	n = max(n, 0)
	if werr != nil && werr != syscall.EAGAIN { // EAGAIN: the socket is full; the rest waits
		return n, fmt.Errorf("gateway: socket write: %w", werr)
	}
	return n, nil
}

func (c *Conn) rawWriteFn(fd uintptr) bool {
	for {
		c.wn, c.werr = syscall.Write(int(fd), c.wp)
		if c.werr != syscall.EINTR {
			return true
		}
	}
}

// writeAll writes p whole, blocking under the write deadline. Only the
// holder of the writing token calls it.
func (c *Conn) writeAll(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if err := c.refreshDeadline(); err != nil {
		return err
	}
	if _, err := c.nc.Write(p); err != nil {
		return fmt.Errorf("gateway: socket write: %w", err)
	}
	return nil
}

// refreshDeadline moves the write deadline to WriteTimeout from now when
// less than half of it is left, so a write never blocks much longer than
// WriteTimeout and a quiet socket never meets a stale deadline; that costs
// a clock read per write instead of two deadline changes per batch. Only
// the holder of the writing token calls it.
func (c *Conn) refreshDeadline() error {
	timeout := c.hub.cfg.WriteTimeout
	if timeout <= 0 || c.pinned.Load() {
		return nil
	}
	now := time.Now()
	if c.wdeadline.Sub(now) >= timeout/2 {
		return nil
	}
	c.wdeadline = now.Add(timeout)
	if err := c.nc.SetWriteDeadline(c.wdeadline); err != nil {
		return fmt.Errorf("gateway: set write deadline: %w", err)
	}
	return nil
}
