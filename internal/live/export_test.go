package live

// SetDrainHook makes every broadcast's end call f after the stage has gone
// offline and before the pipeline drains (tests hold the drain with it).
func (s *Service) SetDrainHook(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drainHook = f
}

// SetLeaseHook makes every publish call f after it has reserved the stage
// on this node and before it claims the stage's publish lease (tests hold a
// publish there while another node's publish runs).
func (s *Service) SetLeaseHook(f func(stageID string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leaseHook = f
}
