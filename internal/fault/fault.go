// Package fault gives domain errors a kind. Domain services return errors
// that carry one of the kinds below; each surface has exactly one function
// that maps a kind to its own status code and error body.
//
//	err := fault.New(fault.NotFound, "server not found")
//	errors.Is(err, fault.NotFound) // true
package fault

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error. A Kind is itself an error, so store code can
// return fault.NotFound directly and callers test with errors.Is.
type Kind int

// The kinds every surface knows how to map.
const (
	Internal Kind = iota
	NotFound
	Invalid
	Unauthorized // no or bad credentials
	Forbidden    // authenticated but not allowed
	Conflict
	RateLimited
	Unavailable
)

var kindNames = [...]string{"internal", "not found", "invalid", "unauthorized", "forbidden", "conflict", "rate limited", "unavailable"}

func (k Kind) Error() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Error is a message with a kind and an optional cause.
type Error struct {
	Kind       Kind
	Msg        string
	Err        error
	RetryAfter time.Duration // for RateLimited
}

func (e *Error) Error() string {
	switch {
	case e.Msg != "" && e.Err != nil:
		return e.Msg + ": " + e.Err.Error()
	case e.Msg != "":
		return e.Msg
	case e.Err != nil:
		return e.Err.Error()
	}
	return e.Kind.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, fault.NotFound) true for an *Error of that kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// New returns an error of kind k with a user-facing message.
func New(k Kind, msg string) error { return &Error{Kind: k, Msg: msg} }

// Newf is New with formatting.
func Newf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap gives err a kind and message, keeping it as the cause.
func Wrap(k Kind, msg string, err error) error { return &Error{Kind: k, Msg: msg, Err: err} }

// KindOf returns the kind of err: the kind of the outermost *Error or Kind in
// its chain, Internal when there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var k Kind
	if errors.As(err, &k) {
		return k
	}
	return Internal
}

// Message returns the user-facing message of err: the Msg of the outermost
// *Error, else the kind's name. Internal errors never leak their text.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != Internal && e.Msg != "" {
		return e.Msg
	}
	return KindOf(err).Error()
}

// ErrNUL refuses text holding a NUL character, which PostgreSQL cannot
// store in a text column: the store refuses it on PostgreSQL whatever the
// field, and the domains check it first where it is common (message bodies,
// reactions) so both engines answer alike.
var ErrNUL = New(Invalid, "Text must not contain NUL characters")

// ErrNotUTF8 refuses text that is not valid UTF-8, which PostgreSQL
// cannot store either (a path or query parameter can carry any bytes; JSON
// bodies cannot).
var ErrNotUTF8 = New(Invalid, "Text must be valid UTF-8")

// ErrTooLong refuses a value larger than the database can keep where it
// is stored (PostgreSQL's program_limit_exceeded: an indexed text past
// the index row size, ~2.7 KB to 8 KB of incompressible text), a value no
// domain bounds below that.
var ErrTooLong = New(Invalid, "Text is too long")
