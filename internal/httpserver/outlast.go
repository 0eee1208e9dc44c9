package httpserver

import (
	"context"
	"net/http"
	"time"
)

// ClientGoneGrace is how long a write goes on after its client hung up.
const ClientGoneGrace = 30 * time.Second

// outlastClient is the context of a write (any method but GET, HEAD and
// OPTIONS): the client hanging up does not cancel it. net/http cancels a
// request's context when its connection closes, so a browser that saved a
// new password and left the page at once lost the change, or, hanging up
// between storing the hash and signing out the account's other sessions,
// kept the new password with those sessions still signed in; the servers
// Hearth speaks for (OpenTogetherTube's Express, Owncast's and Together's
// handlers) run a request to its end whatever the client does. The context
// still ends with life (the server's: once its shutdown has waited for the
// requests in flight) and ClientGoneGrace after the client went, and keeps
// the request's values. done releases it; call it when the handler returns.
func outlastClient(client, life context.Context) (ctx context.Context, done func()) {
	ctx, cancel := context.WithCancel(context.WithValue(context.WithoutCancel(client), clientKey{}, client))
	stopLife := context.AfterFunc(life, cancel)
	stopClient := context.AfterFunc(client, func() {
		select {
		case <-ctx.Done(): // the handler returned, or life ended
		case <-time.After(ClientGoneGrace):
			cancel()
		}
	})
	return ctx, func() {
		stopClient()
		stopLife()
		cancel()
	}
}

type clientKey struct{}

// WhileClientWaits is r's context ending as well when r's client hangs up
// (or at once when it already has), for a write whose only product is
// its answer: a WebRTC offer's session, which nobody connects to once the
// client that would read the answer is gone (a WHIP publish that outlasted
// its client went live with no one sending, and refused the publisher's
// retry until it timed out). Other writes outlast their client
// (outlastClient). Call cancel when done.
func WhileClientWaits(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	client, ok := r.Context().Value(clientKey{}).(context.Context)
	if !ok {
		return ctx, cancel
	}
	stop := context.AfterFunc(client, cancel)
	return ctx, func() { stop(); cancel() }
}
