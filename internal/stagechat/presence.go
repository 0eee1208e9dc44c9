package stagechat

import (
	"context"
	"sync"
	"time"
)

// PresenceConfig tunes join/part announcements.
type PresenceConfig struct {
	// Window is how long joins (and parts) are gathered before one
	// announcement goes out. Default 1 s.
	Window time.Duration
	// Burst is the most users one announcement names; the rest are counted
	// in Event.Extra. So a crowd of N joining costs at most Burst × N
	// socket deliveries per window instead of N². Default 10.
	Burst int
	// PartDelay is how long after a user's last connection closes the part
	// is announced; a reconnect within it cancels the part. Default 10 s.
	PartDelay time.Duration
	// Cluster counts each user's chat connections on every node (package
	// presence); nil counts this node's only. With it, a user connected to
	// two nodes joins once and parts when the last connection anywhere
	// closes, and Connected counts the whole cluster.
	Cluster ClusterCounter
}

// ClusterCounter is a cluster-wide connection count per key.
type ClusterCounter interface {
	Add(key string)
	Done(key string)
	Count(key string) int
	Present() int
}

// Presence tracks who is connected to the chat (on this node) and
// announces joins and parts, coalesced.
type Presence struct {
	cfg PresenceConfig
	svc *Service

	mu      sync.Mutex
	online  bool
	conns   map[string]int
	parting map[string]*time.Timer
	joins   []*User
	joinAt  []time.Time // when each of joins connected
	parts   []*User
	partAt  []time.Time // when each of parts was due (last close + PartDelay)
	flush   *time.Timer
	closed  bool
}

func newPresence(cfg PresenceConfig, svc *Service) *Presence {
	if cfg.Window <= 0 {
		cfg.Window = time.Second
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 10
	}
	if cfg.PartDelay <= 0 {
		cfg.PartDelay = 10 * time.Second
	}
	return &Presence{cfg: cfg, svc: svc, conns: map[string]int{}, parting: map[string]*time.Timer{}}
}

// SetOnline records whether the stream is on the air (joins are announced
// only while it is) and announces the change to chat sockets.
func (p *Presence) SetOnline(ctx context.Context, online bool) {
	p.mu.Lock()
	changed := p.online != online
	p.online = online
	p.mu.Unlock()
	if changed {
		p.svc.publish(ctx, Event{Type: EventStream, Online: online})
	}
}

// Online reports the stream state as last set.
func (p *Presence) Online() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.online
}

// Connect records a new connection of u. It reports whether this is the
// user's first live connection.
func (p *Presence) Connect(u *User) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[u.ID]++
	if c := p.cfg.Cluster; c != nil {
		c.Add(u.ID)
	}
	if t, ok := p.parting[u.ID]; ok {
		t.Stop()
		delete(p.parting, u.ID)
		return false // a reconnect: neither part nor join
	}
	if p.conns[u.ID] != 1 {
		return false
	}
	if c := p.cfg.Cluster; c != nil && c.Count(u.ID) > 1 {
		return false // already connected on another node: no second join
	}
	if p.online {
		p.joins = append(p.joins, u)
		p.joinAt = append(p.joinAt, p.svc.now().UTC())
		p.arm()
	}
	return true
}

// Disconnect records a closed connection of u.
func (p *Presence) Disconnect(u *User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.cfg.Cluster; c != nil && p.conns[u.ID] > 0 {
		c.Done(u.ID)
	}
	if p.conns[u.ID] <= 1 {
		delete(p.conns, u.ID)
		if p.closed {
			return
		}
		if t, ok := p.parting[u.ID]; ok {
			t.Stop()
		}
		due := p.svc.now().UTC().Add(p.cfg.PartDelay)
		p.parting[u.ID] = time.AfterFunc(p.cfg.PartDelay, func() { p.part(u, due) })
		return
	}
	p.conns[u.ID]--
}

// Connected returns how many users have a live connection: on any node
// with a cluster counter, else on this node.
func (p *Presence) Connected() int {
	if c := p.cfg.Cluster; c != nil {
		return c.Present()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

func (p *Presence) part(u *User, due time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.parting[u.ID]; !ok || p.conns[u.ID] > 0 {
		return
	}
	delete(p.parting, u.ID)
	if c := p.cfg.Cluster; c != nil && c.Count(u.ID) > 0 {
		return // still connected on another node: no part
	}
	p.parts = append(p.parts, u)
	p.partAt = append(p.partAt, due)
	p.arm()
}

// arm starts the flush timer; p.mu is held.
func (p *Presence) arm() {
	if p.flush == nil && !p.closed {
		p.flush = time.AfterFunc(p.cfg.Window, p.emit)
	}
}

func (p *Presence) emit() {
	p.mu.Lock()
	joins, parts, joinAt, partAt := p.joins, p.parts, p.joinAt, p.partAt
	p.joins, p.parts, p.joinAt, p.partAt, p.flush = nil, nil, nil, nil, nil
	p.mu.Unlock()
	ctx := p.svc.cfg.Life
	if p.cfg.Cluster != nil {
		joins, parts = p.claimed(ctx, "joined", joins, joinAt), p.claimed(ctx, "parted", parts, partAt)
	}
	announce := p.svc.Settings().ChatJoinMessagesEnabled
	for _, batch := range []struct {
		typ   string
		users []*User
	}{{EventJoined, joins}, {EventParted, parts}} {
		if len(batch.users) == 0 {
			continue
		}
		if p.svc.hook != nil {
			// Webhooks hear about every user, once, on this node.
			p.svc.hook(Event{Type: batch.typ, Users: batch.users, At: p.svc.now().UTC()})
		}
		if !announce {
			continue
		}
		shown, extra := batch.users, 0
		if len(shown) > p.cfg.Burst {
			shown, extra = shown[:p.cfg.Burst], len(shown)-p.cfg.Burst
		}
		p.svc.publishNoHook(ctx, Event{Type: batch.typ, Users: shown, Extra: extra})
	}
}

// claimed keeps the users whose join (or part) this node is the first in
// the cluster to announce. The cluster counts lag by the bus: a user whose
// last connections on two nodes close within PartDelay of each other is
// found with none left by both nodes' part timers, and one connecting to
// two nodes at once is a first connection on both. Each is claimed at the
// time it happened (a join when it connected, a part when it fell due), and
// the same user's real joins (and parts) are at least PartDelay apart (a
// part falls due PartDelay after the last connection closed, and a join
// after a part needs a connection made after it fell due), while the two
// nodes' parts of one leaving fall due less than PartDelay apart, and their
// joins of one arrival together: a claim of the same kind for the user
// within PartDelay before is the other node's announcement of the same one.
// A claim that cannot be made announces (twice rather than never).
func (p *Presence) claimed(ctx context.Context, kind string, users []*User, at []time.Time) []*User {
	out := users[:0]
	for i, u := range users {
		ok, err := p.svc.claimAgain(ctx, "presence."+kind+":"+p.svc.cfg.Conversation+":"+u.ID, at[i], p.cfg.PartDelay)
		if err != nil {
			p.svc.log.Warn("presence claim", "kind", kind, "err", err)
			ok = true
		}
		if ok {
			out = append(out, u)
		}
	}
	return out
}

// Close stops pending timers.
func (p *Presence) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for id, t := range p.parting {
		t.Stop()
		delete(p.parting, id)
	}
	if p.flush != nil {
		p.flush.Stop()
		p.flush = nil
	}
}
