package identity

// HoldHashSlots takes every argon2id slot until the returned function runs.
func HoldHashSlots(s *Service) (release func()) {
	for range cap(s.hashing) {
		s.hashing <- struct{}{}
	}
	return func() {
		for range cap(s.hashing) {
			<-s.hashing
		}
	}
}

// HashSlotWaiters is how many callers wait for an argon2id slot.
func HashSlotWaiters(s *Service) int { return int(s.slotWaiters.Load()) }
