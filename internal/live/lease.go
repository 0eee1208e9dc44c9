package live

import (
	"context"
	"errors"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

// One publisher per stage in the cluster: a broadcast holds its stage's
// publish lease, a row in the store every node shares, taken when the
// publish starts by a conditional upsert (Store.ClaimPublishLease), so that
// of two publishes to two nodes at the same instant exactly one starts; the
// presence counts, which nodes hear from each other in batches, cannot
// decide that race. The node renews the lease while the broadcast runs
// (Run, every renewEvery) and drops it when the broadcast has ended. A node
// that dies (kill -9) stops renewing: its lease lapses after publishLeaseTTL
// and another node's publish takes the stage; the node itself, restarted
// with its node id, takes its own lease back at once.
const (
	publishLeaseTTL = 15 * time.Second // as long as presence takes to forget a silent node
	renewEvery      = 5 * time.Second  // Run's prune tick: three renewals per TTL
)

// errLeaseCheck refuses a publish whose lease cannot be read or written.
var errLeaseCheck = errors.New("cannot check whether this stage is live on another node right now")

// claimLease takes b's stage's publish lease for b; errLive when another
// node's broadcast holds it.
func (s *Service) claimLease(ctx context.Context, b *broadcast) error {
	now := s.cfg.Now()
	held, err := s.st.ClaimPublishLease(ctx, b.st.id, s.leaseNode, b.id, now, now.Add(publishLeaseTTL))
	if err != nil {
		s.log.Warn("live: cannot claim the stage's publish lease", "stage", b.st.id, "err", err)
		return fault.Wrap(fault.Unavailable, errLeaseCheck.Error(), err)
	}
	if !held {
		return errLive
	}
	return nil
}

// releaseLease drops b's lease (its broadcast has ended, or never started).
func (s *Service) releaseLease(b *broadcast) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 10*time.Second)
	defer cancel()
	if err := s.st.ReleasePublishLease(ctx, b.st.id, s.leaseNode, b.id); err != nil {
		// It lapses on its own after publishLeaseTTL.
		s.log.Warn("live: cannot release the stage's publish lease", "stage", b.st.id, "err", err)
	}
}

// RenewLeases renews the publish lease of every broadcast on this node (Run
// does it every renewEvery). A broadcast whose lease another node took (this
// node could not renew it in time: cut off from the database) is
// disconnected, so that the stage keeps one publisher. A broadcast still
// starting needs no renewal yet, and an ending one none any more.
func (s *Service) RenewLeases(ctx context.Context) {
	for _, st := range s.allStages() {
		st.mu.Lock()
		b := st.cur
		running := b != nil && b.running // started, not yet ending
		st.mu.Unlock()
		if !running {
			continue
		}
		now := s.cfg.Now()
		held, err := s.st.RenewPublishLease(ctx, st.id, s.leaseNode, b.id, now, now.Add(publishLeaseTTL))
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("live: cannot renew the stage's publish lease", "stage", st.id, "err", err)
			}
			continue
		}
		st.mu.Lock()
		still := st.cur == b && b.running
		st.mu.Unlock()
		if held || !still { // gone with a broadcast that ended meanwhile
			continue
		}
		s.log.Warn("live: the stage's publish lease is another node's now; dropping this node's publisher", "stage", st.id)
		if b.req.Disconnect != nil {
			b.req.Disconnect()
		}
	}
}

func (s *Service) leaseHookOf() func(string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.leaseHook
}

// CloseAbandoned ends, once in the cluster, each broadcast another node ran
// and lost without ending it (that node killed or its machine lost), as that
// node itself would at its next start (closeLostBroadcasts): the stage's
// disconnect time is written and the stopped event goes out (Owncast's
// STREAM_STOPPED, chat, federation). Without it the survivors reported the
// stage offline once presence forgot the node, with no disconnect time and
// no stopped event for as long as the node stayed away. A stage counts as
// abandoned once this node saw it live elsewhere, no node counts its
// broadcast now, and its stored disconnect is older than its connect; the
// node that takes the stage's publish lease (lapsed with its dead node, or
// released by a node that ended its broadcast and wrote the disconnect
// first) checks and writes it, so only one does, and none for a broadcast
// that ended as it should. Run calls it every 5 s.
func (s *Service) CloseAbandoned(ctx context.Context) {
	c := s.cfg.Viewers
	if c == nil {
		return
	}
	for _, st := range s.allStages() {
		st.mu.Lock()
		if st.cur != nil || c.Count(st.broadcastKey()) > 0 {
			st.liveElsewhere = st.cur == nil
			st.mu.Unlock()
			continue
		}
		check := st.liveElsewhere
		st.mu.Unlock()
		if check && s.closeAbandoned(ctx, st) {
			st.mu.Lock()
			st.liveElsewhere = false
			st.mu.Unlock()
		}
	}
}

// closeAbandoned is CloseAbandoned for one stage; it reports whether the
// stage is settled (closed here, or found closed) rather than to be
// checked again (its lease still held: the ingest node still ending it, or
// not yet lapsed).
func (s *Service) closeAbandoned(ctx context.Context, st *stage) bool {
	now := s.cfg.Now()
	session := identity.NewID()
	held, err := s.st.ClaimPublishLease(ctx, st.id, s.leaseNode, session, now, now.Add(publishLeaseTTL))
	if err != nil || !held {
		return false
	}
	defer func() {
		if err := s.st.ReleasePublishLease(context.WithoutCancel(ctx), st.id, s.leaseNode, session); err != nil {
			s.log.Warn("live: cannot release the stage's publish lease", "stage", st.id, "err", err)
		}
	}()
	x, err := s.st.Stage(ctx, st.id)
	if err != nil {
		return false
	}
	if !x.broadcastOpen() {
		return true
	}
	end := s.cfg.Now().UTC()
	if err := s.endLost(ctx, st, end); err != nil {
		s.log.Warn("live: cannot record the disconnect time of a broadcast lost on another node", "stage", st.id, "err", err)
		return false
	}
	start := *x.LastConnect
	s.log.Info("live: a broadcast was lost with the node running it; its disconnect time is now", "stage", st.id)
	s.publish(st, EventStopped, func(e *Event) { e.StartedAt, e.EndedAt = &start, &end })
	return true
}
