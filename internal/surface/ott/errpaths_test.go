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
