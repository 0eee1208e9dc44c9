package watch

import (
	"errors"

	"github.com/hearth-community/hearth/internal/fault"
)

// Code names a watch error precisely enough for a surface to pick its own
// exception name for it.
type Code string

// Error codes.
const (
	CodeRoomNotFound        Code = "room-not-found"
	CodeRoomNameTaken       Code = "room-name-taken"
	CodeVideoAlreadyQueued  Code = "video-already-queued"
	CodeVideoNotFound       Code = "video-not-found"
	CodePermissionDenied    Code = "permission-denied"
	CodeClientNotFound      Code = "client-not-found"
	CodeBadArgument         Code = "bad-argument"
	CodeFeatureDisabled     Code = "feature-disabled"
	CodeImpossiblePromotion Code = "impossible-promotion"
	CodeUnsupportedSubtitle Code = "unsupported-subtitle"
	CodeBanned              Code = "banned"
	CodeInvalid             Code = "invalid"
)

// Error is a watch domain error: a fault kind, a code and a message; Arg
// and Reason describe a bad argument.
type Error struct {
	Kind   fault.Kind
	Code   Code
	Msg    string
	Arg    string
	Reason string
}

func (e *Error) Error() string { return e.Msg }

// Is makes errors.Is(err, fault.Forbidden) and friends work.
func (e *Error) Is(target error) bool {
	k, ok := target.(fault.Kind)
	return ok && k == e.Kind
}

// Unwrap exposes a fault.Error with the same kind and message, so
// fault.KindOf and fault.Message work on watch errors.
func (e *Error) Unwrap() error { return &fault.Error{Kind: e.Kind, Msg: e.Msg} }

// CodeOf returns err's watch code, or "" when it has none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func newErr(k fault.Kind, c Code, msg string) error { return &Error{Kind: k, Code: c, Msg: msg} }

// PermissionDenied is the error for a missing permission.
func PermissionDenied(p Permission) error {
	return newErr(fault.Forbidden, CodePermissionDenied, "Permission denied: "+p.Name())
}

// BadArgument is the error for an invalid request argument.
func BadArgument(arg, reason string) error {
	return &Error{Kind: fault.Invalid, Code: CodeBadArgument, Msg: "Bad argument: " + arg + ": " + reason, Arg: arg, Reason: reason}
}

// ErrRoomNotFound is returned for a room that does not exist.
var ErrRoomNotFound = newErr(fault.NotFound, CodeRoomNotFound, "Room not found")

// ErrBanned refuses an account barred from the room.
var ErrBanned = newErr(fault.Forbidden, CodeBanned, "You are banned from this room.")

func isNotFound(err error) bool { return errors.Is(err, fault.NotFound) }
