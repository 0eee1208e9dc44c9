package together_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/together"
)

// TestCORS: Together's web client built with VITE_API_URL pointing at
// another origin preflights and then calls the API; allowed origins get the
// CORS headers (PUT included, which the client uses for reactions and
// roles), others do not.
func TestCORS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0], func(d *together.Deps) { d.AllowedOrigins = []string{"localhost:5173", "*.example.org"} })
	ann := e.register("ann")
	do := func(method, path, origin, auth string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, e.url+path, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	pre := map[string]string{"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "authorization,content-type"}
	for _, c := range []struct {
		name, method, path, origin string
		hdr                        map[string]string
		status                     int
		allow                      string
	}{
		{"preflight, allowed", "OPTIONS", "/api/channels/0190a000-0000-7000-8000-000000000000/messages/0190a000-0000-7000-8000-000000000001/reactions/x", "http://localhost:5173", pre, 200, "http://localhost:5173"},
		{"preflight, bare path, wildcard pattern", "OPTIONS", "/auth/login", "https://chat.example.org", pre, 200, "https://chat.example.org"},
		{"preflight, other origin", "OPTIONS", "/api/auth/login", "https://evil.test", pre, 200, ""},
		{"request, allowed", "GET", "/api/users/@me", "http://localhost:5173", nil, 200, "http://localhost:5173"},
		{"request, other origin", "GET", "/api/users/@me", "https://evil.test", nil, 200, ""},
		{"request, not http", "GET", "/api/users/@me", "null", nil, 200, ""},
		{"error responses carry it too", "GET", "/api/servers/0190a000-0000-7000-8000-000000000000", "http://localhost:5173", nil, 404, "http://localhost:5173"},
	} {
		resp := do(c.method, c.path, c.origin, ann.access, c.hdr)
		if resp.StatusCode != c.status || resp.Header.Get("Access-Control-Allow-Origin") != c.allow {
			t.Errorf("%s: %d %q, want %d %q", c.name, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), c.status, c.allow)
		}
		if c.method == "OPTIONS" && c.allow != "" {
			if m := resp.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "PUT") || !strings.Contains(m, "PATCH") ||
				!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "authorization") {
				t.Errorf("%s: methods %q headers %q", c.name, m, resp.Header.Get("Access-Control-Allow-Headers"))
			}
		}
		if c.allow != "" && resp.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("%s: credentials allowed", c.name)
		}
	}
	// Without configured origins nothing is allowed cross-origin.
	plain := newEnv(t, storetest.Engines()[0])
	req, _ := http.NewRequest("OPTIONS", plain.url+"/api/auth/login", nil)
	req.Header.Set("Origin", "http://localhost:5173")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("default allows %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
}
