package voice

// HoldNegotiation takes the lock a participant's subscribe negotiation
// holds across pion's CreateOffer and SetRemoteDescription (and that
// joins, leaves and subscriptions take), as a slow renegotiation would,
// and returns its release.
func HoldNegotiation(p *Participant) (release func()) {
	p.mu.Lock()
	return p.mu.Unlock
}
