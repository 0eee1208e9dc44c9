package app_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/app"
	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/gateway"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

func testConfig(t *testing.T) config.Config {
	dir := t.TempDir()
	return config.Config{Addr: "127.0.0.1:0", DataDir: dir, Database: filepath.Join(dir, "hearth.db"), Bus: "local",
		AdminUser: "admin", AdminPassword: "adminpassword", AccessTokenTTL: 15 * time.Minute, RefreshTokenTTL: 7 * 24 * time.Hour,
		LogLevel: "info", LogFormat: "text", MaxBodyBytes: 1 << 20, ShutdownTimeout: 5 * time.Second}
}

// start builds and runs a node; it returns the node and a stop function
// that waits for Run to return.
func start(t *testing.T, cfg config.Config, extra func(a *app.App)) (*app.App, func() error) {
	t.Helper()
	storetest.SeedNode(t, cfg.DatabaseDSN())
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if extra != nil {
		extra(a)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	// Every call waits for the one stop: a test that stops the node in a
	// goroutine must not have its data directory removed (t.TempDir's
	// cleanup) while the node is still closing.
	stop := sync.OnceValue(func() error {
		cancel()
		err := <-done
		a.Close()
		return err
	})
	t.Cleanup(func() { _ = stop() })
	return a, stop
}

func TestHealthzOnEveryEngine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(t *testing.T, c *config.Config)
	}{
		{"sqlite+local", func(*testing.T, *config.Config) {}},
		{"postgres+nats", func(t *testing.T, c *config.Config) {
			c.Database = storetest.PostgresDSN(t)
			if u := natsURL(); u != "" {
				c.Bus = u
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			tc.edit(t, &cfg)
			a, stop := start(t, cfg, nil)
			res, err := http.Get(a.HTTP.URL() + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("healthz = %d", res.StatusCode)
			}
			res, err = http.Get(a.HTTP.URL() + "/metrics")
			if err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("metrics: %v %v", err, res)
			}
			res.Body.Close()
			if err := stop(); err != nil {
				t.Fatalf("graceful stop: %v", err)
			}
		})
	}
}

// TestRevocationAndShutdownCloseSockets: disabling an account closes its
// open sockets at once; a graceful shutdown sends the rest a 1001 close.
func TestRevocationAndShutdownCloseSockets(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	var hub *gateway.Hub
	a, stop := start(t, cfg, func(a *app.App) {
		var err error
		if hub, err = a.NewHub(gateway.Config{}, "test"); err != nil {
			t.Fatal(err)
		}
		a.HTTP.HandleFunc("GET /test/ws", func(w http.ResponseWriter, r *http.Request) {
			p, err := a.Identity.Authenticate(r.Context(), r.URL.Query().Get("token"))
			if err != nil {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			c, err := hub.Accept(w, r, gateway.ConnOptions{AccountID: p.Account.ID, SessionID: p.SessionID})
			if err != nil {
				return
			}
			_ = c.Run(r.Context(), func(context.Context, websocket.MessageType, []byte) error { return nil })
		})
	})
	ctx := context.Background()
	mk := func(name string) (*identity.Account, *websocket.Conn) {
		acct, err := a.Identity.Register(ctx, identity.RegisterInput{Username: name, Password: "password1"})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := a.Identity.OpenSession(ctx, acct, "")
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := websocket.Dial(ctx, "ws"+a.HTTP.URL()[4:]+"/test/ws?token="+tok.AccessToken, nil)
		if err != nil {
			t.Fatal(err)
		}
		return acct, c
	}
	bad, c1 := mk("mallory")
	_, c2 := mk("alice")
	if _, err := a.Identity.SetDisabled(ctx, bad.ID, true); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, hangGuard)
	defer cancel()
	_, _, err := c1.Read(rctx)
	if st := websocket.CloseStatus(err); st != websocket.StatusPolicyViolation {
		t.Fatalf("disabled account's socket: got %v, want close 1008", err)
	}
	go func() { _ = stop() }()
	_, _, err = c2.Read(rctx)
	if st := websocket.CloseStatus(err); st != websocket.StatusGoingAway {
		t.Fatalf("shutdown: got %v, want close 1001", err)
	}
	if errors.Is(rctx.Err(), context.DeadlineExceeded) {
		t.Fatal("timed out")
	}
}
