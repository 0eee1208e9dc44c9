// Package bus is Hearth's topic publish/subscribe: domain services publish
// events, surfaces and gateways subscribe. Two kinds implement it: Local (in
// process, the default) and NATS (scale-out across nodes).
//
// Topics are dot-separated tokens ("messages.channel.<id>"). Subscriptions may
// use NATS wildcards: "*" matches exactly one token, ">" (last token only)
// matches one or more tokens. Both implementations honour the same rules and
// run the same contract suite (bustest).
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
// subscription are called one at a time, in publish order per publisher;
// a handler must not block for long.
type Handler func(Message)

// Subscription is an active interest in a topic pattern.
type Subscription interface {
	// Unsubscribe stops delivery; after it returns no more calls are made.
	Unsubscribe() error
}

// Bus is the topic pub/sub every domain service publishes on.
type Bus interface {
	Publish(ctx context.Context, topic string, data []byte) error
	Subscribe(pattern string, h Handler) (Subscription, error)
	// Ping reports whether the bus is usable (for /healthz).
	Ping(ctx context.Context) error
	Close() error
}

// ErrClosed is returned by operations on a closed bus.
var ErrClosed = errors.New("bus: closed")

// ErrBadTopic is returned for an empty topic, empty tokens, or wildcards in a
// publish topic.
var ErrBadTopic = errors.New("bus: invalid topic")
