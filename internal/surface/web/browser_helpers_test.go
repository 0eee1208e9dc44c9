package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/app"
	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

const (
	chromiumPath  = "/usr/bin/chromium"
	adminPassword = "admin-password-for-tests"
)

// browsers bounds how many browser tests run at once: each runs a
// chromium (and some an ffmpeg) on a 2-core CI machine shared with the rest
// of `go test ./...`.
var browsers = make(chan struct{}, 2)

// needBrowser skips when Debian's chromium is absent, unless
// HEARTH_REQUIRE_BROWSER is set (CI installs chromium and sets nothing, so
// the browser tests run there).
func needBrowser(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("HEARTH_REQUIRE_BROWSER") != "" {
			t.Fatalf("HEARTH_REQUIRE_BROWSER is set but %s is missing: %v", chromiumPath, err)
		}
		t.Skipf("no %s (install Debian's chromium to run the browser tests)", chromiumPath)
	}
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	browsers <- struct{}{}
	t.Cleanup(func() { <-browsers })
}

// startApp runs a real Hearth node (SQLite in a temp dir, local bus) on an
// ephemeral port and returns its base URL.
func startApp(t *testing.T, edit func(*config.Config)) (*app.App, string) {
	t.Helper()
	a, stop := runApp(t, testAppConfig(t, edit))
	t.Cleanup(stop)
	return a, a.HTTP.URL()
}

// testAppConfig is a node's config for tests: every field at its declared
// default (so fields added later work), then a temp data dir, loopback
// address, local bus, known admin password and no RTMP listener.
func testAppConfig(t *testing.T, edit func(*config.Config)) config.Config {
	t.Helper()
	var cfg config.Config
	parser, err := kong.New(&cfg, kong.Exit(func(int) {}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse(nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.Database = filepath.Join(dir, "hearth.db")
	cfg.Bus = "local"
	cfg.AdminUser = "admin"
	cfg.AdminPassword = adminPassword
	cfg.RTMPAddr = ""                                  // tests that publish pick their own port
	cfg.RTCUDPAddr, cfg.RTCTCPAddr = "127.0.0.1:0", "" // the media plane on a free port
	cfg.FFmpegPath = "/usr/bin/ffmpeg"
	// Together's per-address /auth/* limit (2 a second, burst 5) would
	// decide tests that sign in, change passwords and sign in again from
	// one loopback address by the machine's speed: the faster it runs, the
	// sooner the bucket is empty. Its own test is in surface/together.
	cfg.TogetherAuthRate = 0
	if edit != nil {
		edit(&cfg)
	}
	return cfg
}

// runApp starts a node; stop shuts it down and waits (safe to call twice).
func runApp(t *testing.T, cfg config.Config) (*app.App, func()) {
	t.Helper()
	storetest.SeedNode(t, cfg.DatabaseDSN())
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	return a, func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("app run: %v", err)
			}
			a.Close()
		})
	}
}

// newBrowser returns the package's one headless chromium, started by the
// first test that asks; tabs made with newTab from it are separate browser
// contexts (no shared cookies, storage or cache). One chromium for every test
// rather than one each: its start was more than a second of the two CPUs per
// test. TestMain stops it.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	shared.once.Do(startBrowser)
	if shared.err != nil {
		t.Fatalf("start chromium: %v", shared.err)
	}
	return shared.ctx
}

var shared struct {
	once   sync.Once
	ctx    context.Context
	stop   func()
	err    error
	tmpDir string
}

func startBrowser() {
	dir, err := os.MkdirTemp("", "hearth-chromium-")
	if err != nil {
		shared.err = err
		return
	}
	shared.tmpDir = dir
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		// A fake microphone, granted without a prompt (voice channels).
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	shared.stop = func() {
		cancelB()
		cancelA()
	}
	// Start the browser now, on a context without a deadline.
	if err := chromedp.Do(bctx); err != nil {
		shared.err = err
		return
	}
	shared.ctx = bctx
}

// stopBrowser ends the shared chromium, if a test started it.
func stopBrowser() {
	if shared.stop != nil {
		shared.stop()
	}
	if shared.tmpDir != "" {
		_ = os.RemoveAll(shared.tmpDir)
	}
}

// page is one browser context (its own cookies and localStorage) with a tab.
type page struct {
	t    *testing.T
	name string
	ctx  context.Context
	logs *strings.Builder
}

func newTab(t *testing.T, browser context.Context, name string) *page {
	t.Helper()
	logs := &strings.Builder{}
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("%s: open tab: %v", name, err)
	}
	// Record every Content-Security-Policy violation: the app must run
	// under the strict CSP without tripping it.
	// window.__readies counts the READYs the gateway's sockets received:
	// "no reconnecting banner" also holds while the first socket is still
	// connecting, so what needs the socket waits for a READY (gatewayUp).
	watchCSP := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: `
			window.__csp = [];
			document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
			(() => {
				const Real = window.WebSocket;
				window.__readies = 0;
				window.WebSocket = function (url, protocols) {
					const ws = new Real(url, protocols);
					if (String(url).includes("/ws?")) ws.addEventListener("message", (e) => {
						if (typeof e.data === "string" && e.data.includes('"t":"READY"')) window.__readies++;
					});
					return ws;
				};
				window.WebSocket.prototype = Real.prototype;
				for (const k of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) window.WebSocket[k] = Real[k];
			})();`})
		return chromedp.Void{}, err
	}
	if err := chromedp.Do(ctx, watchCSP); err != nil {
		cancel()
		t.Fatalf("%s: install the CSP watcher: %v", name, err)
	}
	p := &page{t: t, name: name, ctx: ctx, logs: logs}
	t.Cleanup(func() {
		if t.Failed() {
			p.screenshot("failure")
		} else if v := p.cspViolations(); v != "" && v != "[]" {
			t.Errorf("%s: Content-Security-Policy violations: %s", name, v)
		}
		cancel()
	})
	return p
}

func (p *page) cspViolations() string {
	ctx, cancel := context.WithTimeout(p.ctx, hangGuard)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.__csp || [])`))
	if err != nil {
		return ""
	}
	return s
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// screenshot saves a PNG of the page; failures save one automatically.
// The directory is $HEARTH_ARTIFACTS, or a temp dir that is kept.
func (p *page) screenshot(label string) string {
	dir := os.Getenv("HEARTH_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "hearth-browser-tests")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		p.t.Logf("screenshot dir: %v", err)
		return ""
	}
	ctx, cancel := context.WithTimeout(p.ctx, hangGuard)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Logf("%s: screenshot: %v", p.name, err)
		return ""
	}
	f := filepath.Join(dir, unsafeName.ReplaceAllString(fmt.Sprintf("%s-%s-%s.png", p.t.Name(), p.name, label), "_"))
	if err := os.WriteFile(f, png, 0o600); err != nil {
		p.t.Logf("screenshot: %v", err)
		return ""
	}
	p.t.Logf("%s: screenshot saved to %s", p.name, f)
	return f
}

// do runs steps with a deadline.
func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, hangGuard)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %s: %v\npage text: %s", p.name, what, err, p.text())
	}
}

// eval evaluates JavaScript (awaiting a promise) and decodes the result.
func eval[T any](p *page, what, js string) T {
	p.t.Helper()
	return evalWithin[T](p, what, js, 30*time.Second)
}

func evalWithin[T any](p *page, what, js string, timeout time.Duration) T {
	p.t.Helper()
	v, err := evalErr[T](p, js, timeout)
	if err != nil {
		p.t.Fatalf("%s: %s: %v", p.name, what, err)
	}
	return v
}

// evalErr is evalWithin's evaluation, returning its error.
func evalErr[T any](p *page, js string, timeout time.Duration) (T, error) {
	// timeout is how long it usually takes at most; only a hang fails.
	ctx, cancel := context.WithTimeout(p.ctx, max(timeout, hangGuard))
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// navigatedAway reports whether an evaluation failed because the page
// navigated while it ran (its document, and so the promise, is gone).
func navigatedAway(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Inspected target navigated or closed") || strings.Contains(msg, "Execution context was destroyed") ||
		strings.Contains(msg, "Cannot find context with specified id")
}

// waitFor polls a JavaScript condition in the page until it is true (a
// condition, not a sleep); on timeout the test fails with the page's text.
func (p *page) waitFor(what, cond string, timeout time.Duration) {
	p.t.Helper()
	// The stated timeouts are what a quiet machine needs; the wait lasts
	// until the condition holds or hangGuard, so a loaded machine's
	// slowness does not decide the verdict.
	timeout = max(timeout*2, hangGuard)
	js := fmt.Sprintf(`(async () => {
		const end = Date.now() + %d;
		while (Date.now() < end) {
			try { if (%s) return true; } catch (e) {}
			await new Promise(r => setTimeout(r, 25));
		}
		return false;
	})()`, timeout.Milliseconds(), cond)
	// A wait that began on the document a click is leaving (a link's page
	// load) dies with that document; it starts again on the new one.
	deadline := time.Now().Add(timeout + 10*time.Second)
	for {
		ok, err := evalErr[bool](p, js, time.Until(deadline))
		if err != nil && navigatedAway(err) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond) // a closed tab fails at once: do not spin
			continue
		}
		if err != nil {
			p.t.Fatalf("%s: %s: %v", p.name, what, err)
		}
		if !ok {
			p.t.Fatalf("%s: timed out waiting for %s (%s)\npage text: %s\nmedia: %s", p.name, what, cond, p.text(), p.media())
		}
		return
	}
}

// media describes every <video> on the page (for failure messages).
func (p *page) media() string {
	ctx, cancel := context.WithTimeout(p.ctx, hangGuard)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify([...document.querySelectorAll("video")].map(v => ({
		src: v.currentSrc, readyState: v.readyState, networkState: v.networkState, paused: v.paused, t: v.currentTime,
		error: v.error && v.error.message, h264: window.MediaSource ? MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E,mp4a.40.2"') : null })))`))
	if err != nil {
		return "(unavailable: " + err.Error() + ")"
	}
	return s
}

func (p *page) text() string {
	ctx, cancel := context.WithTimeout(p.ctx, hangGuard)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(unavailable: " + err.Error() + ")"
	}
	if len(s) > 1500 {
		s = s[:1500] + "…"
	}
	return s
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// gatewayUp waits until p's gateway socket has had its READY: the socket
// is open and the server sends it the events of its communities.
func gatewayUp(p *page) {
	p.t.Helper()
	p.waitFor("the gateway socket", `!document.querySelector('[data-testid="reconnecting"]') && window.__readies > 0`, 30*time.Second)
}

// adminBasicAuth makes the tab send the admin's Basic credentials with
// every request, as a browser answering /admin/'s challenge does.
func adminBasicAuth(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
	if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
		return chromedp.Void{}, err
	}
	auth := base64.StdEncoding.EncodeToString([]byte("admin:" + adminPassword))
	_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": "Basic " + auth}})
	return chromedp.Void{}, err
}
