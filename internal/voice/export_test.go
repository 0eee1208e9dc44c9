package voice

import (
	"encoding/json"
	"time"
)

// HoldNegotiation takes the lock a participant's subscribe negotiation
// holds across pion's CreateOffer and SetRemoteDescription (and that
// joins, leaves and subscriptions take), as a slow renegotiation would,
// and returns its release.
func HoldNegotiation(p *Participant) (release func()) {
	p.mu.Lock()
	return p.mu.Unlock
}

// WhileBridging runs f in the window of bridgeTo between making a mesh
// bridge's connection and registering the bridge, with the SFU
// participant the bridge stands for.
func WhileBridging(s *SFU, f func(target string)) { s.bridging = f }

// PublishesMic reports whether account publishes a microphone in the
// channel's room.
func PublishesMic(s *SFU, channelID, account string) bool {
	s.mu.Lock()
	var p *Participant
	if r := s.rooms[channelID]; r != nil {
		p = r.members[account]
	}
	s.mu.Unlock()
	return p != nil && len(s.micsOf(p)) > 0
}

// SourcesKept is how many track sources p keeps for tracks yet to arrive.
func SourcesKept(p *Participant) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sources)
}

// ProxyMembers is the list of its room that a proxy keeps, and the list's
// version on the room's node.
func ProxyMembers(p *Participant) ([]ParticipantInfo, uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ParticipantInfo{}, p.members...), p.membersVer
}

// DeliverNotice hands proxy p a notice as if its room's node had sent it
// over the bus.
func DeliverNotice(s *SFU, p *Participant, n Notice) {
	b, _ := json.Marshal(noticeMsg{Session: p.remote.session, Notice: n})
	s.onRemoteNotice(b)
}

// SetGoLiveClock makes r read the time from now.
func SetGoLiveClock(r *GoLiveRules, now func() time.Time) { r.now = now }
