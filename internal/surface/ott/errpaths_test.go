package ott_test

import (
	"strings"
	"testing"
)

// errMsg is the error body's message.
func (r resp) errMsg() string {
	e, _ := r.body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// TestVoteAndUndoOnUnknownRoom: OTT's vote and undo look for the caller's
// client in the room, never for the room, so a room that does not exist is
// 400 ClientNotFoundInRoomException naming the room as the path does (not
// 404 RoomNotFoundException), and the admin apikey without a token is a
// plain OttException, named Error, "Missing token" (PATCH too, before the
// room is looked up).
func TestVoteAndUndoOnUnknownRoom(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	tok := h.grant()
	vote := map[string]any{"service": "direct", "id": "https://example.com/a.mp4"}
	for _, tc := range []struct{ method, path string }{
		{"POST", "/api/room/NoSuchRoom/vote"},
		{"DELETE", "/api/room/NoSuchRoom/vote"},
		{"POST", "/api/room/NoSuchRoom/undo"},
	} {
		var body any = vote
		if strings.HasSuffix(tc.path, "undo") {
			body = map[string]any{"data": map[string]any{"event": map[string]any{}}}
		}
		r := h.do(tc.method, tc.path, tok, body)
		if r.status != 400 || r.errName() != "ClientNotFoundInRoomException" || !strings.Contains(r.errMsg(), `in the room "NoSuchRoom" associated`) {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, r.status, r.raw)
		}
	}
	h.createRoom(tok, "errpaths", nil)
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/room/errpaths/vote", vote},
		{"POST", "/api/room/errpaths/undo", map[string]any{"data": map[string]any{"event": map[string]any{}}}},
		{"PATCH", "/api/room/errpaths", map[string]any{"title": "x"}},
		{"PATCH", "/api/room/nosuchroom", map[string]any{"title": "x"}},
		{"PATCH", "/api/room/errpaths", map[string]any{"claim": true}},
	} {
		r := h.do(tc.method, tc.path, "", tc.body, "apikey", testAPIKey)
		if r.status != 400 || r.errName() != "Error" || r.errMsg() != "Missing token" {
			t.Errorf("apikey, no token: %s %s: %d %s", tc.method, tc.path, r.status, r.raw)
		}
	}
	if r := h.do("GET", "/api/room/errpaths", tok, nil); r.body["title"] != "" {
		t.Errorf("the apikey without a token changed the room: %s", r.raw)
	}
}

// TestRoomSchemaErrorsWordedAsZod: a new room's name, visibility and queue
// mode are refused with the words and issue codes of OTT's zod schema (its
// CreateRoomForm shows the message): every issue of the name, joined by
// "; ", and an enum's "Invalid enum value. Expected …, received '…'".
func TestRoomSchemaErrorsWordedAsZod(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	tok := h.grant()
	issue := func(r resp) map[string]any {
		e, _ := r.body["error"].(map[string]any)
		d, _ := e["details"].([]any)
		if len(d) == 0 {
			return nil
		}
		m, _ := d[0].(map[string]any)
		return m
	}
	for _, tc := range []struct {
		body      map[string]any
		msg, code string
	}{
		{map[string]any{}, `Validation error: Required at "name"`, "invalid_type"},
		{map[string]any{"name": "ab"}, `Validation error: too short, must be atleast 3 characters at "name"`, "too_small"},
		{map[string]any{"name": strings.Repeat("a", 33)}, `Validation error: too long, must be at most 32 characters at "name"`, "too_big"},
		{map[string]any{"name": "a b c"}, `Validation error: Invalid at "name"`, "invalid_string"},
		{map[string]any{"name": "a!"}, `Validation error: too short, must be atleast 3 characters at "name"; Invalid at "name"`, "too_small"},
		{map[string]any{"name": "list"}, `Validation error: not allowed (reserved) at "name"`, "custom"},
		{map[string]any{"name": "zodroom", "visibility": "nope"}, `Validation error: Invalid enum value. Expected 'public' | 'unlisted' | 'private', received 'nope' at "visibility"`, "invalid_enum_value"},
		{map[string]any{"name": "zodroom", "queueMode": "nope"}, `Validation error: Invalid enum value. Expected 'manual' | 'vote' | 'loop' | 'dj', received 'nope' at "queueMode"`, "invalid_enum_value"},
	} {
		r := h.do("POST", "/api/room/create", tok, tc.body)
		if r.status != 400 || r.errName() != "ZodValidationError" || r.errMsg() != tc.msg || issue(r)["code"] != tc.code {
			t.Errorf("create %v: %d %s\nwant message %s, code %s", tc.body, r.status, r.raw, tc.msg, tc.code)
		}
	}
	h.createRoom(tok, "zodroom", nil)
	for _, tc := range []struct {
		body      map[string]any
		msg, code string
	}{
		{map[string]any{"visibility": "nope"}, `Validation error: Invalid enum value. Expected 'public' | 'unlisted' | 'private', received 'nope' at "visibility"`, "invalid_enum_value"},
		{map[string]any{"queueMode": "nope"}, `Validation error: Invalid enum value. Expected 'manual' | 'vote' | 'loop' | 'dj', received 'nope' at "queueMode"`, "invalid_enum_value"},
		{map[string]any{"title": 5}, `Validation error: Expected string, received number at "title"`, "invalid_type"},
		{map[string]any{"foo": 1}, `Validation error: Unrecognized key(s) in object: 'foo'`, "unrecognized_keys"},
	} {
		r := h.do("PATCH", "/api/room/zodroom", tok, tc.body)
		if r.status != 400 || r.errName() != "ZodValidationError" || r.errMsg() != tc.msg || issue(r)["code"] != tc.code {
			t.Errorf("patch %v: %d %s\nwant message %s, code %s", tc.body, r.status, r.raw, tc.msg, tc.code)
		}
	}
}

// TestPatchAccountWrongTypeIsValidationError: OTT's PATCH
// /api/user/account parses its schema itself and answers every refusal of
// it as ValidationError with the first issue's message, a field of the
// wrong type included (not the ZodValidationError of the room routes).
func TestPatchAccountWrongTypeIsValidationError(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	tok := h.grant()
	if r := h.do("POST", "/api/user/register", tok, map[string]any{"username": "typeduser", "password": "Passw0rdLong"}); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	for _, tc := range []struct {
		body map[string]any
		msg  string
	}{
		{map[string]any{"email": 5}, "Expected string, received number"},
		{map[string]any{"newPassword": true}, "Expected string, received boolean"},
		{map[string]any{"email": "bad"}, "Invalid email"},
		{map[string]any{}, "At least one field must be provided"},
	} {
		r := h.do("PATCH", "/api/user/account", tok, tc.body)
		if r.status != 400 || r.errName() != "ValidationError" || r.errMsg() != tc.msg {
			t.Errorf("%v: %d %s, want ValidationError %q", tc.body, r.status, r.raw, tc.msg)
		}
	}
}
