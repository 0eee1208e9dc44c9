package live

import (
	"context"
	"errors"

	"github.com/hearth-community/hearth/internal/fault"
)

// PublishGate says whether the holder of a community stage channel's
// stream key may still stream to its stage (StageChannels: they still
// manage the channel). The default stage's keys have no holder and are
// not asked about.
type PublishGate interface {
	MayPublish(ctx context.Context, stageID, accountID string) error
}

// SetPublishGate installs the gate publishing with a held key asks (the
// node wires StageChannels). Without one, held keys are taken as they are.
func (s *Service) SetPublishGate(g PublishGate) {
	s.mu.Lock()
	s.gate = g
	s.mu.Unlock()
}

func (s *Service) gateOf() PublishGate {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.gate
}

// errKeyHolder refuses a held key whose holder may no longer stream.
var errKeyHolder = fault.New(fault.Forbidden, "this stream key's holder may no longer stream to this stage")

// mayPublish checks the holder of the key a publisher used ("" for an
// instance key: accepted).
func (s *Service) mayPublish(ctx context.Context, stageID, holder string) error {
	if holder == "" {
		return nil
	}
	g := s.gateOf()
	if g == nil {
		return nil
	}
	if err := g.MayPublish(ctx, stageID, holder); err != nil {
		if k := fault.KindOf(err); k == fault.Forbidden || k == fault.NotFound {
			return errKeyHolder
		}
		return fault.Wrap(fault.Unavailable, "cannot check the stream key right now", err)
	}
	return nil
}

// HolderStreamKey is the stream key of stage stageID issued to accountID
// (a manager of a community stage channel): theirs alone, so that one who
// stops managing the channel stops being able to stream with it. One is
// issued when they have none, or anew (replacing theirs, not the others')
// with rotate.
func (s *Service) HolderStreamKey(ctx context.Context, stageID, accountID string, rotate bool) (string, error) {
	if accountID == "" {
		return "", fault.New(fault.Invalid, "a held stream key needs its holder")
	}
	if stageID == s.def.id {
		return "", fault.New(fault.Invalid, "the default stage's keys are the instance admin's")
	}
	if _, err := s.stage(stageID); err != nil {
		return "", err
	}
	for range 3 {
		if !rotate {
			key, err := s.st.HolderKey(ctx, stageID, accountID)
			if !errors.Is(err, fault.NotFound) {
				return key, err
			}
		}
		key := randomKey()
		err := s.st.SetHolderKey(ctx, stageID, accountID, key, "Stream key")
		if err == nil {
			return key, nil
		}
		if !errors.Is(err, fault.Conflict) {
			return "", err
		}
		rotate = false // another request issued one meanwhile: read it
	}
	return "", fault.New(fault.Conflict, "the stream key is changing; try again")
}

// HeldBroadcast is a broadcast on this node with a held key: the stage and the
// key's holder.
type HeldBroadcast struct {
	StageID, Holder string
}

// HeldBroadcasts lists the broadcasts on this node whose key has a holder.
func (s *Service) HeldBroadcasts() []HeldBroadcast {
	s.mu.RLock()
	stages := make([]*stage, 0, len(s.stages))
	for _, st := range s.stages {
		stages = append(stages, st)
	}
	s.mu.RUnlock()
	var out []HeldBroadcast
	for _, st := range stages {
		st.mu.Lock()
		if b := st.cur; b != nil && b.holder != "" {
			out = append(out, HeldBroadcast{StageID: st.id, Holder: b.holder})
		}
		st.mu.Unlock()
	}
	return out
}

// EndHeldBroadcast disconnects the publisher of stageID's broadcast when
// it streams with holder's key (their right to stream is gone).
func (s *Service) EndHeldBroadcast(stageID, holder string) bool {
	s.mu.RLock()
	st := s.stages[stageID]
	s.mu.RUnlock()
	if st == nil {
		return false
	}
	st.mu.Lock()
	b := st.cur
	st.mu.Unlock()
	if b == nil || b.holder != holder || b.req.Disconnect == nil {
		return false
	}
	b.req.Disconnect()
	return true
}
