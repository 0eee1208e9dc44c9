package together_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestBadInputNeverFails500 sends malformed ids and bodies to every route
// (as a server owner, so permission checks do not stop them early): each
// answer is a non-5xx status, and every error carries Together's
// {"error": "…"} body.
func TestBadInputNeverFails500(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann := e.register("ann")
	srv, _ := e.must(201, "POST", "/servers", ann.access, map[string]any{"name": "S"})
	param := regexp.MustCompile(`\{[a-z_]+\}`)
	ids := []string{"junk", "00000000-0000-0000-0000-000000000000", srv["id"].(string), "..%2f..%2fetc", "%F0%28%8C%BC"}
	bodies := []any{nil, "{", `{"name": 5, "content": [], "user_id": {}}`, `{"content":"` + strings.Repeat("x", 5000) + `"}`, `[]`, `null`}
	for _, pat := range e.surf.Patterns() {
		method, path, _ := strings.Cut(pat, " ")
		if method == "GET" && path == "/health" {
			continue // 503 is its answer when the database is down
		}
		for _, id := range ids {
			p := param.ReplaceAllString(path, id)
			if strings.HasPrefix(p, "/admin/") {
				p = "/api" + p // bare /admin/* is the web UI's
			}
			for _, body := range bodies {
				if method == "GET" && body != nil {
					continue
				}
				code, obj, _ := e.call(method, p, ann.access, body)
				if code >= 500 {
					t.Errorf("%s %s %v: %d %v", method, p, body, code, obj)
				}
				if code >= 400 && obj["error"] == nil {
					t.Errorf("%s %s: %d without an error body", method, p, code)
				}
			}
		}
	}
}
