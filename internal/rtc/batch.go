package rtc

import (
	"net"
	"net/netip"
	"sync"
)

// maxBatch is the most packets one batched send carries (Linux takes up
// to 1,024 per sendmmsg; past a few dozen the system call's own cost is
// already spread thin, and the queue's buffers stay small).
const maxBatch = 128

// batchConn is the media UDP socket as the ICE mux sees it. Outside a
// batch it writes each packet at once, one sendto each, as a plain socket
// does. Inside one (between Plane.BeginBatch and EndBatch: a fan-out of
// one packet, or one frame, to every viewer of a stage) it copies each
// packet into a queue and sends the queue with one sendmmsg per maxBatch
// packets when the batch ends, so a packet to N viewers costs N/maxBatch
// system calls instead of N. Packets that other goroutines write while a
// batch is open (RTCP, STUN, another stage) join the queue and leave with
// it: no packet waits longer than the batch it fell into.
type batchConn struct {
	*net.UDPConn
	out *batchSender // nil: no sendmmsg on this system, never batch

	mu   sync.Mutex
	open int
	q    []queued
	free [][]byte
}

// queued is a packet waiting in a batch.
type queued struct {
	b    []byte
	addr netip.AddrPort
}

func newBatchConn(c *net.UDPConn) *batchConn {
	return &batchConn{UDPConn: c, out: newBatchSender(c)}
}

// ReadFromAddrPort and WriteToAddrPort make the ICE mux use the
// allocation-free address path (it checks for these methods).
func (c *batchConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.ReadFromUDPAddrPort(b)
}

func (c *batchConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if c.enqueue(b, addr) {
		return len(b), nil
	}
	return c.WriteToUDPAddrPort(b, addr)
}

func (c *batchConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if u, ok := addr.(*net.UDPAddr); ok && c.enqueue(b, u.AddrPort()) {
		return len(b), nil
	}
	return c.UDPConn.WriteTo(b, addr)
}

// enqueue queues a copy of b when a batch is open, sending the queue when
// it is full; false: no batch, the caller writes b itself.
func (c *batchConn) enqueue(b []byte, addr netip.AddrPort) bool {
	if c.out == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open == 0 {
		return false
	}
	var buf []byte
	if n := len(c.free); n > 0 {
		buf, c.free = c.free[n-1][:0], c.free[:n-1]
	}
	c.q = append(c.q, queued{b: append(buf, b...), addr: addr})
	if len(c.q) >= maxBatch {
		c.flushLocked()
	}
	return true
}

func (c *batchConn) begin() {
	if c.out == nil {
		return
	}
	c.mu.Lock()
	c.open++
	c.mu.Unlock()
}

// end closes a batch and sends everything queued, including what other
// batches still open have queued so far.
func (c *batchConn) end() {
	if c.out == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open > 0 {
		c.open--
	}
	c.flushLocked()
}

func (c *batchConn) flushLocked() {
	if len(c.q) == 0 {
		return
	}
	c.out.send(c.q)
	for i := range c.q {
		c.free = append(c.free, c.q[i].b)
		c.q[i] = queued{}
	}
	c.q = c.q[:0]
}
