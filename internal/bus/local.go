package bus

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"sync/atomic"
)

// Local is the in-process Bus: the default for a single node.
//
// Publish never blocks on a handler. Each subscription has its own goroutine
// and a bounded queue (4096 messages or 64 MiB of payload); when a handler
// falls that far behind, new messages for it are dropped and counted by
// Dropped, as NATS core does for a slow consumer. Publish copies the payload
// once; every matching subscription receives that same copy, which handlers
// must treat as read-only.
type Local struct {
	maxMsgs  int
	maxBytes int
	dropped  atomic.Uint64

	mu     sync.RWMutex
	closed bool
	root   node
	subs   map[*localSub]struct{}
}

var _ Bus = (*Local)(nil)

// NewLocal returns an empty in-process bus.
func NewLocal() *Local {
	return newLocal(queueMaxMsgs, queueMaxBytes)
}

func newLocal(maxMsgs, maxBytes int) *Local {
	return &Local{maxMsgs: maxMsgs, maxBytes: maxBytes, subs: make(map[*localSub]struct{})}
}

// Publish delivers a copy of data to every subscription whose pattern matches
// topic. It returns ErrBadTopic for an invalid topic, ErrClosed after Close,
// and ctx's error if ctx is already done; it never waits for a handler.
func (b *Local) Publish(ctx context.Context, topic string, data []byte) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	d := delivery{src: data, msg: Message{Topic: topic}}
	b.root.match(topic, &d)
	return nil
}

// Subscribe starts delivering messages whose topic matches pattern to h.
func (b *Local) Subscribe(pattern string, h Handler) (Subscription, error) {
	if err := checkPattern(pattern); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	s := &localSub{bus: b, pattern: pattern, q: newInbox(h, b.maxMsgs, b.maxBytes, &b.dropped)}
	b.root.insert(pattern, s)
	b.subs[s] = struct{}{}
	return s, nil
}

// Ping returns ErrClosed after Close and nil otherwise.
func (b *Local) Ping(ctx context.Context) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	return ctx.Err()
}

// Close ends every subscription and waits until no handler is running (a
// handler that calls Close is the exception: its own call is allowed to
// finish). Later Publish, Subscribe and Ping calls return ErrClosed; Close
// itself may be called again and returns nil.
func (b *Local) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	subs := b.subs
	b.subs = nil
	b.root = node{}
	b.mu.Unlock()

	for s := range subs {
		s.q.stop()
	}
	return nil
}

// Dropped returns how many messages have been dropped for slow subscriptions
// since the bus was created.
func (b *Local) Dropped() uint64 {
	return b.dropped.Load()
}

type localSub struct {
	bus     *Local
	pattern string
	q       *inbox
}

// Unsubscribe stops delivery and waits for a running handler call to return
// (unless called from that handler). It is idempotent and returns nil after
// the bus is closed.
func (s *localSub) Unsubscribe() error {
	b := s.bus
	b.mu.Lock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		b.root.remove(s.pattern, s)
	}
	b.mu.Unlock()
	s.q.stop()
	return nil
}

// delivery is one publish's state while walking the subscription tree: the
// payload is copied once, on the first match.
type delivery struct {
	src    []byte
	msg    Message
	copied bool
}

func (d *delivery) to(subs map[*localSub]struct{}) {
	if len(subs) == 0 {
		return
	}
	if !d.copied {
		d.msg.Data = bytes.Clone(d.src)
		d.copied = true
	}
	for s := range subs {
		s.q.push(d.msg)
	}
}

// node is one token position in the subscription tree. Wildcard tokens are
// children keyed "*" and ">"; publish topics never contain them, so they
// cannot collide with literal tokens.
type node struct {
	children map[string]*node
	subs     map[*localSub]struct{} // patterns ending at this node
}

// match delivers to every subscription matching the remaining topic tokens.
// A topic matches a given pattern along exactly one path, so no subscription
// is reached twice.
func (n *node) match(topic string, d *delivery) {
	if n.children == nil {
		return
	}
	tok, rest, more := strings.Cut(topic, ".")
	if c := n.children[wildTail]; c != nil {
		d.to(c.subs) // ">" takes this token and all that follow
	}
	for _, key := range [2]string{wildOne, tok} {
		c := n.children[key]
		if c == nil {
			continue
		}
		if more {
			c.match(rest, d)
		} else {
			d.to(c.subs)
		}
	}
}

func (n *node) insert(pattern string, s *localSub) {
	for tok := range strings.SplitSeq(pattern, ".") {
		if n.children == nil {
			n.children = make(map[string]*node)
		}
		c := n.children[tok]
		if c == nil {
			c = &node{}
			n.children[tok] = c
		}
		n = c
	}
	if n.subs == nil {
		n.subs = make(map[*localSub]struct{})
	}
	n.subs[s] = struct{}{}
}

// remove deletes s from the node for pattern and prunes nodes left empty. It
// reports whether n itself is now empty.
func (n *node) remove(pattern string, s *localSub) bool {
	tok, rest, more := strings.Cut(pattern, ".")
	c := n.children[tok]
	if c == nil {
		return n.empty()
	}
	var childEmpty bool
	if more {
		childEmpty = c.remove(rest, s)
	} else {
		delete(c.subs, s)
		childEmpty = c.empty()
	}
	if childEmpty {
		delete(n.children, tok)
	}
	return n.empty()
}

func (n *node) empty() bool {
	return len(n.children) == 0 && len(n.subs) == 0
}
