package owncast

import (
	"net/http"
	"time"

	"github.com/hearth-community/hearth/internal/httpserver"
)

// Routes of Owncast 0.2 that need no new domain rules: the admin's view of
// the players' reports, the integration's status, and the RTMP bind
// address setter (refused: the address is the --rtmp-addr flag).
func (s *Surface) register02(h *httpserver.Server) {
	if s.d.Live != nil {
		s.admin(h, "GET /api/admin/viewers/playback", s.handlePlaybackClients)
		h.Handle("GET /api/integrations/status", s.requireIntegration(scopeAdmin, s.handleStatus))
	}
	if s.d.Chat != nil {
		s.admin(h, "POST /api/admin/config/rtmpserverbindaddress", s.handleRTMPBindAddress)
	}
}

// handlePlaybackClients is GET /api/admin/viewers/playback: each player's
// latest report in the current 2-minute window.
func (s *Surface) handlePlaybackClients(w http.ResponseWriter, r *http.Request) {
	cs, err := s.d.Live.PlaybackClients(s.stageID())
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]map[string]any, 0, len(cs))
	for _, c := range cs {
		// source and lastUpdate are required by Owncast's newest spec; every
		// measure Hearth keeps comes from the player's own reports.
		out = append(out, map[string]any{"clientID": c.ViewerID, "viewerID": c.ViewerID,
			"firstSeen": c.FirstSeen.Format(time.RFC3339Nano), "userAgent": c.UserAgent, "ipAddress": c.IP,
			"playback": map[string]any{"source": "client", "lastUpdate": c.LastUpdate.Format(time.RFC3339Nano),
				"bandwidthKbps": c.Bandwidth, "latencySeconds": c.Latency, "downloadSeconds": c.DownloadDuration,
				"errorCount": c.Errors, "qualityVariantChanges": c.QualityVariantChanges}})
	}
	httpserver.WriteJSON(w, http.StatusOK, out)
}

// handleRTMPBindAddress is POST /api/admin/config/rtmpserverbindaddress.
// Hearth binds RTMP from its --rtmp-addr flag at startup; storing an
// address nothing would use is refused (docs/compatibility.md).
func (s *Surface) handleRTMPBindAddress(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Value *string `json:"value"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	writeResult(w, http.StatusBadRequest, false, "the RTMP bind address is set with --rtmp-addr (HEARTH_RTMP_ADDR) and a restart; it cannot be changed here")
}
