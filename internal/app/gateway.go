package app

import (
	"context"
	"syscall"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/gateway"
	"github.com/hearth-community/hearth/internal/identity"
)

// NewHub builds a WebSocket hub for a surface, fed from the node's bus. Every
// hub made here closes the sockets of a disabled account, a revoked session
// or a revoked token on every node (identity.RevokedTopic), and sends close
// frames on graceful shutdown. Surfaces tag each connection with
// ConnOptions.AccountID and ConnOptions.SessionID = the principal's session
// id, or its token id for bot and integration tokens.
func (a *App) NewHub(cfg gateway.Config, name string) (*gateway.Hub, error) {
	if len(cfg.OriginPatterns) == 0 && !cfg.InsecureSkipVerify {
		cfg.OriginPatterns = a.Config.AllowedOrigins
	}
	if cfg.Life == nil {
		cfg.Life = a.lifeCtx()
	}
	a.hubMu.Lock()
	if a.sockets == nil {
		a.sockets = gateway.NewSockets(socketBudget(), a.Config.MaxSocketsPerIP, a.Config.TrustProxy)
		a.Log.Info("socket budget", "max", a.sockets.Max())
		a.registerSocketMetrics()
	}
	cfg.Sockets = a.sockets
	a.hubMu.Unlock()
	h, err := gateway.New(cfg, busSubscriber(a.Bus), a.Log.With("surface", name))
	if err != nil {
		return nil, err
	}
	a.hubMu.Lock()
	a.hubs = append(a.hubs, h)
	a.hubMu.Unlock()
	a.HTTP.OnShutdown(func(ctx context.Context) { _ = h.Shutdown(ctx) })
	return h, nil
}

// registerSocketMetrics puts the socket budget on /metrics: how many
// sockets are open, the budget, and how many were refused for it.
func (a *App) registerSocketMetrics() {
	reg := a.HTTP.Registry()
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hearth_sockets_open",
			Help: "WebSockets open on this node, every surface together."}, func() float64 { return float64(a.sockets.Open()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hearth_sockets_max",
			Help: "The node's socket budget (0: none); past it upgrades are refused with 503."}, func() float64 { return float64(a.sockets.Max()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hearth_sockets_refused_total",
			Help: "WebSocket upgrades refused because the socket budget was spent."}, func() float64 { return float64(a.sockets.Refused()) }))
}

// openFileLimit is the process's open-file limit (Go raises the soft
// limit to the hard one at start); 0 when it cannot be read or is
// unlimited.
func openFileLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur > 1<<40 {
		return 0
	}
	return int(l.Cur)
}

// socketBudget is how many WebSockets the node's hubs hold at once: the
// open-file limit less a tenth of it, and at least 256, for the database,
// files, HTTP requests and ffmpeg's pipes. 0 (no bound) when the limit is
// unknown.
func socketBudget() int {
	if limit := openFileLimit(); limit > 0 {
		return socketsWithin(limit)
	}
	return 0
}

func socketsWithin(limit int) int {
	return max(limit-max(limit/10, 256), 1)
}

func busSubscriber(b bus.Bus) gateway.Subscriber {
	return gateway.SubscriberFunc(func(p string, h func(string, []byte)) (func() error, error) {
		s, err := b.Subscribe(p, func(m bus.Message) { h(m.Topic, m.Data) })
		if err != nil {
			return nil, err
		}
		return s.Unsubscribe, nil
	})
}

// onRevoked closes the sockets a revocation names, on this node.
func (a *App) onRevoked(r identity.Revoked) {
	if t := a.turn.Load(); t != nil {
		// The embedded TURN server asks again at the credential's next use.
		switch {
		case r.AccountID != "":
			t.Forget(r.AccountID, "")
		case r.SessionID != "":
			t.Forget("", "s"+r.SessionID)
		case r.TokenID != "":
			t.Forget("", "t"+r.TokenID)
		}
	}
	const code = websocket.StatusPolicyViolation
	a.hubMu.Lock()
	hubs := a.hubs
	a.hubMu.Unlock()
	for _, h := range hubs {
		switch {
		case r.AccountID != "":
			h.CloseAccount(r.AccountID, code, "account disabled or signed out")
		case r.SessionID != "":
			h.CloseSession(r.SessionID, code, "session revoked")
		case r.TokenID != "":
			h.CloseSession(r.TokenID, code, "token revoked")
		}
	}
}
