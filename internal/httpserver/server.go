// Package httpserver is the one HTTP listener every surface shares: a
// net/http ServeMux with method patterns, request logging, panic recovery,
// request body limits, /healthz, /metrics on its own Prometheus registry, and
// graceful shutdown.
package httpserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Checker is a dependency /healthz checks (the database, the bus).
type Checker interface {
	Ping(ctx context.Context) error
}

// Config tunes the server.
type Config struct {
	Addr            string
	MaxBodyBytes    int64
	ShutdownTimeout time.Duration
	// TLS, when set, makes the listener serve HTTPS (built-in ACME: see
	// acme.go). nil: plain HTTP (the usual case behind a reverse proxy).
	TLS *tls.Config
	// MaxConnsPerIP bounds the connections (WebSockets included) one remote
	// IP may hold open at once; further ones are refused at accept. 0: no
	// bound (behind a reverse proxy every connection comes from the proxy).
	MaxConnsPerIP int
	// BodyReadTimeout is how long one read of a request body may wait for
	// the client (DefaultBodyReadTimeout when zero).
	BodyReadTimeout time.Duration
	// WriteTimeout is how long one write of a response may wait for the
	// client to take it (DefaultWriteTimeout when zero).
	WriteTimeout time.Duration
}

// Server is the shared HTTP server.
type Server struct {
	cfg      Config
	mux      *http.ServeMux
	log      *slog.Logger
	ln       net.Listener
	srv      *http.Server
	reg      *prometheus.Registry
	checks   map[string]Checker
	reqs     *prometheus.CounterVec
	dur      *prometheus.HistogramVec
	mu       sync.Mutex
	shutdown []func(context.Context)
	shared   map[string]*shared
	limit    *ipLimitListener
	// life ends once Run has shut down (its in-flight requests finished,
	// or ShutdownTimeout passed): writes that outlast their client
	// (outlastClient) end with it.
	life    context.Context
	endLife context.CancelFunc
}

// New binds the listen address (so a taken port fails at start) and returns
// the server; routes are added with Handle before Run.
func New(cfg Config, logger *slog.Logger) (*Server, error) {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	if cfg.BodyReadTimeout <= 0 {
		cfg.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	var limit *ipLimitListener
	if cfg.MaxConnsPerIP > 0 {
		limit = newIPLimitListener(ln, cfg.MaxConnsPerIP, cfg.TLS == nil)
		ln = limit
	}
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, cfg.TLS)
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: logger, ln: ln, limit: limit, reg: prometheus.NewRegistry(), checks: map[string]Checker{}}
	s.life, s.endLife = context.WithCancel(context.Background())
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hearth_http_requests_total", Help: "HTTP requests by route pattern and status."}, []string{"pattern", "code"})
	s.dur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hearth_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8)}, []string{"pattern"})
	s.reg.MustRegister(s.reqs, s.dur)
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	s.srv = &http.Server{
		Handler:           s.middleware(s.mux),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    MaxHeaderBytes,
		IdleTimeout:       120 * time.Second,
		ConnState:         stopCounting,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// MaxHeaderBytes bounds a request's line and headers (Go's default is
// 1 MiB). A request still arriving holds what it has sent until the header
// timeout: 300 connections each 960 KB into their headers held 354 MB, and
// one address may keep --max-conns-per-ip of them, again every 10 s. No
// client of any surface sends more than a few KiB (tokens, cookies, a
// video URL in a query); past this the answer is 431.
const MaxHeaderBytes = 64 << 10

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL is the base URL of the server, with a loopback host for wildcard binds.
func (s *Server) URL() string {
	a := s.ln.Addr().(*net.TCPAddr)
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "localhost"
	}
	scheme := "http://"
	if s.cfg.TLS != nil {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort(host, strconv.Itoa(a.Port))
}

// listeningLine is the start-up log message. Listening on every interface
// is right for a server, but the operator should know it is reachable from
// the network, not only from localhost.
func (s *Server) listeningLine() string {
	if a, ok := s.ln.Addr().(*net.TCPAddr); ok && a.IP.IsUnspecified() {
		return "hearth listening on all interfaces (reachable from the network; set --addr 127.0.0.1:PORT for this machine only)"
	}
	return "hearth listening"
}

// Registry is the server's Prometheus registry; other parts register their
// collectors here.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Handle registers a route (a ServeMux pattern such as "GET /api/x/{id}").
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// HandleFunc registers a route handler function.
func (s *Server) HandleFunc(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, h) }

// Check adds a dependency to /healthz.
func (s *Server) Check(name string, c Checker) { s.checks[name] = c }

// OnShutdown registers a function run when shutdown starts (e.g. sending
// WebSocket close frames); it gets the shutdown deadline.
func (s *Server) OnShutdown(f func(context.Context)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown = append(s.shutdown, f)
}

// Run serves until ctx is cancelled, then shuts down gracefully: it stops
// accepting, runs the OnShutdown hooks, and waits for in-flight requests up
// to ShutdownTimeout.
func (s *Server) Run(ctx context.Context) error {
	s.log.Info(s.listeningLine(), "url", s.URL(), "addr", s.ln.Addr().String())
	defer s.endLife()
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	s.mu.Lock()
	hooks := append([]func(context.Context){}, s.shutdown...)
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, h := range hooks {
		wg.Add(1)
		go func() { defer wg.Done(); h(sctx) }()
	}
	err := s.srv.Shutdown(sctx)
	s.endLife() // what still runs past the shutdown's deadline is cancelled
	wg.Wait()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http: %w", err)
	}
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	res := map[string]string{}
	status := http.StatusOK
	for name, c := range s.checks {
		if err := c.Ping(ctx); err != nil {
			res[name] = "error: " + err.Error()
			status = http.StatusServiceUnavailable
		} else {
			res[name] = "ok"
		}
	}
	body := map[string]any{"status": "ok", "checks": res}
	if status != http.StatusOK {
		body["status"] = "unavailable"
	}
	WriteJSON(w, status, body)
}

// WriteJSON writes v as a JSON response with status. A value JSON cannot
// carry (+Inf, NaN) is answered 500 with a small error body in both
// shapes the surfaces use: status with an empty body, as before, told the
// client a broken answer was a success. Every answer says nosniff: the
// Owncast and OpenTogetherTube surfaces' JSON (titles, names and chat that
// strangers write) is never read by a browser as anything but JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	b, err := json.Marshal(v)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":"Internal server error","message":"Internal server error"}` + "\n"))
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// statusWriter records the status code for logs and metrics. The
// server's outermost one also bounds each write (writeTimeout set): the
// connection's write deadline is moved to writeTimeout from now before
// every write and flush, so a client that stops reading a response (an
// HLS segment, a recording download) makes the handler's write fail
// instead of holding it, its connection and what it holds (an ffmpeg,
// megabytes of kernel send buffer) for good, while a response that keeps
// moving, however long, is never cut.
type statusWriter struct {
	http.ResponseWriter
	code         int
	wrote        bool
	rc           *http.ResponseController
	writeTimeout time.Duration
	hijacked     bool // the connection is a WebSocket's now: its deadlines are not ours
}

func (w *statusWriter) extend() {
	if w.writeTimeout > 0 && !w.hijacked {
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.writeTimeout))
	}
}

// FlushError flushes within the write deadline (http.ResponseController
// finds it before Unwrap).
func (w *statusWriter) FlushError() error {
	w.extend()
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush is FlushError for callers that assert http.Flusher.
func (w *statusWriter) Flush() { _ = w.FlushError() }

// hijackWriter is the statusWriter of a connection that can be hijacked
// (HTTP/1): it notes the hijack, after which the write deadline is left to
// the socket's owner. HTTP/2 writers stay plain statusWriters, so they do
// not claim to be http.Hijackers.
type hijackWriter struct{ *statusWriter }

func (w hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.code, w.wrote = http.StatusOK, true
	}
	w.extend()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and Hijack (WebSockets).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK, rc: http.NewResponseController(w), writeTimeout: s.cfg.WriteTimeout}
		// What net/http still sends once the handler is done (the rest of
		// its buffer, the last chunk) gets a deadline of its own, however
		// long the handler was quiet; net/http clears it after that, and a
		// hijack clears it too.
		defer sw.extend()
		var rw http.ResponseWriter = sw
		if _, ok := w.(http.Hijacker); ok {
			rw = hijackWriter{sw}
		}
		dropManyRanges(r)
		if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions {
			ctx, done := outlastClient(r.Context(), s.life)
			defer done()
			r = r.WithContext(ctx)
		}
		if r.Body != nil && r.ContentLength != 0 {
			// Every body is capped here, whatever its Content-Type claims:
			// the routes that take larger uploads raise their own request's
			// cap with SetBodyLimit before reading.
			body := &deadlineBody{ReadCloser: r.Body, rc: http.NewResponseController(w), timeout: s.cfg.BodyReadTimeout}
			defer body.handlerDone()
			r.Body = http.MaxBytesReader(sw, body, s.cfg.MaxBodyBytes)
			r = r.WithContext(context.WithValue(r.Context(), rawBodyKey{}, &rawBody{rc: body}))
		}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				if !sw.wrote {
					WriteJSON(sw, http.StatusInternalServerError, map[string]string{"error": "Internal server error"})
				}
			}
			pattern := r.Pattern
			if pattern == "" {
				pattern = "unmatched"
			}
			el := time.Since(start)
			s.reqs.WithLabelValues(pattern, strconv.Itoa(sw.code)).Inc()
			s.dur.WithLabelValues(pattern).Observe(el.Seconds())
			s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "pattern", pattern, "status", sw.code, "dur", el)
		}()
		next.ServeHTTP(rw, r)
	})
}

type rawBodyKey struct{}

// rawBody is a request's body before the server-wide cap.
type rawBody struct{ rc io.ReadCloser }

// SetBodyLimit replaces the server-wide body cap of r (--max-body-bytes)
// with n bytes, for the upload routes whose own limit differs from it. It
// must be called before anything reads r.Body. The cap is the route's, not
// the client's: a Content-Type header does not lift it.
func SetBodyLimit(w http.ResponseWriter, r *http.Request, n int64) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	if raw, ok := r.Context().Value(rawBodyKey{}).(*rawBody); ok {
		r.Body = http.MaxBytesReader(w, raw.rc, n)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, n)
}

// Recover wraps a surface's handlers so a panic becomes a 500 in that
// surface's error shape (writeErr gets the status code).
func Recover(log *slog.Logger, writeErr func(w http.ResponseWriter, r *http.Request, status int, msg string), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				if !sw.wrote {
					writeErr(sw, r, http.StatusInternalServerError, "Internal server error")
				}
			}
		}()
		next.ServeHTTP(sw, r)
	})
}
