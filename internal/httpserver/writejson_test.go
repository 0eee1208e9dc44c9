package httpserver

import (
	"math"
	"net/http/httptest"
	"testing"
)

// TestWriteJSONRefusesWhatJSONCannotCarry: a value JSON cannot encode
// (+Inf) is answered 500 with an error body, not the caller's status with
// an empty body (a playback window summed to +Inf made the admin's video
// metrics an empty 200). Anything else is written as before.
func TestWriteJSONRefusesWhatJSONCannotCarry(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	WriteJSON(rec, 200, map[string]any{"v": math.Inf(1)})
	if rec.Code != 500 || rec.Body.String() != `{"error":"Internal server error","message":"Internal server error"}`+"\n" {
		t.Fatalf("+Inf answered %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	WriteJSON(rec, 201, map[string]any{"a": "<b>", "n": 1.5})
	if rec.Code != 201 || rec.Body.String() != `{"a":"\u003cb\u003e","n":1.5}`+"\n" || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("a plain value answered %d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
}

// TestWriteJSONSaysNosniff: every JSON answer carries nosniff, success or
// error (the Owncast and OTT surfaces answered without it).
func TestWriteJSONSaysNosniff(t *testing.T) {
	t.Parallel()
	for _, v := range []any{map[string]any{"title": "<script>x</script>"}, math.NaN()} {
		rec := httptest.NewRecorder()
		WriteJSON(rec, 200, v)
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Fatalf("WriteJSON(%v): X-Content-Type-Options = %q", v, got)
		}
	}
}
