// Package embeds serves the Together routes that fetch from the outside
// world for a message: link previews (GET /link-preview) and GIF search
// (GET /giphy/search), both through the SSRF-safe egress client.
package embeds

import (
	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/surface/together/rest"
)

// Config is what the routes fetch with.
type Config struct {
	// Egress fetches pages and Giphy (nil: both routes answer 503).
	Egress *egress.Client
	// GiphyAPIKey enables /giphy/search; GiphyBase overrides Giphy's URL
	// (tests).
	GiphyAPIKey string
	GiphyBase   string
}

// API serves the routes.
type API struct {
	*rest.Base
	cfg      Config
	previews previewCache
}

// New builds the routes on b.
func New(b *rest.Base, cfg Config) *API { return &API{Base: b, cfg: cfg} }
