package together

import (
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/hearth-community/hearth/internal/httpserver"
)

// CORS for Together's REST routes. Together answers cross-origin requests
// from ALLOWED_ORIGINS (every origin in development), which is how its web
// client built with VITE_API_URL pointing at another host, and its desktop
// app, reach the API. Hearth allows the origins whose host matches one of
// Deps.AllowedOrigins (--allowed-origins, the patterns the WebSocket origin
// check uses); same-origin requests need nothing. Credentials are never
// allowed: the API authenticates with an Authorization header.

const (
	corsMethods = "GET, POST, PUT, PATCH, DELETE"
	corsHeaders = "authorization, content-type"
)

// allowedOrigin reports whether a request's Origin may read the response.
func (s *Surface) allowedOrigin(origin string) bool {
	if origin == "" || len(s.d.AllowedOrigins) == 0 {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	host := strings.ToLower(u.Host)
	for _, p := range s.d.AllowedOrigins {
		if ok, _ := path.Match(strings.ToLower(p), host); ok {
			return true
		}
	}
	return false
}

// withCORS adds Access-Control-Allow-Origin for an allowed origin.
func (s *Surface) withCORS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" {
			w.Header().Add("Vary", "Origin")
			if s.allowedOrigin(origin) {
				w.Header().Set("Access-Control-Allow-Origin", origin)
			}
		}
		h.ServeHTTP(w, r)
	})
}

// preflight answers OPTIONS for a Together route: 200 with the allowed
// methods and headers for an allowed origin, 200 without them otherwise (the
// browser then refuses the request), as tower-http's CorsLayer does.
func (s *Surface) preflight(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	w.Header().Add("Vary", "Origin")
	w.Header().Add("Vary", "Access-Control-Request-Method")
	w.Header().Add("Vary", "Access-Control-Request-Headers")
	if origin := r.Header.Get("Origin"); s.allowedOrigin(origin) {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Allow-Methods", corsMethods)
		w.Header().Set("Access-Control-Allow-Headers", corsHeaders)
	}
	w.WriteHeader(http.StatusOK)
}

var wildcard = regexp.MustCompile(`\{[^}]*\}`)

// registerPreflight registers OPTIONS for every Together route path, bare
// and under /api. Instance-admin paths are left to Owncast's admin, which
// owns OPTIONS /api/admin/*. Wildcards are renamed by position so routes
// that name the same segment differently share one OPTIONS pattern.
func (s *Surface) registerPreflight(h *httpserver.Server) {
	seen := map[string]bool{}
	for _, rt := range s.routes() {
		if strings.HasPrefix(rt.path, "/admin/") {
			continue
		}
		n := 0
		p := wildcard.ReplaceAllStringFunc(rt.path, func(string) string {
			n++
			return "{p" + string(rune('0'+n)) + "}"
		})
		if seen[p] {
			continue
		}
		seen[p] = true
		for _, prefix := range []string{"", "/api"} {
			h.HandleFunc("OPTIONS "+prefix+p, s.preflight)
		}
	}
}
