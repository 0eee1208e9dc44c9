// Package presence counts connections per key across every node of a
// cluster: who is online (Together), how many sockets watch a stage
// (Owncast). Each node counts its own connections and tells the others over
// the bus: a change is sent as the key's new absolute count (batched for a
// few milliseconds, so a crowd joining costs one message per batch, not one
// per socket), and every node sends a full snapshot of its counts at a fixed
// interval. Absolute counts make every message idempotent; snapshots repair
// anything the bus dropped; a node that has not been heard from for three
// intervals (it crashed) is forgotten, and a node that stops cleanly says so
// at once.
//
// Counts converge: every node ends up with the same totals once the bus has
// delivered the last change. OnChange tells a node that a key's cluster
// total went from zero to non-zero or back; it is called on every node, so
// a caller that must act once per transition (write "offline" and announce
// it) makes its write conditional, and since calls for one key may race with
// later changes, it reads Count again rather than trusting the order of
// calls.
package presence

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
)

// Config tunes a Tracker.
type Config struct {
	// Namespace separates trackers on one bus ("together", "stage").
	Namespace string
	// Node names this node; empty means a random id (one per process).
	Node string
	// Interval between full snapshots; a node silent for 3 intervals is
	// dropped. Default 5 s.
	Interval time.Duration
	// Batch is how long local changes gather before they are sent. Default
	// 20 ms.
	Batch time.Duration
	// OnChange is called when a key's cluster total may have crossed zero
	// (either way). Calls are made one at a time, never with the tracker's
	// lock held; the callee reads Count for the current state.
	OnChange func(key string)
	// Life is the node's life (internal/app/lifetime.go): the tracker's
	// sends (hello, deltas, snapshots) take their context from it, so
	// shutdown cancels them; the goodbye at Close keeps its values but not
	// its end. Nil: a context that never ends (tests).
	Life context.Context
}

// Tracker is one node's view of a namespace's presence.
type Tracker struct {
	cfg   Config
	bus   bus.Bus
	topic string
	log   *slog.Logger
	sub   bus.Subscription

	mu      sync.Mutex
	local   map[string]int
	remote  map[string]*peer
	dirty   map[string]struct{}
	flushAt *time.Timer
	closed  bool

	// notify serialises OnChange calls in the order transitions happened.
	notifyMu sync.Mutex
	queue    []string
	running  bool
}

type peer struct {
	counts map[string]int
	seen   time.Time
}

// wire is one presence message.
type wire struct {
	Node string `json:"n"`
	// Snap is the sender's complete counts (replaces what we knew of it);
	// otherwise Delta holds absolute counts of changed keys (0 = gone).
	Snap  map[string]int `json:"s,omitempty"`
	Delta map[string]int `json:"d,omitempty"`
	Full  bool           `json:"f,omitempty"`
	Hello bool           `json:"h,omitempty"` // a new node: answer with a snapshot
	Bye   bool           `json:"b,omitempty"` // the node is stopping
}

// New subscribes to the namespace's topic and announces this node. Call Run
// to send snapshots and expire silent nodes, and Close when done.
func New(b bus.Bus, cfg Config, logger *slog.Logger) (*Tracker, error) {
	if cfg.Namespace == "" {
		return nil, errors.New("presence: empty namespace")
	}
	if cfg.Node == "" {
		var raw [8]byte
		_, _ = rand.Read(raw[:])
		cfg.Node = hex.EncodeToString(raw[:])
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 20 * time.Millisecond
	}
	if cfg.Life == nil {
		cfg.Life = context.Background()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := &Tracker{cfg: cfg, bus: b, topic: "presence." + cfg.Namespace, log: logger,
		local: map[string]int{}, remote: map[string]*peer{}, dirty: map[string]struct{}{}}
	sub, err := b.Subscribe(t.topic, t.receive)
	if err != nil {
		return nil, fmt.Errorf("presence %s: %w", cfg.Namespace, err)
	}
	t.sub = sub
	t.send(cfg.Life, wire{Node: cfg.Node, Full: true, Hello: true})
	return t, nil
}

// Node is this node's id.
func (t *Tracker) Node() string { return t.cfg.Node }

// Add counts one more local connection for key.
func (t *Tracker) Add(key string) { t.change(key, 1) }

// Done counts one local connection for key less.
func (t *Tracker) Done(key string) { t.change(key, -1) }

func (t *Tracker) change(key string, by int) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	before := t.totalLocked(key)
	n := max(t.local[key]+by, 0)
	if n == 0 {
		delete(t.local, key)
	} else {
		t.local[key] = n
	}
	t.dirty[key] = struct{}{}
	if t.flushAt == nil {
		t.flushAt = time.AfterFunc(t.cfg.Batch, t.flush)
	}
	crossed := (before == 0) != (t.totalLocked(key) == 0)
	t.mu.Unlock()
	if crossed {
		t.notify(key)
	}
}

// Count is key's connection total over every node this node knows of.
func (t *Tracker) Count(key string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.totalLocked(key)
}

// Local is key's connection count on this node only.
func (t *Tracker) Local(key string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.local[key]
}

// Elsewhere names the other nodes that count key (at least one connection
// there), sorted: where a stage's broadcast runs when it is not on this node.
func (t *Tracker) Elsewhere(key string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for node, p := range t.remote {
		if p.counts[key] > 0 {
			out = append(out, node)
		}
	}
	slices.Sort(out)
	return out
}

// Heard is when node was last heard from (zero when it is not known: it
// never spoke, stopped or was forgotten).
func (t *Tracker) Heard(node string) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.remote[node]; p != nil {
		return p.seen
	}
	return time.Time{}
}

// Present is how many keys have at least one connection on some node.
func (t *Tracker) Present() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.local)
	seen := map[string]struct{}{}
	for _, p := range t.remote {
		for k := range p.counts {
			if _, ok := t.local[k]; ok {
				continue
			}
			if _, ok := seen[k]; !ok {
				seen[k] = struct{}{}
				n++
			}
		}
	}
	return n
}

// Nodes is how many nodes (this one included) currently hold counts.
func (t *Tracker) Nodes() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.remote) + 1
}

func (t *Tracker) totalLocked(key string) int {
	n := t.local[key]
	for _, p := range t.remote {
		n += p.counts[key]
	}
	return n
}

// flush sends the batched local changes as absolute counts.
func (t *Tracker) flush() {
	t.mu.Lock()
	t.flushAt = nil
	if t.closed || len(t.dirty) == 0 {
		t.mu.Unlock()
		return
	}
	delta := make(map[string]int, len(t.dirty))
	for k := range t.dirty {
		delta[k] = t.local[k]
	}
	clear(t.dirty)
	t.mu.Unlock()
	t.send(t.cfg.Life, wire{Node: t.cfg.Node, Delta: delta})
}

func (t *Tracker) snapshot() wire {
	t.mu.Lock()
	defer t.mu.Unlock()
	snap := make(map[string]int, len(t.local))
	for k, n := range t.local {
		snap[k] = n
	}
	clear(t.dirty) // the snapshot carries them
	return wire{Node: t.cfg.Node, Snap: snap, Full: true}
}

func (t *Tracker) send(ctx context.Context, w wire) {
	raw, err := json.Marshal(w)
	if err != nil {
		return
	}
	if err := t.bus.Publish(ctx, t.topic, raw); err != nil && !errors.Is(err, bus.ErrClosed) && ctx.Err() == nil {
		t.log.Warn("presence: publish failed", "namespace", t.cfg.Namespace, "err", err)
	}
}

// receive applies another node's message.
func (t *Tracker) receive(m bus.Message) {
	var w wire
	if json.Unmarshal(m.Data, &w) != nil || w.Node == "" || w.Node == t.cfg.Node {
		return
	}
	var changed []string
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	p := t.remote[w.Node]
	if w.Bye {
		if p != nil {
			changed = t.replaceLocked(w.Node, p, nil)
			delete(t.remote, w.Node)
		}
	} else {
		if p == nil {
			p = &peer{counts: map[string]int{}}
			t.remote[w.Node] = p
		}
		p.seen = time.Now()
		if w.Full {
			changed = t.replaceLocked(w.Node, p, w.Snap)
		} else {
			for k, n := range w.Delta {
				if t.setLocked(p, k, n) {
					changed = append(changed, k)
				}
			}
		}
	}
	t.mu.Unlock()
	for _, k := range changed {
		t.notify(k)
	}
	if w.Hello {
		t.send(t.cfg.Life, t.snapshot())
	}
}

// replaceLocked makes counts p's whole state; it returns the keys whose
// cluster total crossed zero.
func (t *Tracker) replaceLocked(node string, p *peer, counts map[string]int) []string {
	var changed []string
	for k := range p.counts {
		if _, still := counts[k]; !still && t.setLocked(p, k, 0) {
			changed = append(changed, k)
		}
	}
	for k, n := range counts {
		if t.setLocked(p, k, n) {
			changed = append(changed, k)
		}
	}
	return changed
}

// setLocked sets one peer count and reports whether the total crossed zero.
func (t *Tracker) setLocked(p *peer, key string, n int) bool {
	before := t.totalLocked(key)
	if n <= 0 {
		delete(p.counts, key)
	} else {
		p.counts[key] = n
	}
	return (before == 0) != (t.totalLocked(key) == 0)
}

// notify queues an OnChange call; calls run one at a time, in order.
func (t *Tracker) notify(key string) {
	if t.cfg.OnChange == nil {
		return
	}
	t.notifyMu.Lock()
	t.queue = append(t.queue, key)
	if t.running {
		t.notifyMu.Unlock()
		return
	}
	t.running = true
	t.notifyMu.Unlock()
	go func() {
		for {
			t.notifyMu.Lock()
			if len(t.queue) == 0 {
				t.running = false
				t.notifyMu.Unlock()
				return
			}
			k := t.queue[0]
			t.queue = t.queue[1:]
			t.notifyMu.Unlock()
			t.cfg.OnChange(k)
		}
	}()
}

// Run sends a snapshot every interval and forgets nodes silent for three,
// until ctx ends; then it tells the other nodes this one is gone.
func (t *Tracker) Run(ctx context.Context) error {
	tick := time.NewTicker(t.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			t.Close()
			return nil
		case <-tick.C:
			t.send(ctx, t.snapshot())
			t.expire(time.Now().Add(-3 * t.cfg.Interval))
		}
	}
}

func (t *Tracker) expire(before time.Time) {
	var changed []string
	t.mu.Lock()
	for node, p := range t.remote {
		if p.seen.Before(before) {
			t.log.Info("presence: node went silent; forgetting its connections", "namespace", t.cfg.Namespace, "node", node)
			changed = append(changed, t.replaceLocked(node, p, nil)...)
			delete(t.remote, node)
		}
	}
	t.mu.Unlock()
	for _, k := range changed {
		t.notify(k)
	}
}

// Close stops counting and tells the other nodes this node's connections
// are gone. It is idempotent.
func (t *Tracker) Close() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	if t.flushAt != nil {
		t.flushAt.Stop()
	}
	t.mu.Unlock()
	_ = t.sub.Unsubscribe()
	t.send(context.WithoutCancel(t.cfg.Life), wire{Node: t.cfg.Node, Bye: true})
}
