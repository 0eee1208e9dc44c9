package gateway

import (
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Transform turns a bus event into what one connection should receive. It
// runs on the bus's delivery goroutine for each subscribed connection, so it
// must be quick and must not block; it must not modify data, and must not
// call Subscribe or Unsubscribe. ok=false skips the event for this
// connection (e.g. the account may not see that channel). A nil Transform
// passes data through unchanged.
type Transform func(topic string, data []byte) (out []byte, ok bool)

// topic is one bus subscription shared by every connection subscribed to
// the same pattern.
type topic struct {
	pattern string
	cancel  func() error

	mu   sync.RWMutex
	subs []*subscription
}

// subscription is one connection's interest in a topic.
type subscription struct {
	conn  *Conn
	index int // position in topic.subs, guarded by topic.mu

	mu        sync.Mutex
	active    bool
	transform Transform
}

// deliver fans one bus event out to the topic's connections. Send never
// blocks, so one slow socket cannot hold up the others.
func (t *topic) deliver(name string, data []byte) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, s := range t.subs {
		s.deliver(name, data)
	}
}

func (s *subscription) deliver(name string, data []byte) {
	// Holding s.mu means that once Unsubscribe has returned, this
	// connection gets no further event from the topic.
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active {
		return
	}
	out := data
	if s.transform != nil {
		var ok bool
		if out, ok = s.transform(name, data); !ok {
			return
		}
	}
	s.conn.Send(out)
}

func (t *topic) add(s *subscription) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s.index = len(t.subs)
	t.subs = append(t.subs, s)
}

// remove drops s and reports how many subscriptions remain.
func (t *topic) remove(s *subscription) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	last := len(t.subs) - 1
	if s.index > last || t.subs[s.index] != s {
		return len(t.subs)
	}
	t.subs[s.index] = t.subs[last]
	t.subs[s.index].index = s.index
	t.subs[last] = nil
	t.subs = t.subs[:last]
	return len(t.subs)
}

// Subscribe delivers bus events matching pattern to this connection through
// transform. The Hub holds one bus subscription per pattern, shared by all
// connections. Subscribing again to the same pattern replaces the transform.
// Events matching two of a connection's patterns are delivered twice.
func (c *Conn) Subscribe(pattern string, transform Transform) error {
	if pattern == "" {
		return errors.New("gateway: subscribe: empty pattern")
	}
	h := c.hub
	h.subMu.Lock()
	defer h.subMu.Unlock()
	if c.subsClosed {
		return ErrClosed
	}
	if s := c.subFor(pattern); s != nil {
		s.mu.Lock()
		s.transform = transform
		s.mu.Unlock()
		return nil
	}
	t := h.topics[pattern]
	if t == nil {
		t = &topic{pattern: pattern}
		cancel, err := h.sub.Subscribe(pattern, t.deliver)
		if err != nil {
			return fmt.Errorf("gateway: subscribe %q: %w", pattern, err)
		}
		t.cancel = cancel
		h.topics[pattern] = t
		h.stats.topics.Add(1)
	}
	s := &subscription{conn: c, active: true, transform: transform}
	t.add(s)
	c.subs = append(c.subs, connSub{pattern, s})
	return nil
}

// connSub is one of a connection's subscriptions.
type connSub struct {
	pattern string
	sub     *subscription
}

// subFor returns c's subscription to pattern, or nil. h.subMu must be held.
func (c *Conn) subFor(pattern string) *subscription {
	for _, cs := range c.subs {
		if cs.pattern == pattern {
			return cs.sub
		}
	}
	return nil
}

// Unsubscribe stops delivery of pattern's events to this connection; once it
// returns, no further event from that pattern is queued. Unknown patterns
// are ignored. The bus subscription is cancelled when its last connection
// leaves.
func (c *Conn) Unsubscribe(pattern string) error {
	h := c.hub
	h.subMu.Lock()
	defer h.subMu.Unlock()
	i := slices.IndexFunc(c.subs, func(cs connSub) bool { return cs.pattern == pattern })
	if i < 0 {
		return nil
	}
	s := c.subs[i].sub
	c.subs = slices.Delete(c.subs, i, i+1)
	return h.dropLocked(pattern, s)
}

// unsubscribeAll runs at teardown; later Subscribe calls fail.
func (h *Hub) unsubscribeAll(c *Conn) {
	h.subMu.Lock()
	defer h.subMu.Unlock()
	c.subsClosed = true
	for _, cs := range c.subs {
		if err := h.dropLocked(cs.pattern, cs.sub); err != nil {
			c.logger().Warn("bus unsubscribe failed", "pattern", cs.pattern, "err", err)
		}
	}
	c.subs = nil
}

// dropLocked removes s from its topic, cancelling the bus subscription when
// it was the last. h.subMu must be held.
func (h *Hub) dropLocked(pattern string, s *subscription) error {
	// Deactivate before touching topic.mu: deliver holds topic.mu (read)
	// while taking s.mu, so the two locks are never held together here.
	s.mu.Lock()
	s.active = false
	s.mu.Unlock()

	t := h.topics[pattern]
	if t == nil || t.remove(s) > 0 {
		return nil
	}
	delete(h.topics, pattern)
	h.stats.topics.Add(-1)
	if t.cancel == nil {
		return nil
	}
	if err := t.cancel(); err != nil {
		return fmt.Errorf("gateway: unsubscribe %q: %w", pattern, err)
	}
	return nil
}
