// Package embeds serves the Together routes that fetch from the outside
// world for a message: link previews (GET /link-preview) and GIF search
// (GET /giphy/search), both through the SSRF-safe egress client.
package embeds

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/ratelimit"
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
	// MaxFetches bounds the fetches both routes make at once on this node
	// (default 16), FetchWait how long a request waits for a turn (5 s).
	MaxFetches int
	FetchWait  time.Duration
}

// API serves the routes.
type API struct {
	*rest.Base
	cfg      Config
	previews previewCache
	// fetches are the turns of outside fetches: a fetch holds up to the
	// egress body cap (1 MiB in app) while the far end sends it, and any member
	// may ask for previews of pages they choose, as many at once as they
	// like.
	fetches *ratelimit.Turns
}

// New builds the routes on b.
func New(b *rest.Base, cfg Config) *API {
	if cfg.MaxFetches <= 0 {
		cfg.MaxFetches = 16
	}
	if cfg.FetchWait <= 0 {
		cfg.FetchWait = 5 * time.Second
	}
	return &API{Base: b, cfg: cfg, fetches: ratelimit.NewTurns(cfg.MaxFetches, cfg.FetchWait).PerKey(FetchesPerAccount)}
}

// FetchesPerAccount is how many fetches one account makes or awaits at
// once on a node (past it 429 at once): the node's turns are shared, and a
// member asking previews of pages that answer slowly (their own server's)
// held every turn and the queue behind them, so every other member's
// preview waited out FetchWait and was refused.
const FetchesPerAccount = 2

// fetchTurn waits up to FetchWait for a turn to fetch for accountID; the
// caller runs release when the fetch is read.
func (s *API) fetchTurn(ctx context.Context, accountID string) (release func(), err error) {
	release, err = s.fetches.TakeAs(ctx, accountID)
	switch {
	case errors.Is(err, ratelimit.ErrNoTurn):
		return nil, &fault.Error{Kind: fault.Unavailable, RetryAfter: s.cfg.FetchWait,
			Msg: "The server is busy fetching other pages; try again shortly"}
	case errors.Is(err, ratelimit.ErrOwnTurns):
		return nil, &fault.Error{Kind: fault.RateLimited, RetryAfter: time.Second,
			Msg: fmt.Sprintf("You are fetching too many pages at once. Max %d at once.", FetchesPerAccount)}
	}
	return release, err
}
