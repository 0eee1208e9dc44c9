package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

// Scaling out: a room runs on exactly one node, the one holding its lease
// (a row in the store, renewed every tick). Another node that gets a socket
// or a request for the room keeps a proxy Room whose calls travel over the
// bus to the owner; the owner's events reach every node's sockets through
// the room's bus topics. When the owner stops renewing (it stopped or
// died), the lease expires, proxies tell their sockets to reconnect (1001)
// and the next node to be asked loads the room from the store.
//
// The lease alone does not make one writer: a node that stalled past its
// lease (a long pause, a database outage) still holds its copy when it
// wakes, while another node runs the room. So the row is fenced too (Store:
// every load takes a new generation, and a save of an older one is
// refused): the stale copy's saves change nothing, and the copy is dropped
// when a save is refused or when lease renewal finds the lease gone
// (retireLost).

// Subscriber is the part of the bus the cluster needs.
type Subscriber interface {
	Subscribe(pattern string, h func(topic string, data []byte)) (cancel func() error, err error)
}

// LeaseStore keeps which node runs which room.
type LeaseStore interface {
	// ClaimRoomLease takes the lease of key for node until the given time
	// if it is free, expired (before now) or already node's, and returns
	// the node holding it afterwards.
	ClaimRoomLease(ctx context.Context, key, node string, now, until time.Time) (string, error)
	// RenewRoomLeases extends every lease node holds (expired or not: a
	// lease no other node took is still node's) and returns their keys.
	RenewRoomLeases(ctx context.Context, node string, until time.Time) ([]string, error)
	ReleaseRoomLease(ctx context.Context, key, node string) error
	// RoomLeaseOwner returns the node holding a live lease, or "".
	RoomLeaseOwner(ctx context.Context, key string, now time.Time) (string, error)
	// LeaseNodes returns every node holding a live lease: the nodes that
	// run rooms.
	LeaseNodes(ctx context.Context, now time.Time) ([]string, error)
}

type cluster struct {
	node   string
	leases LeaseStore
	ttl    time.Duration
	cancel func() error

	pending bus.Pending[rpcResp]

	mu      sync.Mutex
	proxies map[string]*Room
}

type rpcReq struct {
	ID      string      `json:"id"`
	From    string      `json:"from"`
	Op      string      `json:"op"`
	Room    string      `json:"room"`
	Actor   Actor       `json:"actor"`
	Client  string      `json:"client,omitempty"`
	Session string      `json:"session,omitempty"`
	Req     *Request    `json:"req,omitempty"`
	Ban     bool        `json:"ban,omitempty"`
	Why     CloseReason `json:"why,omitempty"`
	Text    string      `json:"text,omitempty"`
	Dur     int64       `json:"dur,omitempty"`
	Videos  []Video     `json:"videos,omitempty"`
	All     bool        `json:"all,omitempty"`
	IDs     []string    `json:"ids,omitempty"`
}

type wireErr struct {
	Kind   fault.Kind `json:"kind"`
	Code   Code       `json:"code,omitempty"`
	Msg    string     `json:"msg"`
	Arg    string     `json:"arg,omitempty"`
	Reason string     `json:"reason,omitempty"`
	Moved  bool       `json:"moved,omitempty"`
}

type rpcResp struct {
	ID     string     `json:"id"`
	Err    *wireErr   `json:"err,omitempty"`
	Snap   *Snapshot  `json:"snap,omitempty"`
	Sync   *Sync      `json:"sync,omitempty"`
	Users  []UserInfo `json:"users,omitempty"`
	Client string     `json:"client,omitempty"`
	OK     bool       `json:"ok,omitempty"`
	Len    int        `json:"len,omitempty"`
	Rooms  []Listing  `json:"rooms,omitempty"`
	IDs    []string   `json:"ids,omitempty"`
}

func rpcTopic(node string) string   { return "watch.node." + node + ".rpc" }
func replyTopic(node string) string { return "watch.node." + node + ".reply" }

var errMoved = errors.New("watch: room moved to another node")

var errNoAnswer = fault.New(fault.Unavailable, "the room's node did not answer")

// EnableCluster makes the service share rooms with other nodes: node is
// this node's id (empty: a random one), sub and leases come from the bus
// and the store.
func (s *Service) EnableCluster(node string, sub Subscriber, leases LeaseStore) error {
	if sub == nil || leases == nil {
		return errors.New("watch: cluster needs a subscriber and a lease store")
	}
	if node == "" {
		node = identity.NewID()
	}
	c := &cluster{node: node, leases: leases, ttl: 10 * time.Second, proxies: map[string]*Room{}}
	cancelReq, err := sub.Subscribe(rpcTopic(node), func(_ string, data []byte) {
		var q rpcReq
		if json.Unmarshal(data, &q) == nil {
			go s.serveRPC(q)
		}
	})
	if err != nil {
		return fmt.Errorf("watch: subscribe rpc: %w", err)
	}
	cancelRep, err := sub.Subscribe(replyTopic(node), func(_ string, data []byte) {
		var p rpcResp
		if json.Unmarshal(data, &p) == nil {
			c.pending.Deliver(p.ID, p)
		}
	})
	if err != nil {
		_ = cancelReq()
		return fmt.Errorf("watch: subscribe rpc replies: %w", err)
	}
	c.cancel = func() error { return errors.Join(cancelReq(), cancelRep()) }
	s.cl = c
	return nil
}

// NodeID is this node's cluster id ("" when not clustered).
func (s *Service) NodeID() string {
	if s.cl == nil {
		return ""
	}
	return s.cl.node
}

// claim decides where a room not loaded here runs: here (true) or on
// another node (a proxy is returned).
func (s *Service) claim(ctx context.Context, key string) (*Room, bool, error) {
	if s.cl == nil {
		return nil, true, nil
	}
	now := s.now()
	owner, err := s.cl.leases.ClaimRoomLease(ctx, key, s.cl.node, now, now.Add(s.cl.ttl))
	if err != nil {
		return nil, false, fmt.Errorf("watch: claim room: %w", err)
	}
	s.cl.mu.Lock()
	old := s.cl.proxies[key]
	var p *Room
	switch {
	case old != nil && old.remote == owner:
		s.cl.mu.Unlock()
		return old, false, nil
	case owner == s.cl.node:
		delete(s.cl.proxies, key)
	default:
		p = &Room{svc: s, key: key, name: key, remote: owner}
		s.cl.proxies[key] = p
	}
	s.cl.mu.Unlock()
	if old != nil {
		// The room left the node our proxy named (before the lease check
		// noticed): the sockets attached to the proxy reconnect, told
		// before the room may load here.
		s.tellReconnect(key)
	}
	return p, p == nil, nil
}

// tellReconnect tells this node's sockets in the room key to reconnect
// (1001) and join it wherever it runs now: the proxy they were attached to
// was retired.
func (s *Service) tellReconnect(key string) {
	s.publish(NodeTopic(key, s.cl.node), Event{Type: EvClose, Close: CloseShutdown})
}

// call runs op on the room's owner node. When the owner does not answer
// and its lease then lapses (it died: a kill -9 leaves its leases to run
// out), the op runs where the room runs next, on this node as a fresh Get
// would load it, instead of failing: before, every request for the room
// answered 500 after its 5 s wait until the lease ran out.
func (s *Service) call(ctx context.Context, r *Room, q rpcReq) (rpcResp, error) {
	q.Room = r.key
	if failsOver(q.Op) && s.retired(r) {
		// A caller holding the proxy from before the move (one request
		// makes several calls) goes where the room runs now.
		return s.rerun(ctx, r, q)
	}
	p, err := s.callNode(ctx, r.remote, q)
	if err != nil && p.Err != nil && p.Err.Moved {
		// The node no longer runs the room (it restarted and another node
		// took it): as clusterTick, our sockets attached to the proxy
		// reconnect, and a request runs where the room runs now.
		if s.dropProxy(r) {
			s.tellReconnect(r.key)
		}
		if failsOver(q.Op) {
			return s.rerun(ctx, r, q)
		}
		return p, errMoved
	}
	if errors.Is(err, errNoAnswer) && failsOver(q.Op) && s.ownerGone(ctx, r) {
		// As clusterTick: our sockets in the dead node's room reconnect,
		// told before the room may load here (they would be told twice).
		if s.dropProxy(r) {
			s.tellReconnect(r.key)
		}
		return s.rerun(ctx, r, q)
	}
	return p, err
}

// rerun runs q where the room of the retired proxy r runs now: here,
// loading it as Get does, or on another node.
func (s *Service) rerun(ctx context.Context, r *Room, q rpcReq) (rpcResp, error) {
	nr, err := s.Get(ctx, r.key)
	switch {
	case err != nil:
		return rpcResp{}, err
	case nr.remote == "":
		resp := s.runOp(ctx, nr, q)
		if resp.Err != nil {
			return resp, resp.Err.err()
		}
		return resp, nil
	case nr == r:
		return rpcResp{}, errNoAnswer
	}
	return s.callNode(ctx, nr.remote, q)
}

// retired reports whether the proxy r no longer stands for its room here.
func (s *Service) retired(r *Room) bool {
	s.cl.mu.Lock()
	defer s.cl.mu.Unlock()
	return s.cl.proxies[r.key] != r
}

// failsOver reports whether op may run on the room's next node when its
// node died: a request and the reads it makes. A socket's own ops (join,
// leave, a notice, a rename, a kick naming one) are not: its socket
// reconnects (clusterTick) and starts over.
func failsOver(op string) bool {
	switch op {
	case "handle", "precheck", "access", "snapshot", "fullsync", "users", "len", "bysession", "claim", "delete":
		return true
	}
	return false
}

// ownerGone waits, at most one lease term and while ctx lasts, for the
// node behind the proxy r to lose the room's lease, and reports whether
// it did.
func (s *Service) ownerGone(ctx context.Context, r *Room) bool {
	deadline := time.Now().Add(s.cl.ttl)
	for {
		owner, err := s.cl.leases.RoomLeaseOwner(ctx, r.key, s.now())
		if err == nil && owner != r.remote {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// callNode runs op on a node and waits for its answer.
func (s *Service) callNode(ctx context.Context, node string, q rpcReq) (rpcResp, error) {
	q.ID, q.From = identity.NewID(), s.cl.node
	b, _ := json.Marshal(q)
	p, err := s.cl.pending.Call(ctx, q.ID, 5*time.Second, func() error { return s.pub.Publish(ctx, rpcTopic(node), b) })
	switch {
	case errors.Is(err, bus.ErrNotSent):
		return rpcResp{}, fault.Wrap(fault.Unavailable, "the room's node cannot be reached", err)
	case errors.Is(err, bus.ErrNoReply):
		return rpcResp{}, errNoAnswer
	case err != nil:
		return rpcResp{}, err
	case p.Err != nil && p.Err.Moved:
		return p, errMoved
	case p.Err != nil:
		return p, p.Err.err()
	}
	return p, nil
}

func (s *Service) callBG(r *Room, q rpcReq) (rpcResp, error) {
	ctx, cancel := context.WithTimeout(s.life(), 6*time.Second)
	defer cancel()
	return s.call(ctx, r, q)
}

// dropProxy forgets the proxy r, reporting whether it was still current.
func (s *Service) dropProxy(r *Room) bool {
	s.cl.mu.Lock()
	defer s.cl.mu.Unlock()
	if s.cl.proxies[r.key] == r {
		delete(s.cl.proxies, r.key)
		return true
	}
	return false
}

func (e *wireErr) err() error {
	if e.Code != "" {
		return &Error{Kind: e.Kind, Code: e.Code, Msg: e.Msg, Arg: e.Arg, Reason: e.Reason}
	}
	return &fault.Error{Kind: e.Kind, Msg: e.Msg}
}

func toWire(err error) *wireErr {
	if err == nil {
		return nil
	}
	var we *Error
	if errors.As(err, &we) {
		return &wireErr{Kind: we.Kind, Code: we.Code, Msg: we.Msg, Arg: we.Arg, Reason: we.Reason}
	}
	return &wireErr{Kind: fault.KindOf(err), Msg: fault.Message(err)}
}

// serveRPC runs a call from another node on a room loaded here.
func (s *Service) serveRPC(q rpcReq) {
	ctx, cancel := context.WithTimeout(s.life(), 5*time.Second)
	defer cancel()
	resp := rpcResp{ID: q.ID}
	// Node-wide operations name no room.
	switch q.Op {
	case "list":
		resp.Rooms = s.localListing(q.All)
		s.reply(q, resp)
		return
	case "present":
		resp.IDs = s.localPresent(q.IDs)
		s.reply(q, resp)
		return
	case "renameall":
		s.renameLocal(q.Session, q.Actor)
		s.reply(q, resp)
		return
	}
	r, err := s.Get(ctx, q.Room)
	switch {
	case err != nil:
		resp.Err = toWire(err)
	case r.remote != "":
		resp.Err = &wireErr{Kind: fault.Unavailable, Msg: "moved", Moved: true}
	default:
		resp = s.runOp(ctx, r, q)
	}
	s.reply(q, resp)
}

// runOp runs a room op on r, a room this node runs.
func (s *Service) runOp(ctx context.Context, r *Room, q rpcReq) rpcResp {
	resp := rpcResp{ID: q.ID}
	var err error
	switch q.Op {
	case "join":
		err = r.Join(q.Actor, q.Client)
	case "access":
		err = s.authorize(ctx, r, q.Actor)
	case "leave":
		r.Leave(q.Client)
	case "handle":
		if q.Req != nil {
			err = s.handleResolved(ctx, r, q.Actor, q.Client, *q.Req, q.Videos)
		}
	case "precheck":
		if q.Req != nil {
			resp.OK, err = s.precheck(ctx, r, q.Actor, q.Client, *q.Req)
		}
	case "snapshot":
		snap := r.Snapshot()
		resp.Snap = &snap
	case "fullsync":
		resp.Sync = r.FullSync()
	case "users":
		resp.Users = r.Users()
	case "len":
		resp.Len = r.Len()
	case "bysession":
		resp.Client, resp.OK = r.ClientBySession(q.Session)
	case "rename":
		r.RenameSession(q.Session, q.Actor)
	case "claim":
		err = s.claimOwner(ctx, r, q.Actor)
	case "kick":
		err = s.kick(ctx, r, q.Actor, q.Client, q.Ban)
	case "delete":
		err = s.deleteRoom(ctx, r, q.Actor)
	case "unload":
		s.Unload(r, q.Why)
	case "custom":
		r.Custom(q.Client, q.Text, time.Duration(q.Dur))
	default:
		err = BadArgument("op", "unknown")
	}
	resp.Err = toWire(err)
	if errors.Is(err, errStale) {
		// This node's copy was stale and is retired: the caller runs the
		// op where the room runs now.
		resp.Err = &wireErr{Kind: fault.Unavailable, Msg: "moved", Moved: true}
	}
	return resp
}

func (s *Service) reply(q rpcReq, resp rpcResp) {
	b, _ := json.Marshal(resp)
	if err := s.pub.Publish(s.life(), replyTopic(q.From), b); err != nil {
		s.log.Warn("rpc reply", "err", err)
	}
}

// clusterTick renews this node's leases, retires the rooms loaded here
// whose lease another node took (this node stalled past the lease term),
// and retires proxies whose owner stopped renewing: their sockets are told
// to reconnect.
func (s *Service) clusterTick(ctx context.Context) {
	if s.cl == nil {
		return
	}
	now := s.now()
	// Every room loaded before the renewal had its lease claimed before
	// it, so a room missing from the leases renewed lost its lease.
	local := s.Loaded()
	held, err := s.cl.leases.RenewRoomLeases(ctx, s.cl.node, now.Add(s.cl.ttl))
	if err != nil {
		s.log.Warn("renew room leases", "err", err)
	} else {
		s.retireLost(local, held)
	}
	s.cl.mu.Lock()
	proxies := make([]*Room, 0, len(s.cl.proxies))
	for _, p := range s.cl.proxies {
		proxies = append(proxies, p)
	}
	s.cl.mu.Unlock()
	for _, p := range proxies {
		owner, err := s.cl.leases.RoomLeaseOwner(ctx, p.key, now)
		if err != nil || owner == p.remote {
			continue
		}
		// Our sockets in that room reconnect and re-join wherever it runs
		// now (unless a call or a claim retired the proxy and told them).
		if s.dropProxy(p) {
			s.tellReconnect(p.key)
		}
	}
}

// retireLost retires the rooms of local whose key is not in held: another
// node took their lease and runs them (or will on its next request). A
// room's change not saved yet is written first if the row is still this
// copy's (the new node has not loaded it yet); after that the fence refuses
// it, and nothing this node does reaches the row. A room whose row is gone
// (the temporary-room sweep deletes a swept room's lapsed lease with it)
// is retired as deleted.
func (s *Service) retireLost(local []*Room, held []string) {
	keep := make(map[string]bool, len(held))
	for _, k := range held {
		keep[k] = true
	}
	for _, r := range local {
		if keep[r.key] {
			continue
		}
		r.mu.Lock()
		if !r.unloaded && !s.retireFor(r, s.save(r.recordLocked())) {
			s.retireLocked(r)
		}
		r.mu.Unlock()
	}
}

func (s *Service) releaseLease(key string) {
	if s.cl == nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.lasting(), 5*time.Second)
	defer cancel()
	if err := s.cl.leases.ReleaseRoomLease(ctx, key, s.cl.node); err != nil {
		s.log.Warn("release room lease", "room", key, "err", err)
	}
}
