package together_test

import (
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestStoredURLsAreHTTP shows avatar_url and icon_url accept http(s) URLs
// only: javascript:, data: and other schemes are answered 400 in Together's
// error shape and change nothing.
func TestStoredURLsAreHTTP(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			alice := e.register("alice")
			srv, _ := e.must(201, "POST", "/servers", alice.access, map[string]any{"name": "home", "icon_url": "https://example.org/i.png"})
			sid := srv["id"].(string)
			for _, bad := range []string{"javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,<script>x</script>", "file:///etc/passwd", "//example.org/x.png"} {
				obj, _ := e.must(400, "PATCH", "/users/@me", alice.access, map[string]any{"avatar_url": bad, "bio": "changed"})
				if obj["error"] != "avatar_url must be an http(s) URL" {
					t.Fatalf("avatar %q: %v", bad, obj)
				}
				obj, _ = e.must(400, "POST", "/servers", alice.access, map[string]any{"name": "x", "icon_url": bad})
				if obj["error"] != "icon_url must be an http(s) URL" {
					t.Fatalf("create icon %q: %v", bad, obj)
				}
				e.must(400, "PATCH", "/servers/"+sid, alice.access, map[string]any{"icon_url": bad})
			}
			me, _ := e.must(200, "GET", "/users/@me", alice.access, nil)
			if me["avatar_url"] != nil || me["bio"] != nil {
				t.Fatalf("refused update changed the profile: %v", me)
			}
			got, _ := e.must(200, "GET", "/servers/"+sid, alice.access, nil)
			if got["icon_url"] != "https://example.org/i.png" {
				t.Fatalf("icon changed: %v", got)
			}
			me, _ = e.must(200, "PATCH", "/users/@me", alice.access, map[string]any{"avatar_url": "https://example.org/a.png"})
			if me["avatar_url"] != "https://example.org/a.png" {
				t.Fatalf("good avatar: %v", me)
			}
			e.must(200, "PATCH", "/users/@me", alice.access, map[string]any{"avatar_url": ""})
		})
	}
}
