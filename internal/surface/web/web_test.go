package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

// fakeAdmins accepts admin/abc123 and rate-limits "limited".
type fakeAdmins struct{}

func (fakeAdmins) CheckAdminBasic(_ context.Context, u, p, _ string) (*identity.Account, error) {
	switch {
	case u == "admin" && p == "abc123":
		return &identity.Account{ID: "admin", IsAdmin: true}, nil
	case u == "limited":
		return nil, &fault.Error{Kind: fault.RateLimited, Msg: "slow down", RetryAfter: 90 * time.Second}
	}
	return nil, fault.New(fault.Unauthorized, "no")
}

// AdminSession accepts the token "admin-session" only.
func (fakeAdmins) AdminSession(_ context.Context, tok string) (*identity.Account, error) {
	if tok == "admin-session" {
		return &identity.Account{ID: "admin", IsAdmin: true}, nil
	}
	return nil, fault.New(fault.Unauthorized, "no")
}

func testMux(t *testing.T) *http.ServeMux {
	t.Helper()
	files := fstest.MapFS{
		"index.html":             {Data: []byte("<!doctype html><title>Hearth</title>")},
		"favicon.svg":            {Data: []byte("<svg/>")},
		"assets/index-abc123.js": {Data: []byte("console.log(1)")},
	}
	s, err := New(Deps{Files: files, Admins: fakeAdmins{}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	// An API route beside the catch-all, as in the real server.
	mux.HandleFunc("GET /servers", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	s.Register(mux)
	return mux
}

func TestServe(t *testing.T) {
	t.Parallel()
	mux := testMux(t)
	tests := []struct {
		name, method, path string
		status             int
		body               string
		header             map[string]string
	}{
		{"root is the app", "GET", "/", 200, "<title>Hearth</title>", map[string]string{"Cache-Control": "no-cache", "Content-Type": "text/html; charset=utf-8"}},
		{"client route falls back to index", "GET", "/c/abc/def", 200, "<title>Hearth</title>", nil},
		{"admin redirects to admin/", "GET", "/admin", 301, "", map[string]string{"Location": "/admin/"}},
		{"admin UI asks for Basic auth", "GET", "/admin/", 401, "Unauthorized", map[string]string{"WWW-Authenticate": `Basic realm="Hearth admin"`}},
		{"admin section asks for Basic auth", "GET", "/admin/chat/messages", 401, "", nil},
		{"embed video", "GET", "/embed/video", 200, "<title>Hearth</title>", map[string]string{"Content-Security-Policy": "frame-ancestors *"}},
		{"embed readwrite chat", "GET", "/embed/chat/readwrite", 200, "<title>Hearth</title>", nil},
		{"embed chat redirects to readonly", "GET", "/embed/chat", 307, "", map[string]string{"Location": "/embed/chat/readonly"}},
		{"hashed asset is immutable", "GET", "/assets/index-abc123.js", 200, "console.log(1)", map[string]string{"Cache-Control": "immutable"}},
		{"missing hashed asset is 404", "GET", "/assets/index-old.js", 404, "", nil},
		{"plain static file", "GET", "/favicon.svg", 200, "<svg/>", map[string]string{"Cache-Control": "max-age=3600"}},
		{"unknown API path is a JSON 404", "GET", "/api/nope", 404, `"error"`, map[string]string{"Content-Type": "application/json"}},
		{"unknown HLS path is a 404", "GET", "/hls/9/x.ts", 404, "", nil},
		{"unknown NodeInfo path is a JSON 404", "GET", "/nodeinfo/2.0", 404, `"error"`, map[string]string{"Content-Type": "application/json"}},
		{"unknown well-known path is a JSON 404", "GET", "/.well-known/nope", 404, `"error"`, map[string]string{"Content-Type": "application/json"}},
		{"POST to an unknown API path is a JSON 404", "POST", "/api/nope", 404, `"error"`, map[string]string{"Content-Type": "application/json"}},
		{"DELETE to an unknown well-known path is a JSON 404", "DELETE", "/.well-known/x", 404, `"error"`, map[string]string{"Content-Type": "application/json"}},
		{"OPTIONS to an unknown NodeInfo path is a JSON 404", "OPTIONS", "/nodeinfo/x", 404, `"error"`, map[string]string{"Content-Type": "application/json"}},
		{"API route wins over the catch-all", "GET", "/servers", 401, "", nil},
		{"HEAD works", "HEAD", "/rooms", 200, "", nil},
		{"POST is not served", "POST", "/", 405, "", nil},
		{"path traversal is cleaned by the mux", "GET", "/../../etc/passwd", 307, "", map[string]string{"Location": "/etc/passwd"}},
		{"dotfile-like path is the app", "GET", "/.env", 200, "<title>Hearth</title>", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tt.method, "http://hearth.test"+tt.path, nil)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d (body %q)", rec.Code, tt.status, rec.Body.String())
			}
			if tt.body != "" && !strings.Contains(rec.Body.String(), tt.body) {
				t.Fatalf("body %q lacks %q", rec.Body.String(), tt.body)
			}
			for k, v := range tt.header {
				if got := rec.Header().Get(k); !strings.Contains(got, v) {
					t.Fatalf("%s = %q, want it to contain %q", k, got, v)
				}
			}
		})
	}
}

// TestGzip: text assets go out gzipped to clients that take it, as is to
// the others, and the body is the same file either way.
func TestGzip(t *testing.T) {
	t.Parallel()
	js := strings.Repeat("console.log('hearth');\n", 200)
	files := fstest.MapFS{
		"index.html":       {Data: []byte("<!doctype html><title>Hearth</title>")},
		"assets/app-1.js":  {Data: []byte(js)},
		"assets/tiny-1.js": {Data: []byte("1")},
		"assets/img-1.png": {Data: bytes.Repeat([]byte{0}, 4096)},
	}
	s, err := New(Deps{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Register(mux)
	tests := []struct {
		name, path, accept string
		gzipped            bool
	}{
		{"gzip accepted", "/assets/app-1.js", "br, gzip, deflate", true},
		{"gzip with q", "/assets/app-1.js", "gzip;q=0.8", true},
		{"gzip refused", "/assets/app-1.js", "gzip;q=0", false},
		{"no Accept-Encoding", "/assets/app-1.js", "", false},
		{"too small to bother", "/assets/tiny-1.js", "gzip", false},
		{"binary is never gzipped", "/assets/img-1.png", "gzip", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest("GET", tt.path, nil)
			if tt.accept != "" {
				req.Header.Set("Accept-Encoding", tt.accept)
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != 200 {
				t.Fatalf("status %d", rec.Code)
			}
			got := rec.Body.Bytes()
			if enc := rec.Header().Get("Content-Encoding"); (enc == "gzip") != tt.gzipped {
				t.Fatalf("Content-Encoding %q, want gzipped=%v", enc, tt.gzipped)
			}
			if tt.gzipped {
				zr, err := gzip.NewReader(bytes.NewReader(got))
				if err != nil {
					t.Fatal(err)
				}
				if got, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
				if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
					t.Fatalf("Content-Type %q", ct)
				}
			}
			want, _ := fs.ReadFile(files, strings.TrimPrefix(tt.path, "/"))
			if !bytes.Equal(got, want) {
				t.Fatalf("body differs from the file (%d vs %d bytes)", len(got), len(want))
			}
		})
	}
}

// TestAdminAuth mirrors Owncast's own API suite (010_auth): /admin is a
// 301, and every admin page is 401 without the admin's credentials and 200
// with them.
func TestAdminAuth(t *testing.T) {
	t.Parallel()
	mux := testMux(t)
	paths := []string{"/admin/", "/admin/config/general/", "/admin/config-video", "/admin/chat/messages", "/admin/viewer-info/",
		"/admin/stream-health", "/admin/hardware-info/"}
	tests := []struct {
		name       string
		user, pass string
		status     int
	}{
		{"no credentials", "", "", 401},
		{"wrong password", "admin", "nope", 401},
		{"right credentials", "admin", "abc123", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, p := range paths {
				req := httptest.NewRequest("GET", p, nil)
				if tt.user != "" {
					req.SetBasicAuth(tt.user, tt.pass)
				}
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, req)
				if rec.Code != tt.status {
					t.Fatalf("%s: status %d, want %d", p, rec.Code, tt.status)
				}
				if tt.status == 200 && !strings.Contains(rec.Body.String(), "<title>Hearth</title>") {
					t.Fatalf("%s: not the app: %q", p, rec.Body.String())
				}
				if tt.status == 401 && (strings.Contains(rec.Body.String(), "<title>Hearth</title>") ||
					strings.Contains(rec.Body.String(), "<script")) {
					t.Fatalf("%s: the app leaked without auth", p)
				}
				// Its sign-in link comes back to the page asked for, not
				// the overview.
				if next := `href="/login?next=` + url.QueryEscape(p) + `"`; tt.status == 401 && !strings.Contains(rec.Body.String(), next) {
					t.Fatalf("%s: no %s in %q", p, next, rec.Body.String())
				}
			}
		})
	}
}

// TestAdminAuthLimited: while identity's sign-in limit refuses the
// attempt, the admin UI answers 429 with Retry-After and no Basic
// challenge (so the browser does not ask again at once), and never the app.
func TestAdminAuthLimited(t *testing.T) {
	t.Parallel()
	mux := testMux(t)
	req := httptest.NewRequest("GET", "/admin/", nil)
	req.SetBasicAuth("limited", "abc123")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "90" || rec.Header().Get("WWW-Authenticate") != "" {
		t.Fatalf("limited: %d %v", rec.Code, rec.Header())
	}
	if strings.Contains(rec.Body.String(), "<title>") {
		t.Fatal("the app leaked while limited")
	}
}

// TestSecurityHeaders checks the CSP on pages: no inline script or style,
// no framing by other sites except for the embeds.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	mux := testMux(t)
	for _, p := range []string{"/", "/live", "/admin/", "/embed/video"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", p, nil)
		req.SetBasicAuth("admin", "abc123")
		mux.ServeHTTP(rec, req)
		csp := rec.Header().Get("Content-Security-Policy")
		if csp == "" || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Fatalf("%s: CSP %q", p, csp)
		}
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "object-src 'none'") {
			t.Fatalf("%s: CSP %q is not strict", p, csp)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s: no nosniff", p)
		}
		embed := strings.HasPrefix(p, "/embed/")
		if framed := strings.Contains(csp, "frame-ancestors 'self'"); framed == embed {
			t.Fatalf("%s: frame-ancestors wrong in %q", p, csp)
		}
	}
}

func TestNewNeedsIndex(t *testing.T) {
	t.Parallel()
	if _, err := New(Deps{Files: fstest.MapFS{"x.js": {Data: []byte("")}}}); err == nil {
		t.Fatal("New accepted a build without index.html")
	}
}

// TestEmbeddedBuild checks the committed build is the real app: index.html
// loads only external hashed assets (the CSP forbids inline script).
func TestEmbeddedBuild(t *testing.T) {
	t.Parallel()
	index, err := embedded.ReadFile("dist/index.html")
	if err != nil {
		t.Fatal(err)
	}
	html := string(index)
	if !strings.Contains(html, `<script type="module" crossorigin src="/assets/`) {
		t.Fatalf("index.html does not load a hashed module: %s", html)
	}
	if strings.Count(html, "<script") != 1 {
		t.Fatalf("index.html has inline scripts: %s", html)
	}
	if strings.Contains(html, "style=") || strings.Contains(html, "<style") {
		t.Fatalf("index.html has inline styles: %s", html)
	}
}

// TestAdminPageSession: /admin/ opens for an admin's app session (the
// hearth_admin cookie) without Basic credentials; a cookie that is not an
// admin's live session gets the Basic challenge, as no cookie does.
func TestAdminPageSession(t *testing.T) {
	t.Parallel()
	mux := testMux(t)
	for _, c := range []struct {
		name, cookie string
		status       int
	}{
		{"admin session", "admin-session", 200},
		{"other token", "someone-else", 401},
		{"empty", "", 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest("GET", "http://hearth.test/admin/users", nil)
			if c.cookie != "" {
				req.AddCookie(&http.Cookie{Name: AdminCookie, Value: c.cookie})
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d", rec.Code, c.status)
			}
			if c.status == 200 && !strings.Contains(rec.Body.String(), "<title>Hearth</title>") {
				t.Fatalf("body %q is not the app", rec.Body.String())
			}
			if c.status == 401 && rec.Header().Get("WWW-Authenticate") != `Basic realm="Hearth admin"` {
				t.Fatalf("challenge %q", rec.Header().Get("WWW-Authenticate"))
			}
			if c.status == 401 && !strings.Contains(rec.Body.String(), `href="/login?next=%2Fadmin%2Fusers"`) {
				t.Fatalf("the 401 page does not lead to the app's sign-in: %q", rec.Body.String())
			}
		})
	}
}
