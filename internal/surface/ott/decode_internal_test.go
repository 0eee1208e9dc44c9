package ott

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDecodeOneValue: a JSON body is one object (or array) and nothing
// after it, as OTT's strict body parser takes. null was read as no body
// (PATCH /api/room/{name} answered 200) and a value followed by more was
// read as that value alone; both are OTT's 400 for a malformed body.
// Trailing whitespace is fine.
func TestDecodeOneValue(t *testing.T) {
	t.Parallel()
	for body, ok := range map[string]bool{
		`{"title":"t"}`: true, " {\"title\":\"t\"}\n": true,
		`null`: false, ` null `: false, `{"title":"t"}x`: false, `{"title":"t"}}`: false, `{"title":"t"}{}`: false,
		`{} 1`: false,
	} {
		r := httptest.NewRequest("PATCH", "/api/room/x", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var in struct {
			Title *string `json:"title"`
		}
		err := decode(r, &in)
		var ae *apiError
		switch {
		case ok && (err != nil || in.Title == nil || *in.Title != "t"):
			t.Errorf("%q: %v %v, want title t", body, err, in.Title)
		case !ok && (!errors.As(err, &ae) || ae.status != 400 || ae.body.Name != "ZodValidationError"):
			t.Errorf("%q: %v, want OTT's 400 for a malformed body", body, err)
		}
	}
}
