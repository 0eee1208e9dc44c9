package gateway

import (
	"runtime"
	"sync"
)

// flusher writes queued messages for the Hub's connections without a
// goroutine per socket. Send puts a connection whose writer is idle on the
// flusher's list (once: the connection's writer flag says it is listed);
// up to GOMAXPROCS worker goroutines, started while the list is non-empty
// and gone when it is empty, take connections off it in chunks and write
// each one's whole queue through its Codec in one non-blocking write. A
// fan-out of one event to N sockets therefore wakes a few workers, not N
// writer goroutines, and events that arrive while a socket waits on the
// list join the same write (Owncast's newline batching, or several frames
// in one write). A socket that cannot take everything at once (its kernel
// buffer is full), one that is closing, or one without a raw descriptor
// (TLS) is handed to its own writer goroutine, which may block on it; the
// workers never block on a socket.
type flusher struct {
	mu sync.Mutex
	// Sockets are taken in the order they were listed (FIFO), so one
	// relisted again and again cannot keep others waiting: workers drain
	// out from next on, and when it is used up, out and in swap.
	in, out []*Conn
	next    int
	workers int
	// listed and taken count, since the start, the sockets put on the list
	// and those workers took off it; SendAll waits on progress (with
	// waiters > 0) for taken to reach what was listed before its message.
	listed, taken uint64
	progress      sync.Cond
	waiters       int
}

// mark returns how many sockets have been listed so far.
func (f *flusher) mark() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.listed
}

// waitTaken waits until workers have taken every socket listed before
// mark: written, or handed to its own writer.
func (f *flusher) waitTaken(mark uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.progress.L == nil {
		f.progress.L = &f.mu
	}
	for f.taken < mark {
		f.waiters++
		f.progress.Wait()
		f.waiters--
	}
}

// schedule lists c for writing. c's writer flag must have been claimed by
// the caller (kickLocked).
func (f *flusher) schedule(c *Conn) {
	f.mu.Lock()
	f.in = append(f.in, c)
	f.listed++
	// One worker per chunk of listed sockets, up to GOMAXPROCS.
	start := f.workers < runtime.GOMAXPROCS(0) && f.workers*fanoutChunk < len(f.in)+len(f.out)-f.next
	if start {
		f.workers++
	}
	f.mu.Unlock()
	if start {
		go f.work()
	}
}

func (f *flusher) work() {
	var chunk [fanoutChunk]*Conn
	for {
		f.mu.Lock()
		if f.next == len(f.out) {
			f.out, f.in, f.next = f.in, f.out[:0], 0
			if cap(f.in) > 4096 {
				f.in = nil
			}
		}
		k := min(len(f.out)-f.next, fanoutChunk)
		if k == 0 {
			f.workers--
			f.mu.Unlock()
			return
		}
		n := copy(chunk[:], f.out[f.next:f.next+k])
		clear(f.out[f.next : f.next+k])
		f.next += k
		f.taken += uint64(k)
		if f.waiters > 0 {
			f.progress.Broadcast()
		}
		f.mu.Unlock()
		for i, c := range chunk[:n] {
			c.flushListed()
			chunk[i] = nil
		}
	}
}
