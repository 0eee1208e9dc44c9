package owncast

import "github.com/hearth-community/hearth/internal/httpserver"

// registerChat adds chat, moderation, integrations, webhooks and config
// routes (the stage-chat issue owns the non-live files in this package).
func (s *Surface) registerChat(h *httpserver.Server) {}
