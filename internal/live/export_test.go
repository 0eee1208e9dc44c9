package live

// SetDrainHook makes every broadcast's end call f after the stage has gone
// offline and before the pipeline drains (tests hold the drain with it).
func (s *Service) SetDrainHook(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drainHook = f
}
