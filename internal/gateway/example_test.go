package gateway_test

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/gateway"
)

// A surface's socket handler: authenticate before upgrading, tag the
// connection, subscribe with a per-connection filter and encoder, then read.
func Example() {
	var sub gateway.Subscriber = gateway.SubscriberFunc(func(string, func(string, []byte)) (func() error, error) {
		return func() error { return nil }, nil
	})
	hub, err := gateway.New(gateway.Config{IdleTimeout: 300 * time.Second}, sub, slog.Default())
	if err != nil {
		return
	}
	serverCtx := context.Background() // the app's Run(ctx) context

	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		accountID := r.URL.Query().Get("user") // real code: validate the token, 401 before upgrading
		c, err := hub.Accept(w, r, gateway.ConnOptions{AccountID: accountID, Codec: gateway.NewlineBatch{}})
		if err != nil {
			return // Accept already answered (403, 503, …)
		}
		canSee := func(topic string) bool { return true } // membership check from a cache
		if err := c.Subscribe("messages.channel.*", func(topic string, data []byte) ([]byte, bool) {
			if !canSee(topic) {
				return nil, false
			}
			return data, true // real code: encode the domain event in the surface's wire format
		}); err != nil {
			c.Close(websocket.StatusInternalError, "")
		}
		_ = c.Run(serverCtx, func(ctx context.Context, typ websocket.MessageType, data []byte) error {
			// decode, dispatch to domain services, reply with c.Send(...)
			return nil
		})
	})

	_ = mux // served by the app's one HTTP server

	// On an account ban: hub.CloseAccount(id, 4003, "account disabled").
	// On exit: hub.Shutdown(ctx).
}
