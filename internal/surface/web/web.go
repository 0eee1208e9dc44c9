// Package web serves Hearth's own web app: the Svelte single-page app built
// from web/ into dist/ and embedded in the binary. Every GET that no API
// route claims falls back to index.html, so the app's client-side routes
// (/c/…, /room/…, /live, /admin, Owncast's /embed/… paths) load directly.
//
// The app speaks to Hearth only through the public APIs (Together, OTT,
// Owncast); this package holds no product logic, only static serving with a
// strict Content-Security-Policy and cache headers.
package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"embed"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/ratelimit"
)

//go:embed dist
var embedded embed.FS

// Router is what the surface registers its routes on (*httpserver.Server).
type Router interface {
	Handle(pattern string, h http.Handler)
}

// SharedRouter is a Router whose patterns several surfaces may share
// (httpserver.Server): the admin pages are then the fallback of
// "GET /admin/{path...}", which Together's bare instance-admin routes share.
type SharedRouter interface {
	Router
	HandleWhen(pattern string, match func(*http.Request) bool, h http.Handler)
}

// Deps are the surface's dependencies.
type Deps struct {
	Log *slog.Logger
	// Files overrides the embedded build: a custom front end from
	// --web-dir (e.g. OpenTogetherTube's own client), or tests; nil uses
	// dist/.
	Files fs.FS
	// Custom marks Files as a third-party front end: its pages get the same
	// CSP except that inline styles, eval and data: fonts are allowed (see
	// cspCustom). Inline scripts stay refused.
	Custom bool
	// Admins checks the instance admin's Basic credentials (Owncast's admin
	// scheme; identity's one rule): the admin UI under /admin/ is behind
	// it, as Owncast's is. It answers an error of kind fault.RateLimited
	// (with its RetryAfter) while the sign-in limit refuses the attempt.
	// Nil refuses everyone.
	Admins AdminChecker
	// TrustProxy takes the client address from X-Forwarded-For (for the
	// sign-in limit).
	TrustProxy bool
}

// AdminChecker is what the web surface needs from identity.
type AdminChecker interface {
	CheckAdminBasic(ctx context.Context, user, pass, addr string) (*identity.Account, error)
	// AdminSession accepts an access token of a live session of an
	// instance admin, expired or not (identity.Service.AdminSession).
	AdminSession(ctx context.Context, token string) (*identity.Account, error)
}

// AdminCookie is the cookie the web app sets, on the /admin path only, to
// the access token of its signed-in session, so that an admin signed in to
// the app opens /admin/ without a second sign-in at the Basic prompt. It
// opens only the app's shell (the same bytes as /): every admin call is
// authorised on its own.
const AdminCookie = "hearth_admin"

// Surface serves the web app.
type Surface struct {
	log   *slog.Logger
	csp   string
	admin func(*http.Request) error
	gz    map[string][]byte // gzip of compressible assets, made once at start
	files fs.FS
	index []byte
	mod   time.Time
}

// New loads the embedded build; it fails when the build has no index.html
// (run `make web`).
func New(d Deps) (*Surface, error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	files := d.Files
	if files == nil {
		sub, err := embeddedFiles()
		if err != nil {
			return nil, err
		}
		files = sub
	}
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		return nil, fmt.Errorf("web: the build has no index.html (run make web): %w", err)
	}
	admin := func(*http.Request) error { return fault.New(fault.Unauthorized, "no admin") }
	if d.Admins != nil {
		admin = func(r *http.Request) error {
			user, pass, ok := r.BasicAuth()
			if !ok {
				if c, err := r.Cookie(AdminCookie); err == nil && c.Value != "" && len(c.Value) <= 4096 {
					if _, err := d.Admins.AdminSession(r.Context(), c.Value); err == nil {
						return nil
					}
				}
				return fault.New(fault.Unauthorized, "Basic credentials required")
			}
			_, err := d.Admins.CheckAdminBasic(r.Context(), user, pass, ratelimit.ClientIP(r, d.TrustProxy))
			return err
		}
	}
	var gz map[string][]byte
	if d.Files == nil {
		gz, err = embeddedGzip()
	} else {
		gz, err = compressAssets(files)
	}
	if err != nil {
		return nil, err
	}
	csp := cspBase
	if d.Custom {
		csp = cspCustom
	}
	return &Surface{log: d.Log, csp: csp, admin: admin, gz: gz, files: files, index: index, mod: time.Now()}, nil
}

// embeddedGzip is compressAssets of the embedded build, done once per
// process: the build never changes while it runs, and a process that starts
// several nodes (tests, a second node on one machine) compressed it again for
// each at best compression.
var embeddedGzip = sync.OnceValues(func() (map[string][]byte, error) {
	sub, err := embeddedFiles()
	if err != nil {
		return nil, err
	}
	return compressAssets(sub)
})

// embeddedFiles is the embedded build's directory.
func embeddedFiles() (fs.FS, error) {
	sub, err := fs.Sub(embedded, "dist")
	if err != nil {
		return nil, fmt.Errorf("web: embedded build: %w", err)
	}
	return sub, nil
}

// compressAssets gzips the text assets (scripts, styles, SVG) once, so
// each request is a map lookup: the main bundle shrinks to about a third.
func compressAssets(files fs.FS) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch path.Ext(p) {
		case ".js", ".css", ".svg", ".json", ".txt", ".map":
		default:
			return nil
		}
		raw, err := fs.ReadFile(files, p)
		if err != nil || len(raw) < 1024 {
			return err
		}
		var buf bytes.Buffer
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			return err
		}
		if _, err := zw.Write(raw); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		if buf.Len() < len(raw) {
			out[p] = buf.Bytes()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: compress assets: %w", err)
	}
	return out, nil
}

// acceptsGzip reports whether the client takes gzip (and did not refuse it
// with q=0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// Register adds the routes: "GET /" is the catch-all (the most general
// pattern, so every API route wins over it), plus the admin UI and Owncast's
// embed paths, which must not be claimed by any API.
func (s *Surface) Register(r Router) {
	h := httpserver.Recover(s.log, writeError, http.HandlerFunc(s.serve))
	r.Handle("GET /", h)
	// Owncast: /admin redirects to /admin/, and every admin page asks for
	// Basic auth (its API test suite checks both).
	r.Handle("GET /admin", http.RedirectHandler("/admin/", http.StatusMovedPermanently))
	admin := httpserver.Recover(s.log, writeError, http.HandlerFunc(s.serveAdmin))
	if sr, ok := r.(SharedRouter); ok {
		// The fallback of a shared pattern: Together's instance-admin
		// GETs (/admin/stats, …) take the requests with a Bearer token.
		sr.HandleWhen("GET /admin/{path...}", nil, admin)
	} else {
		r.Handle("GET /admin/{path...}", admin)
	}
	r.Handle("GET /embed/video", h)
	r.Handle("GET /embed/chat/readonly", h)
	r.Handle("GET /embed/chat/readwrite", h)
	r.Handle("GET /embed/chat", http.RedirectHandler("/embed/chat/readonly", http.StatusTemporaryRedirect))
	// Other methods on an API path no route claims: a JSON 404 too, not
	// the mux's plain-text 405 (which "GET /" above would cause).
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "Not found")
	})
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
		for _, pre := range []string{"/api/", "/nodeinfo/", "/.well-known/"} {
			r.Handle(m+" "+pre, notFound)
		}
	}
}

// apiPrefixes are path prefixes that belong to the APIs: an unknown path
// under them is a 404 in JSON, never the app's HTML (a client calling a
// route Hearth lacks must not get a 200 page).
var apiPrefixes = []string{"/api/", "/hls/", "/ws", "/public/", "/.well-known/", "/nodeinfo/", "/federation/", "/files/", "/emojis/", "/img/"}

func (s *Surface) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	for _, pre := range apiPrefixes {
		if strings.HasPrefix(p, pre) || p == strings.TrimSuffix(pre, "/") {
			writeError(w, r, http.StatusNotFound, "Not found")
			return
		}
	}
	s.setSecurityHeaders(w, p)
	name := strings.TrimPrefix(path.Clean(p), "/")
	if name != "" && name != "index.html" && fs.ValidPath(name) {
		if s.serveFile(w, r, name) {
			return
		}
		// A missing hashed asset is a 404, not the app: a stale page asking
		// for last release's chunk should fail loudly and reload.
		if strings.HasPrefix(name, "assets/") {
			http.Error(w, "Not found", http.StatusNotFound)
			return
		}
	}
	s.serveIndex(w, r)
}

// serveAdmin serves the app to the instance admin only: an admin's app
// session (AdminCookie) or Basic credentials; without either the browser
// gets the Basic challenge and asks for them.
func (s *Surface) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if err := s.admin(r); err != nil {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		var fe *fault.Error
		if errors.As(err, &fe) && fe.Kind == fault.RateLimited {
			// Too many wrong passwords: no challenge, so the browser
			// does not ask again at once.
			ratelimit.SetRetryAfter(w.Header(), ratelimit.Decision{RetryAfter: fe.RetryAfter})
			http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="`+identity.AdminRealm+`"`)
		// What the browser shows when the prompt is cancelled: the way in
		// with the app's own sign-in (after it, /admin opens on that session).
		s.setSecurityHeaders(w, r.URL.Path)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		// The sign-in comes back to the admin page asked for.
		_, _ = io.WriteString(w, strings.Replace(adminUnauthorized, "%2Fadmin%2F", html.EscapeString(url.QueryEscape(r.URL.Path)), 1))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.setSecurityHeaders(w, r.URL.Path)
	s.serveIndex(w, r)
}

// adminUnauthorized is the body of the admin pages' 401.
const adminUnauthorized = `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
	`<meta name="viewport" content="width=device-width, initial-scale=1"><title>Unauthorized · Hearth admin</title></head>` +
	`<body><h1>Unauthorized</h1><p>The admin is for the instance admin. ` +
	`<a href="/login?next=%2Fadmin%2F">Sign in to Hearth</a> with the admin account and it opens, ` +
	`or reload this page and give the admin's user name and password.</p></body></html>`

func (s *Surface) serveFile(w http.ResponseWriter, r *http.Request, name string) bool {
	f, err := s.files.Open(name)
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }() // read only
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		return false
	}
	rs, ok := f.(readSeeker)
	if !ok {
		return false
	}
	if strings.HasPrefix(name, "assets/") {
		// Vite puts a content hash in every asset name.
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "public, max-age=3600")
	}
	if z, ok := s.gz[name]; ok {
		w.Header().Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) && r.Header.Get("Range") == "" {
			if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
				w.Header().Set("Content-Type", ct)
			}
			w.Header().Set("Content-Encoding", "gzip")
			http.ServeContent(w, r, name, s.mod, bytes.NewReader(z))
			return true
		}
	}
	http.ServeContent(w, r, name, s.mod, rs)
	return true
}

type readSeeker interface {
	Read([]byte) (int, error)
	Seek(int64, int) (int64, error)
}

func (s *Surface) serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// index.html names the current hashed assets: always revalidate it.
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(s.index)
	}
}

// CSP is the Content-Security-Policy on every page: no inline scripts or
// styles; media from our origin, blob: (hls.js feeds MediaSource) and the
// https sources a watch room may play. Frames: YouTube's player, and the
// https pages the admin configured as Owncast external actions (shown in a
// sandboxed frame, as Owncast's page does); never http: or data:.
const cspBase = "default-src 'self'; script-src 'self' https://www.youtube.com https://s.ytimg.com; " +
	"style-src 'self'; img-src 'self' data: blob: https:; media-src 'self' blob: https: http:; " +
	"connect-src 'self'; worker-src 'self' blob:; font-src 'self'; " +
	"frame-src https:; object-src 'none'; base-uri 'self'; form-action 'self'"

// cspCustom is cspBase for a --web-dir front end built by someone else:
// inline styles, eval and data: fonts are allowed (OTT's client needs all
// three: Vuetify injects <style>, its bundle evaluates strings, its icons are
// inlined fonts). Inline scripts stay refused.
var cspCustom = strings.NewReplacer(
	"style-src 'self'", "style-src 'self' 'unsafe-inline'",
	"script-src 'self'", "script-src 'self' 'unsafe-eval'",
	"font-src 'self'", "font-src 'self' data:",
).Replace(cspBase)

func (s *Surface) setSecurityHeaders(w http.ResponseWriter, p string) {
	cspBase := s.csp
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	if strings.HasPrefix(p, "/embed/") {
		// Owncast's embeds exist to be framed by other sites.
		h.Set("Content-Security-Policy", cspBase+"; frame-ancestors *")
		return
	}
	h.Set("Content-Security-Policy", cspBase+"; frame-ancestors 'self'")
	h.Set("X-Frame-Options", "SAMEORIGIN")
}

// writeError is the surface's one error writer: {"error": "..."} like the
// APIs beside it.
func writeError(w http.ResponseWriter, _ *http.Request, status int, msg string) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	httpserver.WriteJSON(w, status, map[string]string{"error": msg})
}
