package live

import (
	"context"
	"errors"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
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
