package watch

import (
	"context"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"
)

// ChatBatch is the most messages one ChatSink call gets.
const ChatBatch = 128

// chatLog hands room chat to the ChatSink without holding up the room or
// the socket that sent it. Each writer drains its own bounded queue; a
// room always maps to the same writer, so a room's messages are kept in
// the order they were broadcast. When the store falls behind and a queue
// is full, the message is still broadcast live but not kept: it is
// counted (ChatDropped) and logged at most once a minute. Before this, a
// goroutine per message piled up without bound on the store's connection
// pool under OpenTogetherTube's chatty-users load (10 000+ goroutines,
// starving room lease renewals). A writer hands the sink everything its
// queue holds, and what arrives within ChatLinger after it (up to ChatBatch
// messages), in one call: one commit per batch, where a commit per message
// cost more CPU than the message's fan-out to a room (docs/performance.md,
// branch ottsync). A message is kept at most ChatLinger later than before.
type chatLog struct {
	queues   []chan RoomChat
	dropped  atomic.Int64
	unkept   atomic.Int64 // past Config.ChatKeepRate
	lastWarn atomic.Int64 // unix nanos of the last "dropped" warning
}

func newChatLog(writers, depth int) *chatLog {
	c := &chatLog{queues: make([]chan RoomChat, writers)}
	for i := range c.queues {
		c.queues[i] = make(chan RoomChat, depth)
	}
	return c
}

func (c *chatLog) queueFor(room string) chan RoomChat {
	h := fnv.New32a()
	_, _ = h.Write([]byte(room))
	return c.queues[h.Sum32()%uint32(len(c.queues))]
}

// enqueue never blocks; it reports whether the message was queued.
func (c *chatLog) enqueue(it RoomChat) bool {
	select {
	case c.queueFor(it.Room) <- it:
		return true
	default:
		c.dropped.Add(1)
		return false
	}
}

// run drains every queue into sink until ctx ends, then writes what is
// still queued (bounded by drainTimeout) and returns.
func (c *chatLog) run(ctx context.Context, sink func() ChatSink, linger, drainTimeout time.Duration) {
	var wg sync.WaitGroup
	for _, q := range c.queues {
		wg.Go(func() {
			batch := make([]RoomChat, 0, ChatBatch)
			wait := time.NewTimer(time.Hour)
			wait.Stop()
			for {
				select {
				case it := <-q:
					// A message taken is written, shutdown or not.
					batch = gather(ctx, append(batch[:0], it), q, wait, linger)
					c.write(context.WithoutCancel(ctx), sink, batch)
				case <-ctx.Done():
					dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
					defer cancel()
					for {
						select {
						case it := <-q:
							c.write(dctx, sink, gather(dctx, append(batch[:0], it), q, nil, 0))
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

// gather adds to batch what q holds, up to ChatBatch in all, waiting up to
// linger for more (not once ctx has ended: shutdown writes at once).
func gather(ctx context.Context, batch []RoomChat, q chan RoomChat, wait *time.Timer, linger time.Duration) []RoomChat {
	var expire <-chan time.Time
	if linger > 0 {
		wait.Reset(linger)
		defer wait.Stop()
		expire = wait.C
	}
	for len(batch) < ChatBatch {
		select {
		case it := <-q:
			batch = append(batch, it)
			continue
		default:
		}
		if expire == nil {
			return batch
		}
		select {
		case it := <-q:
			batch = append(batch, it)
		case <-expire:
			return batch
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}

func (c *chatLog) write(ctx context.Context, sink func() ChatSink, batch []RoomChat) {
	if f := sink(); f != nil {
		f(ctx, batch)
	}
}
