package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCustomFrontEnd: --web-dir serves another project's built SPA (OTT's
// client/dist) through os.Root, with index.html fallback, a CSP that lets
// such builds run (eval, inline styles) but still no inline scripts, and a
// symlink out of the directory refused.
func TestCustomFrontEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "assets"), 0o755); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!doctype html><title>other client</title>"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "assets", "app.js"), []byte("console.log(1)"), 0o644))
	secret := filepath.Join(t.TempDir(), "secret.txt")
	must(os.WriteFile(secret, []byte("top secret"), 0o644))
	must(os.Symlink(secret, filepath.Join(dir, "assets", "leak.txt")))
	root, err := os.OpenRoot(dir)
	must(err)
	t.Cleanup(func() { root.Close() })
	// A symlink out of the directory is refused when the front end loads,
	// not followed.
	if _, err := New(Deps{Files: root.FS(), Custom: true}); err == nil || !strings.Contains(err.Error(), "escapes") {
		t.Fatalf("symlink out of --web-dir: %v", err)
	}
	must(os.Remove(filepath.Join(dir, "assets", "leak.txt")))

	for _, custom := range []bool{true, false} {
		s, err := New(Deps{Files: root.FS(), Custom: custom})
		must(err)
		mux := http.NewServeMux()
		s.Register(mux)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		get := func(p string) (*http.Response, string) {
			res, err := http.Get(srv.URL + p)
			must(err)
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res, string(b)
		}
		res, body := get("/room/movie-night")
		csp := res.Header.Get("Content-Security-Policy")
		if res.StatusCode != 200 || !strings.Contains(body, "other client") {
			t.Fatalf("fallback: %d %q", res.StatusCode, body)
		}
		if strings.Contains(csp, "'unsafe-inline'") && strings.Contains(csp[strings.Index(csp, "script-src"):strings.Index(csp, "style-src")], "unsafe-inline") {
			t.Fatalf("inline scripts allowed: %s", csp)
		}
		if got := strings.Contains(csp, "'unsafe-eval'"); got != custom {
			t.Fatalf("custom=%v: CSP %s", custom, csp)
		}
		if res, body := get("/assets/app.js"); res.StatusCode != 200 || body != "console.log(1)" {
			t.Fatalf("asset: %d %q", res.StatusCode, body)
		}
	}
}
