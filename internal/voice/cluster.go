package voice

// Scaling out: a voice channel's room runs on exactly one node, the one
// holding the channel's lease (a row in the store, claimed again every
// second while the room has participants, valid for leaseTTL). A client
// whose gateway socket is on another node joins through a proxy
// Participant there: its requests (join, publish, answer, state, layer,
// moderation, leave) travel over the bus to the owner, which runs the real
// participant and its peer connections, so the SDP answers carry the
// owner's candidates and media goes straight to the owner. The owner's
// notices for it come back over the bus, in order.
//
// Failure: the proxy's node watches the lease; when the owner stops
// claiming it (it died), the lease lapses within leaseTTL and every proxy
// of the room is closed with reason "moved", which tells the client to
// join again: the first join claims the lapsed lease on its own node and
// the room starts there. The owner, in turn, drops the participants of a
// node that stopped sending keepalives (that node died: its clients'
// sockets went with it). A node that shuts down cleanly releases its
// leases first and closes its rooms with "moved".

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/fault"
)

// Bus is the part of the event bus the cluster needs.
type Bus interface {
	Publish(ctx context.Context, topic string, data []byte) error
	Subscribe(pattern string, h func(topic string, data []byte)) (cancel func() error, err error)
}

// LeaseStore keeps which node runs which voice channel's room.
type LeaseStore interface {
	// ClaimVoiceLease takes or extends the lease of channelID for node
	// until the given time if it is free, expired (before now) or node's
	// already, and returns the node holding it afterwards.
	ClaimVoiceLease(ctx context.Context, channelID, node string, now, until time.Time) (string, error)
	// ReleaseVoiceLease drops node's lease on channelID.
	ReleaseVoiceLease(ctx context.Context, channelID, node string) error
	// VoiceLeaseOwner returns the node holding a live lease, or "".
	VoiceLeaseOwner(ctx context.Context, channelID string, now time.Time) (string, error)
}

// ClusterConfig shares an SFU's rooms with other nodes.
type ClusterConfig struct {
	Node   string          // this node's id; empty: a random one
	Bus    Bus             // the bus every node shares
	Leases LeaseStore      // the store every node shares
	Life   context.Context // the node's life: background calls end with it (nil: Background)
}

// Timings of the cluster: the lease outlives two missed claims; a node
// silent for keepTimeout has lost its participants on the owner.
const (
	leaseTTL    = 3 * time.Second
	claimEvery  = time.Second
	watchEvery  = 500 * time.Millisecond
	keepTimeout = 6 * time.Second
	rpcTimeout  = 5 * time.Second
	// joinTimeout bounds a join's wait for the owner's answer. A join is
	// watched by watchLease, which ends the wait as soon as the owner stops
	// holding the lease (it died), so this only bounds an owner that is
	// alive, renewing its lease, and slow to set up the connection (a
	// loaded machine): rpcTimeout there refused joins a live room would
	// have taken.
	joinTimeout = 30 * time.Second
)

// ReasonMoved is the closed notice's reason when the room moved to another
// node (its node died or stopped): the client should join again.
const ReasonMoved = "moved"

type cluster struct {
	node   string
	bus    Bus
	leases LeaseStore
	life   context.Context
	cancel func() error

	pending bus.Pending[rpcResp]

	mu      sync.Mutex
	closing bool
	proxies map[string]*Participant // by session: this node's clients in rooms on other nodes
	remotes map[string]*Participant // by session: other nodes' clients in rooms here
}

// link ties a proxy to the real participant on the owner node.
type link struct {
	node    string // the other node: the owner (proxy side) or the origin (owner side)
	session string
	kept    time.Time // owner side: last keepalive; guarded by cluster.mu
}

type rpcReq struct {
	ID       string            `json:"id"`
	From     string            `json:"from"`
	Op       string            `json:"op"`
	Session  string            `json:"session,omitempty"`
	Account  string            `json:"account,omitempty"`
	Channel  string            `json:"channel,omitempty"`
	SDP      string            `json:"sdp,omitempty"`
	Sources  map[string]string `json:"sources,omitempty"`
	Mute     bool              `json:"mute,omitempty"`
	Deaf     bool              `json:"deaf,omitempty"`
	TrackID  string            `json:"track,omitempty"`
	Layer    int               `json:"layer,omitempty"`
	Target   string            `json:"target,omitempty"`
	Sessions []string          `json:"sessions,omitempty"`
	Sig      string            `json:"sig,omitempty"`  // mesh: the signal's type
	Cand     string            `json:"cand,omitempty"` // mesh: its candidate
}

type wireErr struct {
	Kind  fault.Kind `json:"kind"`
	Msg   string     `json:"msg"`
	Moved bool       `json:"moved,omitempty"`
}

type rpcResp struct {
	ID      string            `json:"id"`
	Err     *wireErr          `json:"err,omitempty"`
	SDP     string            `json:"sdp,omitempty"`
	Members []ParticipantInfo `json:"members,omitempty"`
	// MembersVer is Members' version on the room's node (room.ver).
	MembersVer uint64 `json:"members_ver,omitempty"`
	Handled    bool   `json:"handled,omitempty"`
}

type noticeMsg struct {
	Session string `json:"session"`
	Notice  Notice `json:"notice"`
}

func rpcTopic(node string) string    { return "voice.node." + node + ".rpc" }
func replyTopic(node string) string  { return "voice.node." + node + ".reply" }
func noticeTopic(node string) string { return "voice.node." + node + ".notice" }

var errMoved = fault.New(fault.Unavailable, "The voice channel moved to another server; join again")

// EnableCluster makes the SFU share rooms with other nodes through the bus
// and the lease store. Call it once, before the first Join; Run renews the
// leases and watches the other nodes.
func (s *SFU) EnableCluster(cfg ClusterConfig) error {
	if cfg.Bus == nil || cfg.Leases == nil {
		return errors.New("voice: cluster needs a bus and a lease store")
	}
	if cfg.Node == "" {
		cfg.Node = rand.Text()
	}
	if cfg.Life == nil {
		cfg.Life = context.Background()
	}
	c := &cluster{node: cfg.Node, bus: cfg.Bus, leases: cfg.Leases, life: cfg.Life,
		proxies: map[string]*Participant{}, remotes: map[string]*Participant{}}
	var cancels []func() error
	sub := func(topic string, h func([]byte)) error {
		cancel, err := cfg.Bus.Subscribe(topic, func(_ string, data []byte) { h(data) })
		if err != nil {
			return fmt.Errorf("voice: subscribe %s: %w", topic, err)
		}
		cancels = append(cancels, cancel)
		return nil
	}
	err := errors.Join(
		sub(rpcTopic(c.node), func(data []byte) {
			var q rpcReq
			if json.Unmarshal(data, &q) == nil {
				go s.serveRPC(q)
			}
		}),
		sub(replyTopic(c.node), func(data []byte) {
			var p rpcResp
			if json.Unmarshal(data, &p) == nil {
				c.pending.Deliver(p.ID, p)
			}
		}),
		// One subscription for every notice: the bus keeps one
		// publisher's order, so each participant's notices stay in order.
		sub(noticeTopic(c.node), s.onRemoteNotice),
	)
	c.cancel = func() error {
		var errs []error
		for _, f := range cancels {
			errs = append(errs, f())
		}
		return errors.Join(errs...)
	}
	if err != nil {
		_ = c.cancel()
		return err
	}
	s.cl = c
	return nil
}

// NodeID is this node's cluster id ("" when not clustered).
func (s *SFU) NodeID() string {
	if s.cl == nil {
		return ""
	}
	return s.cl.node
}

// Run claims this node's rooms' leases, closes proxies whose room's node
// stopped holding it, and keeps other nodes' participants alive, until ctx
// ends. Without a cluster it returns at once.
func (s *SFU) Run(ctx context.Context) error {
	if s.cl == nil {
		return nil
	}
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	var lastClaim time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			s.watchOwners(ctx, now)
			if now.Sub(lastClaim) >= claimEvery {
				lastClaim = now
				s.claimRooms(ctx, now)
				s.sendKeepalives(ctx)
				s.dropSilent(now)
			}
		}
	}
}

// claim takes or extends channelID's lease and returns its holder.
func (s *SFU) claim(ctx context.Context, channelID string) (string, error) {
	now := time.Now()
	owner, err := s.cl.leases.ClaimVoiceLease(ctx, channelID, s.cl.node, now, now.Add(leaseTTL))
	if err != nil {
		return "", fault.Wrap(fault.Unavailable, "The voice channel's server cannot be found", err)
	}
	return owner, nil
}

// claimRooms extends the lease of every room here; a room whose lease
// another node took (this node was cut off long enough) is closed, its
// participants told to join again.
func (s *SFU) claimRooms(ctx context.Context, _ time.Time) {
	s.cl.mu.Lock()
	closing := s.cl.closing
	s.cl.mu.Unlock()
	if closing {
		return
	}
	s.mu.Lock()
	ids := make([]string, 0, len(s.rooms))
	for id := range s.rooms {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		owner, err := s.claim(ctx, id)
		if err != nil {
			s.log.Warn("voice: claim room lease", "channel", id, "err", err)
			continue
		}
		if owner != s.cl.node {
			for _, p := range s.roomMembers(id) {
				s.leave(p, ReasonMoved)
			}
		}
	}
}

// watchOwners closes this node's proxies whose room's node no longer holds
// the lease: that node died or stopped.
func (s *SFU) watchOwners(ctx context.Context, now time.Time) {
	byRoom := map[[2]string][]*Participant{}
	s.cl.mu.Lock()
	for _, p := range s.cl.proxies {
		k := [2]string{p.ChannelID, p.remote.node}
		byRoom[k] = append(byRoom[k], p)
	}
	s.cl.mu.Unlock()
	for k, ps := range byRoom {
		owner, err := s.cl.leases.VoiceLeaseOwner(ctx, k[0], now)
		if err != nil || owner == k[1] {
			continue
		}
		for _, p := range ps {
			s.leave(p, ReasonMoved)
		}
	}
}

// sendKeepalives tells each owner node which of its participants this
// node's clients still hold.
func (s *SFU) sendKeepalives(ctx context.Context) {
	byNode := map[string][]string{}
	s.cl.mu.Lock()
	for sess, p := range s.cl.proxies {
		byNode[p.remote.node] = append(byNode[p.remote.node], sess)
	}
	s.cl.mu.Unlock()
	for node, sessions := range byNode {
		b, _ := json.Marshal(rpcReq{From: s.cl.node, Op: "keep", Sessions: sessions})
		_ = s.cl.bus.Publish(ctx, rpcTopic(node), b)
	}
}

// dropSilent takes out the participants of nodes that stopped sending
// keepalives.
func (s *SFU) dropSilent(now time.Time) {
	var gone []*Participant
	s.cl.mu.Lock()
	for _, p := range s.cl.remotes {
		if now.Sub(p.origin.kept) > keepTimeout {
			gone = append(gone, p)
		}
	}
	s.cl.mu.Unlock()
	for _, p := range gone {
		s.leave(p, "its server stopped answering")
	}
}

// release gives up the lease of a room that emptied.
func (s *SFU) release(channelID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.cl.life), rpcTimeout)
	defer cancel()
	if err := s.cl.leases.ReleaseVoiceLease(ctx, channelID, s.cl.node); err != nil {
		s.log.Warn("voice: release room lease", "channel", channelID, "err", err)
	}
}

// closeCluster releases every lease this node holds and stops answering
// other nodes; the rooms' participants are told the room moved.
func (s *SFU) closeCluster() {
	if s.cl == nil {
		return
	}
	s.cl.mu.Lock()
	s.cl.closing = true
	s.cl.mu.Unlock()
	s.mu.Lock()
	ids := make([]string, 0, len(s.rooms))
	for id := range s.rooms {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.release(id)
	}
}

func (s *SFU) stopCluster() {
	if s.cl != nil && s.cl.cancel != nil {
		_ = s.cl.cancel()
	}
}

// errOwnerGone: the node a join was sent to stopped holding the room's
// lease before it answered (it died).
var errOwnerGone = fault.New(fault.Unavailable, "The voice channel's server stopped; join again")

// joinOwner joins through a proxy when another node holds channelID's
// lease, or reports that the lease is this node's (here: join locally). A
// join sent in the seconds after the room's node died, before its lease
// lapsed, does not fail: the wait for that node's answer ends when the
// lease lapses (or changes hands), and the claim is tried again, so the
// room starts here or the join goes to the new owner. A node that answers
// "moved" (it is shutting down or lost the lease) is retried the same way.
func (s *SFU) joinOwner(ctx context.Context, accountID, channelID string, notify func(Notice)) (p *Participant, here bool, err error) {
	giveUp := time.Now().Add(2*leaseTTL + rpcTimeout)
	for {
		owner, err := s.claim(ctx, channelID)
		if err != nil {
			return nil, false, err
		}
		if owner == s.cl.node {
			return nil, true, nil
		}
		p, err := s.joinRemote(ctx, owner, accountID, channelID, notify)
		if err == nil || (!errors.Is(err, errOwnerGone) && !errors.Is(err, errMoved)) || time.Now().After(giveUp) {
			return p, false, err
		}
		select {
		case <-ctx.Done():
			return nil, false, err
		case <-time.After(watchEvery):
		}
	}
}

// watchLease cancels a call to owner (with errOwnerGone) once owner no
// longer holds channelID's lease, until ctx ends.
func (s *SFU) watchLease(ctx context.Context, cancel context.CancelCauseFunc, channelID, owner string) {
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if o, err := s.cl.leases.VoiceLeaseOwner(ctx, channelID, now); err == nil && o != owner {
				cancel(errOwnerGone)
				return
			}
		}
	}
}

// joinRemote joins through a proxy: the room runs on owner.
func (s *SFU) joinRemote(ctx context.Context, owner, accountID, channelID string, notify func(Notice)) (*Participant, error) {
	p := &Participant{sfu: s, AccountID: accountID, ChannelID: channelID, notify: notify,
		remote: &link{node: owner, session: rand.Text()}}
	s.mu.Lock()
	old := s.byAccount[accountID]
	s.mu.Unlock()
	if old != nil {
		s.leave(old, "replaced")
	}
	// Registered before the call: the owner's first notices may come
	// before its answer.
	s.mu.Lock()
	s.byAccount[accountID] = p
	s.mu.Unlock()
	s.cl.mu.Lock()
	s.cl.proxies[p.remote.session] = p
	s.cl.mu.Unlock()
	callCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go s.watchLease(callCtx, cancel, channelID, owner)
	resp, err := s.callWithin(callCtx, owner, rpcReq{Op: "join", Session: p.remote.session, Account: accountID, Channel: channelID},
		joinTimeout)
	if err != nil && errors.Is(context.Cause(callCtx), errOwnerGone) {
		err = errOwnerGone
	}
	if err != nil {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		s.forget(p)
		return nil, err
	}
	p.setMembers(resp.Members, resp.MembersVer)
	return p, nil
}

// forget drops a proxy or a remote participant from the maps.
func (s *SFU) forget(p *Participant) {
	s.mu.Lock()
	if s.byAccount[p.AccountID] == p {
		delete(s.byAccount, p.AccountID)
	}
	s.mu.Unlock()
	if s.cl == nil {
		return
	}
	s.cl.mu.Lock()
	if p.remote != nil && s.cl.proxies[p.remote.session] == p {
		delete(s.cl.proxies, p.remote.session)
	}
	if p.origin != nil && s.cl.remotes[p.origin.session] == p {
		delete(s.cl.remotes, p.origin.session)
	}
	s.cl.mu.Unlock()
}

// leaveProxy ends a proxy: the owner is told (unless the owner ended it),
// and the client gets its closed notice.
func (s *SFU) leaveProxy(p *Participant, reason string, tellOwner bool) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	s.forget(p)
	if tellOwner {
		go func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(s.cl.life), rpcTimeout)
			defer cancel()
			_, _ = s.call(ctx, p.remote.node, rpcReq{Op: "leave", Session: p.remote.session})
		}()
	}
	p.send(Notice{Type: "closed", Reason: reason})
}

// onRemoteNotice delivers an owner's notice to this node's client.
func (s *SFU) onRemoteNotice(data []byte) {
	var m noticeMsg
	if json.Unmarshal(data, &m) != nil {
		return
	}
	s.cl.mu.Lock()
	p := s.cl.proxies[m.Session]
	s.cl.mu.Unlock()
	if p == nil {
		return
	}
	switch m.Notice.Type {
	case "participants":
		p.setMembers(m.Notice.Participants, m.Notice.MembersVer)
	case "closed":
		s.leaveProxy(p, m.Notice.Reason, false)
		return
	}
	p.send(m.Notice)
}

// proxyCall runs one of a proxy's requests on the owner.
func (p *Participant) proxyCall(ctx context.Context, q rpcReq) (rpcResp, error) {
	if p.Closed() {
		return rpcResp{}, fault.New(fault.NotFound, "Not in a voice channel")
	}
	q.Session = p.remote.session
	return p.sfu.call(ctx, p.remote.node, q)
}

// bgCtx bounds a proxy call made without a caller's context.
func (p *Participant) bgCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(p.sfu.cl.life, rpcTimeout)
}

// call runs q on node and waits for its answer.
func (s *SFU) call(ctx context.Context, node string, q rpcReq) (rpcResp, error) {
	return s.callWithin(ctx, node, q, rpcTimeout)
}

// callWithin is call with its own bound on the wait for the answer.
func (s *SFU) callWithin(ctx context.Context, node string, q rpcReq, timeout time.Duration) (rpcResp, error) {
	q.ID, q.From = rand.Text(), s.cl.node
	b, _ := json.Marshal(q)
	r, err := s.cl.pending.Call(ctx, q.ID, timeout, func() error { return s.cl.bus.Publish(ctx, rpcTopic(node), b) })
	switch {
	case errors.Is(err, bus.ErrNotSent):
		return rpcResp{}, fault.Wrap(fault.Unavailable, "The voice channel's server cannot be reached", err)
	case errors.Is(err, bus.ErrNoReply):
		return rpcResp{}, fault.New(fault.Unavailable, "The voice channel's server did not answer")
	case err != nil:
		return rpcResp{}, err
	case r.Err != nil && r.Err.Moved:
		return r, errMoved
	case r.Err != nil:
		return r, fault.New(r.Err.Kind, r.Err.Msg)
	}
	return r, nil
}

// serveRPC runs another node's request.
func (s *SFU) serveRPC(q rpcReq) {
	if q.Op == "keep" {
		now := time.Now()
		s.cl.mu.Lock()
		for _, sess := range q.Sessions {
			if p := s.cl.remotes[sess]; p != nil && p.origin.node == q.From {
				p.origin.kept = now
			}
		}
		s.cl.mu.Unlock()
		return
	}
	ctx, cancel := context.WithTimeout(s.cl.life, rpcTimeout)
	defer cancel()
	resp := rpcResp{ID: q.ID}
	err := s.serveOp(ctx, q, &resp)
	if errors.Is(err, errMoved) {
		resp.Err = &wireErr{Kind: fault.Unavailable, Msg: fault.Message(err), Moved: true}
	} else if err != nil {
		k := fault.KindOf(err)
		msg := fault.Message(err)
		if k == fault.Internal {
			s.log.Warn("voice: cluster request", "op", q.Op, "err", err)
			msg = "Internal server error"
		}
		resp.Err = &wireErr{Kind: k, Msg: msg}
	}
	b, _ := json.Marshal(resp)
	if err := s.cl.bus.Publish(s.cl.life, replyTopic(q.From), b); err != nil {
		s.log.Warn("voice: cluster reply", "err", err)
	}
}

func (s *SFU) serveOp(ctx context.Context, q rpcReq, resp *rpcResp) error {
	s.cl.mu.Lock()
	closing := s.cl.closing
	p := s.cl.remotes[q.Session]
	s.cl.mu.Unlock()
	switch q.Op {
	case "join":
		if closing {
			return errMoved
		}
		return s.serveJoin(ctx, q, resp)
	case "mute":
		return s.ServerMute(ctx, q.Account, q.Target, q.Mute)
	case "disconnect":
		return s.Disconnect(ctx, q.Account, q.Target)
	case "mesh":
		s.serveMesh(q, resp)
		return nil
	case "meshleave":
		s.meshLeave(q.Account, q.Channel)
		return nil
	}
	if p == nil || p.origin.node != q.From {
		if q.Op == "leave" {
			return nil
		}
		return fault.New(fault.NotFound, "Not in a voice channel")
	}
	switch q.Op {
	case "leave":
		return p.Leave()
	case "publish":
		sdp, err := p.Publish(ctx, q.SDP, q.Sources)
		resp.SDP = sdp
		return err
	case "answer":
		return p.Answer(q.SDP)
	case "self":
		p.SetSelf(q.Mute, q.Deaf)
		return nil
	case "keepmute":
		p.KeepServerMute()
		return nil
	case "layer":
		return p.SetLayer(q.TrackID, q.Layer)
	}
	return fault.New(fault.Invalid, "unknown voice cluster request")
}

// serveJoin joins another node's client to a room here, if the room is
// (or may become) this node's.
func (s *SFU) serveJoin(ctx context.Context, q rpcReq, resp *rpcResp) error {
	ca, err := s.check(ctx, q.Account, q.Channel)
	if err != nil {
		return err
	}
	owner, err := s.claim(ctx, q.Channel)
	if err != nil {
		return err
	}
	if owner != s.cl.node {
		return errMoved
	}
	origin := &link{node: q.From, session: q.Session, kept: time.Now()}
	notify := func(n Notice) {
		b, _ := json.Marshal(noticeMsg{Session: origin.session, Notice: n})
		if err := s.cl.bus.Publish(context.WithoutCancel(s.cl.life), noticeTopic(origin.node), b); err != nil {
			s.log.Debug("voice: remote notice", "err", err)
		}
	}
	p, err := s.joinLocal(ca, q.Account, q.Channel, notify, origin)
	if err != nil {
		return err
	}
	resp.Members, resp.MembersVer = s.membersOf(p.ChannelID)
	return nil
}

// setMembers keeps a list of a proxy's room that the owner told it, unless
// it already has a newer one: the join's answer and the owner's notices
// come by different paths (an unversioned list, from an older node, is
// taken as it comes).
func (p *Participant) setMembers(ms []ParticipantInfo, ver uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ver == 0 || ver > p.membersVer || p.members == nil {
		p.members, p.membersVer = ms, ver
	}
}
