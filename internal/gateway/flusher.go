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
	mu      sync.Mutex
	list    []*Conn
	workers int
}

// schedule lists c for writing. c's writer flag must have been claimed by
// the caller (kickLocked).
func (f *flusher) schedule(c *Conn) {
	f.mu.Lock()
	f.list = append(f.list, c)
	// One worker per chunk of listed sockets, up to GOMAXPROCS.
	start := f.workers < runtime.GOMAXPROCS(0) && f.workers*fanoutChunk < len(f.list)
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
		k := min(len(f.list), fanoutChunk)
		if k == 0 {
			f.workers--
			if cap(f.list) > 4096 {
				f.list = nil
			}
			f.mu.Unlock()
			return
		}
		n := copy(chunk[:], f.list[len(f.list)-k:])
		clear(f.list[len(f.list)-k:])
		f.list = f.list[:len(f.list)-k]
		f.mu.Unlock()
		for i, c := range chunk[:n] {
			c.flushListed()
			chunk[i] = nil
		}
	}
}
