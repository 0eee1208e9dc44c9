package httpserver

import (
	"encoding/json"
	"errors"
	"io"
)

// ErrJSONTrailing is ReadJSONValue's answer for a body with anything but
// space after its JSON value (a stray } or ] too, which Decoder.More
// passes).
var ErrJSONTrailing = errors.New("data after the JSON value")

// ReadJSONValue reads a request body that must hold one JSON value: the
// value as it was sent, checked well-formed, and ErrJSONTrailing beside it
// when more follows. Any other error (the body unreadable or past its
// bound, malformed, io.EOF for an empty one) comes without a value. The
// caller decodes the value into its request type with its own strictness,
// and refuses null, which decodes into anything as nothing, in its
// surface's words.
func ReadJSONValue(body io.Reader) (json.RawMessage, error) {
	dec := json.NewDecoder(body)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return raw, ErrJSONTrailing
	}
	return raw, nil
}
