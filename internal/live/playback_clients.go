package live

import (
	"slices"
	"strings"
)

// PlaybackClient is one player's latest report in the current window.
type PlaybackClient struct {
	ViewerID string // MD5(IP + User-Agent), as viewers are counted
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
			out = append(out, PlaybackClient{ViewerID: id, PlaybackReport: r.PlaybackReport})
		}
	}
	slices.SortFunc(out, func(a, b PlaybackClient) int { return strings.Compare(a.ViewerID, b.ViewerID) })
	return out, nil
}
