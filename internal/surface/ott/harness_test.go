package ott_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/gateway"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/identity/identitytest"
	"github.com/hearth-community/hearth/internal/media"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/ott"
	"github.com/hearth-community/hearth/internal/surface/web"
	"github.com/hearth-community/hearth/internal/watch"
)

const testAPIKey = "TESTAPIKEY-abcdefghijklmnopqrstuvwxyz"

var fixtureDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ott-fixtures")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureDir = dir
	// A 4-second MP4 (moov first), made by the real ffmpeg.
	cmd := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=duration=4:size=64x48:rate=10",
		"-pix_fmt", "yuv420p", "-movflags", "+faststart", filepath.Join(dir, "clip.mp4"))
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintln(os.Stderr, "ffmpeg fixture:", err, string(out))
		os.Exit(1)
	}
	// VP8 WebM for the browser tests (Debian's Chromium has no H.264).
	cmd = exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=duration=8:size=64x48:rate=10",
		"-c:v", "libvpx", "-b:v", "200k", filepath.Join(dir, "web1.webm"))
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintln(os.Stderr, "ffmpeg fixture:", err, string(out))
		os.Exit(1)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "web1.webm")); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "web2.webm"), b, 0o600)
	}
	for i := 1; i <= 5; i++ {
		b, _ := os.ReadFile(filepath.Join(dir, "clip.mp4"))
		_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("clip%d.mp4", i)), b, 0o600)
	}
	_ = os.WriteFile(filepath.Join(dir, "notvideo.txt"), []byte("hello"), 0o600)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type harness struct {
	t        testing.TB
	url      string
	db       *store.DB
	bus      bus.Bus
	id       *identity.Service
	watch    *watch.Service
	ott      *ott.Surface
	fixtures *httptest.Server
	client   *http.Client
}

type opts struct {
	now       func() time.Time // the surface's clock (nil: time.Now)
	db        func(testing.TB) *store.DB
	rateLimit bool
	// trustProxy takes the client's address from X-Forwarded-For.
	trustProxy bool
	syncDelay  time.Duration
	// spa serves a built web client from this directory on "GET /" (with
	// the SPA fallback to index.html), on the same origin as the API.
	spa string
	// peer shares its database (and, without nats, its bus): a second node
	// of one cluster.
	peer *harness
	// nats gives the node its own connection to this NATS server.
	nats string
	// api stands in for the YouTube Data API (paths under /yt/) and the
	// SponsorBlock API (under /api/) on the fixture server; setting it turns
	// on YouTube and SponsorBlock.
	api http.Handler
	// discord turns on Discord sign-in with this configuration.
	discord *ott.Discord
	// dev serves the development routes (/api/dev/*).
	dev bool
	// noTemp turns temporary rooms off (OTT's room.enable_create_temporary).
	noTemp bool
	// tick is the watch service's tick (default 1 s); a long one keeps
	// the lease check from running during a test.
	tick time.Duration
	// argon hashes passwords with these parameters (nil: the cheapest, so
	// tests do not wait on hashing).
	argon *identity.Argon2Params
}

func newHarness(t testing.TB, o opts) *harness {
	t.Helper()
	if o.db == nil {
		o.db = storetest.OpenSQLite
	}
	var db *store.DB
	var b bus.Bus
	switch {
	case o.peer != nil:
		db, b = o.peer.db, o.peer.bus
	default:
		db = o.db(t)
		b = bus.NewLocal()
		t.Cleanup(func() { b.Close() })
	}
	if o.nats != "" {
		nb, err := bus.NewNATS(context.Background(), o.nats, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nb.Close() })
		b = nb
	}
	logger := slog.New(slog.DiscardHandler)
	argon := identitytest.Argon2
	if o.argon != nil {
		argon = *o.argon
	}
	ids, err := identity.New(context.Background(), identity.Config{Argon2: argon}, db.Identity(), b, logger)
	if err != nil {
		t.Fatal(err)
	}
	files := http.FileServer(http.Dir(fixtureDir))
	// CORS as a real video host sends it: OTT's player loads media with
	// crossorigin="anonymous".
	fix := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if o.api != nil && (strings.HasPrefix(r.URL.Path, "/yt/") || strings.HasPrefix(r.URL.Path, "/api/")) {
			o.api.ServeHTTP(w, r)
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(fix.Close)
	fixAddr := netip.MustParseAddrPort(strings.TrimPrefix(fix.URL, "http://"))
	allow := func(ap netip.AddrPort) bool { return ap == fixAddr }
	fetch, err := egress.New(egress.Config{AllowAddr: allow})
	if err != nil {
		t.Fatal(err)
	}
	mcfg := media.Config{}
	if o.api != nil {
		mcfg = media.Config{YouTubeAPIKey: "test-key", YouTubeAPIBase: fix.URL + "/yt", SponsorBlockAPIBase: fix.URL}
	}
	md, err := media.New(mcfg, fetch, nil, db.MediaCache(), logger)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := watch.New(watch.Config{AllowTemp: !o.noTemp, SyncDelay: o.syncDelay, TickInterval: o.tick}, db.Watch(), b, md, logger)
	if err != nil {
		t.Fatal(err)
	}
	if o.api != nil {
		ws.SetSegmentSource(md)
	}
	sub := gateway.SubscriberFunc(func(p string, h func(string, []byte)) (func() error, error) {
		s, err := b.Subscribe(p, func(m bus.Message) { h(m.Topic, m.Data) })
		if err != nil {
			return nil, err
		}
		return s.Unsubscribe, nil
	})
	if err := ws.EnableCluster("", sub, db.Watch()); err != nil {
		t.Fatal(err)
	}
	hub, err := gateway.New(gateway.Config{PingInterval: 10 * time.Second, InsecureSkipVerify: true},
		gateway.SubscriberFunc(func(p string, h func(string, []byte)) (func() error, error) {
			s, err := b.Subscribe(p, func(m bus.Message) { h(m.Topic, m.Data) })
			if err != nil {
				return nil, err
			}
			return s.Unsubscribe, nil
		}), logger)
	if err != nil {
		t.Fatal(err)
	}
	rl := ratelimit.Config{Limit: 1000, Interval: time.Hour, Burst: 1000}
	if !o.rateLimit {
		rl = ratelimit.Config{Limit: 1 << 30, Interval: time.Second, Burst: 1 << 30}
	}
	rl.Clock = o.now // nil: time.Now
	lim, err := ratelimit.New(rl)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := httpserver.New(httpserver.Config{Addr: "127.0.0.1:0"}, logger)
	if err != nil {
		t.Fatal(err)
	}
	var discord ott.Discord
	if o.discord != nil {
		discord = *o.discord
	}
	s, err := ott.New(ott.Deps{Log: logger, Identity: ids, Watch: ws, Media: md, Sessions: db.OttSessions(), Hub: hub,
		Limiter: lim, APIKey: testAPIKey, Metrics: http.NotFoundHandler(), DevRoutes: o.dev, Links: db.AccountLinks(),
		Discord: discord, InsecureCookies: o.discord != nil, Now: o.now, TrustProxy: o.trustProxy})
	if err != nil {
		t.Fatal(err)
	}
	s.Register(srv)
	if o.spa != "" {
		// The same path as `hearth --web-dir`: the web surface serving a
		// custom front end through os.Root.
		root, err := os.OpenRoot(o.spa)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { root.Close() })
		front, err := web.New(web.Deps{Log: logger, Files: root.FS(), Custom: true})
		if err != nil {
			t.Fatal(err)
		}
		front.Register(srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Run(ctx); close(done) }()
	wctx, wcancel := context.WithCancel(context.Background())
	wdone := make(chan struct{})
	go func() { _ = ws.Run(wctx); close(wdone) }()
	t.Cleanup(func() {
		wcancel()
		<-wdone
		_ = hub.Shutdown(context.Background())
		cancel()
		<-done
	})
	return &harness{t: t, url: srv.URL(), db: db, bus: b, id: ids, watch: ws, ott: s, fixtures: fix, client: &http.Client{Timeout: 20 * time.Second}}
}

type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r resp) errName() string {
	e, _ := r.body["error"].(map[string]any)
	n, _ := e["name"].(string)
	return n
}

func (h *harness) do(method, path, token string, body any, hdr ...string) resp {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

func (h *harness) grant() string {
	h.t.Helper()
	r := h.do("GET", "/api/auth/grant", "", nil)
	tok, _ := r.body["token"].(string)
	if r.status != 200 || tok == "" {
		h.t.Fatalf("grant: %d %s", r.status, r.raw)
	}
	return tok
}

func (h *harness) createRoom(token, name string, extra map[string]any) {
	h.t.Helper()
	body := map[string]any{"name": name}
	for k, v := range extra {
		body[k] = v
	}
	if r := h.do("POST", "/api/room/create", token, body); r.status != 201 {
		h.t.Fatalf("create %s: %d %s", name, r.status, r.raw)
	}
}

// loggedIn reports whether token is signed in to an account (GET /api/user).
func (h *harness) loggedIn(token string) bool {
	h.t.Helper()
	r := h.do("GET", "/api/user", token, nil)
	if r.status != 200 {
		h.t.Fatalf("user: %d %s", r.status, r.raw)
	}
	return r.body["loggedIn"] == true
}

func (h *harness) fixture(name string) string { return h.fixtures.URL + "/" + name }

// wsClient is a real WebSocket client.
type wsClient struct {
	t testing.TB
	c *websocket.Conn
}

func (h *harness) dial(room string) *wsClient {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	c, _, err := websocket.Dial(ctx, strings.Replace(h.url, "http", "ws", 1)+"/api/room/"+room, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	h.t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: h.t, c: c}
}

// join dials, authenticates and reads through the join sequence.
func (h *harness) join(room, token string) (*wsClient, string) {
	h.t.Helper()
	w := h.dial(room)
	w.send(map[string]any{"action": "auth", "token": token})
	you := w.until("you")
	id := you["info"].(map[string]any)["id"].(string)
	return w, id
}

func (w *wsClient) send(v any) {
	w.t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, b); err != nil {
		w.t.Fatal(err)
	}
}

func (w *wsClient) req(typ watch.RequestType, fields map[string]any) {
	w.t.Helper()
	r := map[string]any{"type": int(typ)}
	for k, v := range fields {
		r[k] = v
	}
	w.send(map[string]any{"action": "req", "request": r})
}

// next reads one message (fails the test on timeout or close).
func (w *wsClient) next() map[string]any {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	_, b, err := w.c.Read(ctx)
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		w.t.Fatalf("bad frame %s", b)
	}
	return m
}

// until reads until a message with the action (and optional predicate).
func (w *wsClient) until(action string, pred ...func(map[string]any) bool) map[string]any {
	w.t.Helper()
	for {
		m := w.next()
		if m["action"] != action {
			continue
		}
		ok := true
		for _, p := range pred {
			ok = ok && p(m)
		}
		if ok {
			return m
		}
	}
}

// untilOrClose is until, but a close ends it with the close code instead
// of failing the test.
func (w *wsClient) untilOrClose(action string, pred ...func(map[string]any) bool) (map[string]any, websocket.StatusCode) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	for {
		_, b, err := w.c.Read(ctx)
		if err != nil {
			if code := websocket.CloseStatus(err); code != -1 {
				return nil, code
			}
			w.t.Fatalf("read: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			w.t.Fatalf("bad frame %s", b)
		}
		ok := m["action"] == action
		for _, p := range pred {
			ok = ok && p(m)
		}
		if ok {
			return m, 0
		}
	}
}

// joinUntil joins room with token as OTT's client does after a node went
// away, and reads until a message with the action: a socket the node tells
// to come back (1001, "Room moved; reconnect" while a stand-in for the gone
// node's room is retired) dials again, a few times.
func (h *harness) joinUntil(room, token, action string, pred ...func(map[string]any) bool) map[string]any {
	h.t.Helper()
	for try := 1; ; try++ {
		w := h.dial(room)
		w.send(map[string]any{"action": "auth", "token": token})
		m, code := w.untilOrClose(action, pred...)
		if m != nil {
			return m
		}
		if code != websocket.StatusGoingAway || try == 5 {
			h.t.Fatalf("join %s, try %d: closed %d waiting for %s", room, try, code, action)
		}
	}
}

// closeCode reads until the socket closes and returns the close code.
func (w *wsClient) closeCode() websocket.StatusCode {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	for {
		if _, _, err := w.c.Read(ctx); err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

func has(key string) func(map[string]any) bool {
	return func(m map[string]any) bool { _, ok := m[key]; return ok }
}
