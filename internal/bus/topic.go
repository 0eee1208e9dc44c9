package bus

import (
	"fmt"
	"strings"
)

// Wildcard tokens, as in NATS.
const (
	wildOne  = "*" // exactly one token
	wildTail = ">" // one or more tokens; last token only
)

// checkTopic validates a publish topic: non-empty dot-separated tokens, no
// whitespace, and no wildcard tokens. The rules are those of a NATS publish
// subject, so a topic valid here is valid on every Bus.
func checkTopic(topic string) error {
	return check(topic, false)
}

// checkPattern validates a subscription pattern: like a topic, but "*" may be
// any token and ">" may be the last one. As in NATS, a wildcard only counts as
// one when it is a whole token ("a.b*" is a literal token).
func checkPattern(pattern string) error {
	return check(pattern, true)
}

func check(s string, wildcards bool) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrBadTopic)
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("%w: %q contains whitespace", ErrBadTopic, s)
	}
	rest := s
	for {
		tok, tail, more := strings.Cut(rest, ".")
		switch {
		case tok == "":
			return fmt.Errorf("%w: %q has an empty token", ErrBadTopic, s)
		case !wildcards && (tok == wildOne || tok == wildTail):
			return fmt.Errorf("%w: %q: wildcards are not allowed in a publish topic", ErrBadTopic, s)
		case tok == wildTail && more:
			return fmt.Errorf("%w: %q: %q must be the last token", ErrBadTopic, s, wildTail)
		}
		if !more {
			return nil
		}
		rest = tail
	}
}
