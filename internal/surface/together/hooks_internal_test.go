package together

// SetReadySent installs a hook that runs after READY is written and before
// the client is marked ready (tests widen that window with it).
func SetReadySent(s *Surface, f func()) { s.readySent = f }
