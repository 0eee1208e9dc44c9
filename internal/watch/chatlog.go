package watch

import (
	"context"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"
)

// chatItem is one chat message waiting to be kept.
type chatItem struct {
	room string
	a    Actor
	text string
}

// chatLog hands room chat to the ChatSink without holding up the room or
// the socket that sent it. Each writer drains its own bounded queue; a
// room always maps to the same writer, so a room's messages are kept in
// the order they were broadcast. When the store falls behind and a queue
// is full, the message is still broadcast live but not kept: it is
// counted (ChatDropped) and logged at most once a minute. Before this, a
// goroutine per message piled up without bound on the store's connection
// pool under OpenTogetherTube's chatty-users load (10 000+ goroutines,
// starving room lease renewals).
type chatLog struct {
	queues   []chan chatItem
	dropped  atomic.Int64
	lastWarn atomic.Int64 // unix nanos of the last "dropped" warning
}

func newChatLog(writers, depth int) *chatLog {
	c := &chatLog{queues: make([]chan chatItem, writers)}
	for i := range c.queues {
		c.queues[i] = make(chan chatItem, depth)
	}
	return c
}

func (c *chatLog) queueFor(room string) chan chatItem {
	h := fnv.New32a()
	_, _ = h.Write([]byte(room))
	return c.queues[h.Sum32()%uint32(len(c.queues))]
}

// enqueue never blocks; it reports whether the message was queued.
func (c *chatLog) enqueue(it chatItem) bool {
	select {
	case c.queueFor(it.room) <- it:
		return true
	default:
		c.dropped.Add(1)
		return false
	}
}

// run drains every queue into sink until ctx ends, then writes what is
// still queued (bounded by drainTimeout) and returns.
func (c *chatLog) run(ctx context.Context, sink func() ChatSink, drainTimeout time.Duration) {
	var wg sync.WaitGroup
	for _, q := range c.queues {
		wg.Go(func() {
			for {
				select {
				case it := <-q:
					c.write(context.WithoutCancel(ctx), sink, it) // a message taken is written, shutdown or not
				case <-ctx.Done():
					dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
					defer cancel()
					for {
						select {
						case it := <-q:
							c.write(dctx, sink, it)
						default:
							return
						}
					}
				}
			}
		})
	}
	wg.Wait()
}

func (c *chatLog) write(ctx context.Context, sink func() ChatSink, it chatItem) {
	if f := sink(); f != nil {
		f(ctx, it.room, it.a, it.text)
	}
}
