package owncast

import "github.com/hearth-community/hearth/internal/httpserver"

// registerLive adds the stream status, video and HLS routes (the
// live-streaming issue owns live*.go in this package).
func (s *Surface) registerLive(h *httpserver.Server) {}
