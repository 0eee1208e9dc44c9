package owncast_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestDirectoryRegistration: with config/directoryenabled on, the server
// pings the directory with its URL, keeps the key the directory returns and
// sends it back; /api/admin/yp/reset forgets it; /api/yp answers.
func TestDirectoryRegistration(t *testing.T) {
	t.Parallel()
	type ping struct{ Key, URL string }
	pings := make(chan ping, 1000)
	dir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/ping" || r.Method != "POST" {
			http.NotFound(w, r)
			return
		}
		var p ping
		_ = json.NewDecoder(r.Body).Decode(&p)
		select {
		case pings <- p:
		default:
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "key": "registered-key"})
	}))
	t.Cleanup(dir.Close)
	n := newNode(t, nodeOpts{directoryURL: dir.URL})
	if r := n.do(t, "GET", "/api/yp", "", nil); r.status != 404 {
		t.Fatalf("/api/yp while disabled: %d", r.status)
	}
	for path, v := range map[string]any{"/api/admin/config/serverurl": "https://live.example", "/api/admin/config/directoryenabled": true} {
		if r := n.do(t, "POST", path, "admin", map[string]any{"value": v}); r.status != 200 {
			t.Fatalf("%s: %d", path, r.status)
		}
	}
	next := func(want func(ping) bool) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case p := <-pings:
				if want(p) {
					return
				}
			case <-deadline:
				t.Fatal("the expected directory ping never came")
			}
		}
	}
	next(func(p ping) bool { return p.URL == "https://live.example" && p.Key == "" })
	next(func(p ping) bool { return p.Key == "registered-key" })
	if r := n.do(t, "POST", "/api/admin/yp/reset", "admin", nil); r.status != 200 {
		t.Fatalf("reset: %d %s", r.status, r.body)
	}
	next(func(p ping) bool { return p.Key == "" })
	if r := n.do(t, "GET", "/api/yp", "", nil); r.status != 200 {
		t.Fatalf("/api/yp: %d", r.status)
	}
}
