package ott_test

import (
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestUsernameCarriesNoMarkup shows POST /api/user stores the shown name with
// markup stripped (the one identity rule), and refuses a name with nothing
// left as it refuses an empty one.
func TestUsernameCarriesNoMarkup(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{db: storetest.OpenSQLite})
	tok := h.grant()
	if r := h.do("POST", "/api/user", tok, map[string]any{"username": `<img src=x onerror=alert(1)>quokka <b>fan</b>`}); r.status != 200 {
		t.Fatalf("rename: %d %s", r.status, r.raw)
	}
	if r := h.do("GET", "/api/user", tok, nil); r.body["username"] != "quokka fan" {
		t.Fatalf("stored name: %s", r.raw)
	}
	if r := h.do("POST", "/api/user", tok, map[string]any{"username": "<script>alert(1)</script>"}); r.status != 400 {
		t.Fatalf("markup-only name: %d %s", r.status, r.raw)
	}
	if r := h.do("GET", "/api/user", tok, nil); r.body["username"] != "quokka fan" {
		t.Fatalf("name after refused rename: %s", r.raw)
	}
}
