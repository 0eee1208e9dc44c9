package live

import (
	"slices"
	"strings"
	"time"
)

// PlaybackClient is one player's latest report in the current window.
type PlaybackClient struct {
	ViewerID              string // MD5(IP + User-Agent), as viewers are counted
	IP, UserAgent         string
	FirstSeen, LastUpdate time.Time // first and latest report in the window
	PlaybackReport
}

// PlaybackClients lists the players that reported in the current window
// (Owncast's admin viewers/playback), by viewer id.
func (s *Service) PlaybackClients(stageID string) ([]PlaybackClient, error) {
	if _, err := s.stage(stageID); err != nil {
		return nil, err
	}
	p := s.playback()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []PlaybackClient{}
	if ps := p.stages[stageID]; ps != nil {
		for id, r := range ps.cur {
			out = append(out, PlaybackClient{ViewerID: id, IP: r.ip, UserAgent: r.userAgent, FirstSeen: r.firstSeen, LastUpdate: r.lastUpdate, PlaybackReport: r.PlaybackReport})
		}
	}
	slices.SortFunc(out, func(a, b PlaybackClient) int { return strings.Compare(a.ViewerID, b.ViewerID) })
	return out, nil
}
