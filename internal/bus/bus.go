// Package bus is Hearth's topic publish/subscribe: domain services publish
// events, surfaces and gateways subscribe. Two kinds implement it: Local (in
// process, the default) and NATS (scale-out across nodes).
//
// Topics are dot-separated tokens ("messages.channel.<id>"): no empty tokens
// and no whitespace. Subscriptions may use NATS wildcards: "*" matches exactly
// one token, ">" (last token only) matches one or more tokens; a wildcard
// counts only as a whole token. Publish topics contain no wildcards. Both
// implementations honour the same rules and run the same contract suite
// (bustest).
package bus

import (
	"context"
	"errors"
)

// Message is one published event.
type Message struct {
	Topic string
	Data  []byte
}

// Handler receives messages for a subscription. Handlers for one
// subscription are called one at a time, on that subscription's own
// goroutine, in publish order per publisher; a handler must not block for
// long. Publishers never wait for handlers: each subscription has a bounded
// queue, and when its handler falls too far behind, further messages for it
// are dropped (a slow consumer, as in NATS core).
//
// Message.Data may be shared with other subscriptions and must not be
// modified; it stays valid after the handler returns. A handler may Publish,
// Subscribe, Unsubscribe its own or another subscription, and Close the bus,
// but must not wait for another handler to finish.
type Handler func(Message)

// Subscription is an active interest in a topic pattern.
type Subscription interface {
	// Unsubscribe stops delivery; after it returns no more calls are made
	// (called from the subscription's own handler, it returns at once and
	// that call is the last). It is idempotent and returns nil after the
	// bus is closed.
	Unsubscribe() error
}

// Bus is the topic pub/sub every domain service publishes on.
type Bus interface {
	// Publish sends data on topic; data is not retained, so the caller may
	// reuse it at once. It returns ErrBadTopic for an invalid topic,
	// ErrClosed after Close, and ctx's error if ctx is already done.
	Publish(ctx context.Context, topic string, data []byte) error
	// Subscribe calls h for every message whose topic matches pattern,
	// published after Subscribe returns. It returns ErrBadTopic for an
	// invalid pattern and ErrClosed after Close.
	Subscribe(pattern string, h Handler) (Subscription, error)
	// Ping reports whether the bus is usable (for /healthz).
	Ping(ctx context.Context) error
	// Close ends every subscription and waits until no handler is running
	// (except the caller, when a handler closes the bus). Later Publish,
	// Subscribe and Ping return ErrClosed; Close again returns nil.
	Close() error
}

// ErrClosed is returned by operations on a closed bus.
var ErrClosed = errors.New("bus: closed")

// ErrBadTopic is returned for an empty topic or pattern, empty tokens,
// whitespace, wildcards in a publish topic, or ">" before a pattern's last
// token.
var ErrBadTopic = errors.New("bus: invalid topic")
