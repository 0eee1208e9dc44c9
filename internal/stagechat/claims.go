package stagechat

import (
	"context"
	"time"
)

// claimRetention is how long a claim is remembered: far longer than an
// event takes to reach every node.
const claimRetention = 24 * time.Hour

// ClaimOnce reports whether the caller is the first, on any node, to claim
// the event named key. Events every node sees on the bus (a message another
// surface posted into the stage chat) are turned into webhooks by the one
// node that wins the claim, so a delivery happens exactly once.
func (s *Service) ClaimOnce(ctx context.Context, key string) (bool, error) {
	now := s.now().UTC()
	ok, err := s.st.ClaimEvent(ctx, key, now)
	if err != nil {
		return false, err
	}
	if s.claims.Add(1)%256 == 0 {
		if err := s.st.PruneEventClaims(ctx, now.Add(-claimRetention)); err != nil {
			s.log.Warn("prune event claims", "err", err)
		}
	}
	return ok, nil
}

// claimAgain is ClaimOnce for an event that recurs under one key, claimed
// at the time it happened: the caller wins when no node has claimed key
// for a time after at - every.
func (s *Service) claimAgain(ctx context.Context, key string, at time.Time, every time.Duration) (bool, error) {
	return s.st.ClaimEventAgain(ctx, key, at, at.Add(-every))
}
