package bus

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// prefixToken is what a namespace may be: one subject token of letters,
// digits, '-' and '_' (no dots, no wildcards).
var prefixToken = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// CheckPrefix reports whether p can namespace a bus.
func CheckPrefix(p string) error {
	if !prefixToken.MatchString(p) {
		return fmt.Errorf("%w: prefix %q must be 1-64 letters, digits, '-' or '_'", ErrBadTopic, p)
	}
	return nil
}

// Prefixed is a Bus whose topics all live under "<prefix>." on the bus it
// wraps, so deployments that share one NATS server (or cluster) never see
// each other's events. Callers publish and subscribe with unprefixed
// topics and receive unprefixed topics: the prefix exists only on the wire.
type Prefixed struct {
	Bus
	prefix string // with the trailing dot
}

// WithPrefix namespaces b under prefix (see CheckPrefix).
func WithPrefix(b Bus, prefix string) (*Prefixed, error) {
	if err := CheckPrefix(prefix); err != nil {
		return nil, err
	}
	return &Prefixed{Bus: b, prefix: prefix + "."}, nil
}

// Publish publishes on "<prefix>.<topic>".
func (p *Prefixed) Publish(ctx context.Context, topic string, data []byte) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	return p.Bus.Publish(ctx, p.prefix+topic, data)
}

// Subscribe subscribes to "<prefix>.<pattern>"; h sees topics without the
// prefix.
func (p *Prefixed) Subscribe(pattern string, h Handler) (Subscription, error) {
	if err := checkPattern(pattern); err != nil {
		return nil, err
	}
	return p.Bus.Subscribe(p.prefix+pattern, func(m Message) {
		m.Topic = strings.TrimPrefix(m.Topic, p.prefix)
		h(m)
	})
}
