package bus

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Per-subscription queue bounds. A subscription whose handler falls this far
// behind is a slow consumer: further messages are dropped (and counted) until
// it catches up, as NATS core does. The publisher never waits for a handler.
const (
	queueMaxMsgs  = 4096
	queueMaxBytes = 64 << 20
)

// inbox is one subscription's bounded FIFO plus the goroutine that drains it
// into the handler. Both Bus kinds deliver through an inbox, so they share
// the ordering, slow-consumer and Unsubscribe semantics exactly.
//
// Memory grows with the backlog, not with the bound: an idle subscription
// holds no buffer.
type inbox struct {
	h        Handler
	maxMsgs  int
	maxBytes int
	dropped  *atomic.Uint64 // shared with the owning bus

	mu      sync.Mutex
	buf     []Message // queued, not yet taken by the goroutine
	pending int       // messages queued or in the batch being handled
	bytes   int       // payload bytes of those messages

	wake    chan struct{} // capacity 1: "buf may be non-empty"
	quit    chan struct{} // closed by stop
	done    chan struct{} // closed when the goroutine has returned
	stopped atomic.Bool
	once    sync.Once
	gid     atomic.Uint64 // the delivering goroutine's id, for stop from a handler
}

func newInbox(h Handler, maxMsgs, maxBytes int, dropped *atomic.Uint64) *inbox {
	q := &inbox{
		h:        h,
		maxMsgs:  maxMsgs,
		maxBytes: maxBytes,
		dropped:  dropped,
		wake:     make(chan struct{}, 1),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go q.run()
	return q
}

// push enqueues m without blocking. It reports false when m was dropped
// because the queue is full; messages for a stopped inbox are discarded
// silently.
func (q *inbox) push(m Message) bool {
	if q.stopped.Load() {
		return true
	}
	q.mu.Lock()
	if q.pending >= q.maxMsgs || q.bytes+len(m.Data) > q.maxBytes {
		q.mu.Unlock()
		q.dropped.Add(1)
		return false
	}
	q.buf = append(q.buf, m)
	q.pending++
	q.bytes += len(m.Data)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

func (q *inbox) run() {
	defer close(q.done)
	q.gid.Store(goid())
	var batch []Message
	for {
		select {
		case <-q.wake:
		case <-q.quit:
			return
		}
		q.mu.Lock()
		batch, q.buf = q.buf, batch[:0]
		q.mu.Unlock()

		n := 0
		for i := range batch {
			if q.stopped.Load() {
				return
			}
			q.h(batch[i])
			n += len(batch[i].Data)
		}
		q.mu.Lock()
		q.pending -= len(batch)
		q.bytes -= n
		q.mu.Unlock()

		clear(batch) // let payloads be collected
		if cap(batch) > 256 {
			batch = nil // give a burst's buffer back rather than keep it forever
		}
	}
}

// stop ends delivery. When it returns no handler call is running or will
// start, except that when called from this inbox's own handler it returns at
// once and the current call is the last.
func (q *inbox) stop() {
	q.once.Do(func() {
		q.stopped.Store(true)
		close(q.quit)
	})
	if id := q.gid.Load(); id != 0 && id == goid() {
		return
	}
	<-q.done
}

// goid returns the current goroutine's id, parsed from its stack header
// ("goroutine 18 [running]:"). It costs about a microsecond, so it is only
// called once per subscription and once per stop, never per message; it
// lets a handler unsubscribe itself (or close the bus) without deadlocking
// on the wait for its own return.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	const prefix = "goroutine "
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return 0
	}
	var id uint64
	for _, c := range b[len(prefix):] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}
