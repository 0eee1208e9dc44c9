package egress

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// target is a loopback test server that counts the requests reaching it.
type target struct {
	srv  *httptest.Server
	hits atomic.Int64
	addr netip.AddrPort
}

func newTarget(t *testing.T, h http.HandlerFunc) *target {
	t.Helper()
	tg := &target{}
	tg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.hits.Add(1)
		if h != nil {
			h(w, r)
			return
		}
		_, _ = io.WriteString(w, "secret")
	}))
	t.Cleanup(tg.srv.Close)
	tg.addr = netip.MustParseAddrPort(tg.srv.Listener.Addr().String())
	return tg
}

func (tg *target) port() string { return strconv.Itoa(int(tg.addr.Port())) }

// only allows exactly the given servers' address:port pairs.
func only(tgs ...*target) func(netip.AddrPort) bool {
	return func(ap netip.AddrPort) bool {
		for _, tg := range tgs {
			if ap == tg.addr {
				return true
			}
		}
		return false
	}
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	if cfg.Resolver == nil {
		// Never ask real DNS from a test.
		cfg.Resolver = fakeResolver(nil)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

var loopback4 = netip.MustParseAddr("127.0.0.1")

// TestGetRefusesInternalTargets aims every SSRF spelling at a live loopback
// server and checks that the request is refused with ErrForbiddenAddress and
// never reaches it.
//
// perf.md §6.2 item 12 (CVE-2026-2455: IPv4-mapped IPv6, IPv6 loopback,
// decimal/octal IPs, 0.0.0.0), item 4 (Owncast #3014 blind SSRF), item 5
// (CVE-2023-46480 authHost at loopback/metadata), item 11 (OTT direct URLs),
// item 20 (Synapse #4242 rebinding, #5134 0.0.0.0 and ::).
func TestGetRefusesInternalTargets(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, nil)
	p := tg.port()
	tests := []struct {
		name string
		url  string
	}{
		{"loopback literal", "http://127.0.0.1:" + p + "/"},
		{"IPv4-mapped loopback (CVE-2026-2455)", "http://[::ffff:127.0.0.1]:" + p + "/"},
		{"IPv4-mapped loopback hex", "http://[::ffff:7f00:1]:" + p + "/"},
		{"IPv6 loopback", "http://[::1]:" + p + "/"},
		{"decimal", "http://2130706433:" + p + "/"},
		{"octal", "http://0177.0.0.1:" + p + "/"},
		{"hex", "http://0x7f.1:" + p + "/"},
		{"short", "http://127.1:" + p + "/"},
		{"unspecified 0.0.0.0 (Synapse #5134)", "http://0.0.0.0:" + p + "/"},
		{"unspecified :: (Synapse #5134)", "http://[::]:" + p + "/"},
		{"NAT64 loopback", "http://[64:ff9b::7f00:1]:" + p + "/"},
		{"localhost", "http://localhost:" + p + "/"},
		{"metadata", "http://169.254.169.254/latest/meta-data/"},
		{"IPv4-mapped metadata (CVE-2026-2455)", "http://[::ffff:169.254.169.254]/latest/meta-data/"},
		{"name resolving to loopback (rebinding)", "http://rebind.hearth.test:" + p + "/"},
		{"name resolving to metadata", "http://meta.hearth.test/latest/meta-data/"},
		{"name resolving to mapped loopback", "http://mapped.hearth.test:" + p + "/"},
	}
	c := newClient(t, Config{
		Timeout: 5 * time.Second,
		Resolver: fakeResolver(map[string][]netip.Addr{
			"rebind.hearth.test": {loopback4},
			"meta.hearth.test":   {netip.MustParseAddr("169.254.169.254")},
			"mapped.hearth.test": {netip.MustParseAddr("::ffff:127.0.0.1")},
		}),
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := c.Get(t.Context(), tt.url)
			if !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("Get(%s) = %v, %v; want ErrForbiddenAddress", tt.url, resp, err)
			}
		})
	}
	t.Cleanup(func() {
		if n := tg.hits.Load(); n != 0 {
			t.Errorf("loopback server was reached %d times", n)
		}
	})
}

// TestDialTimeCheck proves the address is checked at dial time, on the
// address actually connected to, not on the hostname beforehand: the
// pre-validation is bypassed (the inner http.Client is used directly) and the
// names pass CheckURL, yet the connection is refused.
//
// perf.md §6.2 item 20 (Synapse #4242/#4215: DNS rebinding defeated a
// check-then-fetch blacklist; validate in a custom dialer) and item 12.
func TestDialTimeCheck(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, nil)
	p := tg.port()
	c := newClient(t, Config{
		Timeout: 5 * time.Second,
		Resolver: fakeResolver(map[string][]netip.Addr{
			"rebind.hearth.test": {loopback4},
			"both.hearth.test":   {loopback4, netip.MustParseAddr("::1")},
			"private.hearth.test": {
				netip.MustParseAddr("10.0.0.1"),
			},
		}),
	})
	tests := []string{
		"http://rebind.hearth.test:" + p + "/",
		"http://both.hearth.test:" + p + "/",
		"http://private.hearth.test:" + p + "/",
		"http://127.0.0.1:" + p + "/",
		"http://[::ffff:127.0.0.1]:" + p + "/",
		"http://0.0.0.0:" + p + "/",
		"http://[::1]:" + p + "/",
		"http://localhost:" + p + "/",
	}
	for _, raw := range tests {
		t.Run(raw, func(t *testing.T) {
			t.Parallel()
			// The name-only pre-check has nothing against these names.
			if strings.Contains(raw, "hearth.test") {
				if _, err := c.CheckURL(raw); err != nil {
					t.Fatalf("CheckURL(%s) = %v; the name alone should pass", raw, err)
				}
			}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, raw, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.http.Do(req) // no CheckURL: only the dialer stands in the way
			if err == nil {
				_ = resp.Body.Close()
				t.Fatalf("GET %s succeeded; the dial check did not refuse it", raw)
			}
			if !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("GET %s = %v; want ErrForbiddenAddress", raw, err)
			}
		})
	}
	t.Cleanup(func() {
		if n := tg.hits.Load(); n != 0 {
			t.Errorf("loopback server was reached %d times", n)
		}
	})
}

// TestDNSRebinding: the name resolves to a public address the first time and
// to loopback afterwards, the classic rebinding attack on check-then-fetch.
// A validator that resolved the name would be satisfied; the fetch resolves
// again and the dial check refuses what it actually connects to.
//
// perf.md §6.2 item 20 (Synapse #4242/#4215).
func TestDNSRebinding(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, nil)
	var aQueries atomic.Int64
	public := netip.MustParseAddr("93.184.215.14")
	resolver := fakeResolverFunc(func(name string, qtype uint16) ([]netip.Addr, bool) {
		if name != "flip.hearth.test" {
			return nil, false
		}
		if qtype == 1 && aQueries.Add(1) == 1 {
			return []netip.Addr{public}, true
		}
		return []netip.Addr{loopback4}, true
	})
	c := newClient(t, Config{Timeout: 5 * time.Second, Resolver: resolver})
	raw := "http://flip.hearth.test:" + tg.port() + "/"

	// What a check-then-fetch validator would see.
	if _, err := c.CheckURL(raw); err != nil {
		t.Fatalf("CheckURL: %v", err)
	}
	first, err := resolver.LookupNetIP(t.Context(), "ip4", "flip.hearth.test")
	if err != nil || len(first) != 1 || first[0] != public {
		t.Fatalf("first lookup = %v, %v; want %s", first, err, public)
	}
	if err := checkAddr(first[0], false); err != nil {
		t.Fatalf("first answer should look harmless: %v", err)
	}

	// The fetch.
	if _, err := c.Get(t.Context(), raw); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("Get after rebinding = %v, want ErrForbiddenAddress", err)
	}
	if n := tg.hits.Load(); n != 0 {
		t.Fatalf("loopback server reached %d times", n)
	}
}

// TestAllowedFetch: with the AllowAddr hook permitting exactly the test
// server's address and port, a fetch succeeds, by literal and by name; the
// same IP on another port stays refused. (The control case for every test
// above: the refusals are the policy, not a broken client.)
func TestAllowedFetch(t *testing.T) {
	t.Parallel()
	var gotUA atomic.Value
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		gotUA.Store(r.Header.Get("User-Agent"))
		w.Header().Set("X-Test", "yes")
		_, _ = io.WriteString(w, "hello")
	})
	other := newTarget(t, nil)
	c := newClient(t, Config{
		AllowAddr: only(tg),
		Resolver:  fakeResolver(map[string][]netip.Addr{"ok.hearth.test": {loopback4}}),
	})
	for _, raw := range []string{
		tg.srv.URL + "/x",
		"http://ok.hearth.test:" + tg.port() + "/x",
	} {
		resp, err := c.Get(t.Context(), raw)
		if err != nil {
			t.Fatalf("Get(%s): %v", raw, err)
		}
		if resp.StatusCode != http.StatusOK || string(resp.Body) != "hello" || resp.Header.Get("X-Test") != "yes" {
			t.Fatalf("Get(%s) = %d %q %v", raw, resp.StatusCode, resp.Body, resp.Header)
		}
		if resp.URL.String() != raw {
			t.Errorf("final URL %s, want %s", resp.URL, raw)
		}
	}
	if ua, _ := gotUA.Load().(string); ua != DefaultUserAgent {
		t.Errorf("User-Agent %q, want %q", ua, DefaultUserAgent)
	}
	// Same IP, other port: not allowed.
	if _, err := c.Get(t.Context(), other.srv.URL); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("Get(other port) = %v, want ErrForbiddenAddress", err)
	}
	if n := other.hits.Load(); n != 0 {
		t.Errorf("other server reached %d times", n)
	}
}

// TestDoUserAgent: Do fills in the User-Agent on a
// copy and keeps a caller's own.
func TestDoUserAgent(t *testing.T) {
	t.Parallel()
	var gotUA atomic.Value
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		gotUA.Store(r.Header.Get("User-Agent"))
	})
	c := newClient(t, Config{AllowAddr: only(tg), UserAgent: "hearth-test/1"})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, tg.srv.URL, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if ua, _ := gotUA.Load().(string); ua != "hearth-test/1" {
		t.Errorf("User-Agent %q", ua)
	}
	if req.Header.Get("User-Agent") != "" {
		t.Errorf("caller's request was modified")
	}
}

// TestRedirectsRevalidated: an allowed server redirects to an internal one;
// every hop is refused and the internal server is never reached.
//
// perf.md §6.2 item 21 (CVE-2026-40168, Postiz: the URL was validated but
// redirects were followed to internal hosts) and item 12 for the spellings.
func TestRedirectsRevalidated(t *testing.T) {
	t.Parallel()
	internal := newTarget(t, nil)
	ip := internal.port()
	tests := []struct {
		name     string
		location string
		want     error
	}{
		{"loopback", "http://127.0.0.1:" + ip + "/", ErrForbiddenAddress},
		{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]:" + ip + "/", ErrForbiddenAddress},
		{"IPv6 loopback", "http://[::1]:" + ip + "/", ErrForbiddenAddress},
		{"decimal", "http://2130706433:" + ip + "/", ErrForbiddenAddress},
		{"octal", "http://0177.0.0.1:" + ip + "/", ErrForbiddenAddress},
		{"0.0.0.0", "http://0.0.0.0:" + ip + "/", ErrForbiddenAddress},
		{"localhost", "http://localhost:" + ip + "/", ErrForbiddenAddress},
		{"metadata", "http://169.254.169.254/latest/meta-data/", ErrForbiddenAddress},
		{"name resolving to loopback", "http://rebind.hearth.test:" + ip + "/", ErrForbiddenAddress},
		{"file scheme", "file:///etc/passwd", ErrInvalidURL},
		{"gopher scheme", "gopher://127.0.0.1:" + ip + "/_INFO", ErrInvalidURL},
		{"userinfo", "http://u:p@127.0.0.1:" + ip + "/", ErrInvalidURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, code := range []int{http.StatusFound, http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
				front := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, tt.location, code)
				})
				c := newClient(t, Config{
					AllowAddr: only(front),
					Resolver:  fakeResolver(map[string][]netip.Addr{"rebind.hearth.test": {loopback4}}),
				})
				_, err := c.Get(t.Context(), front.srv.URL)
				if !errors.Is(err, tt.want) {
					t.Fatalf("%d to %s: got %v, want %v", code, tt.location, err, tt.want)
				}
				if front.hits.Load() != 1 {
					t.Fatalf("front server hits %d, want 1", front.hits.Load())
				}
			}
		})
	}
	t.Cleanup(func() {
		if n := internal.hits.Load(); n != 0 {
			t.Errorf("internal server was reached %d times", n)
		}
	})
}

// TestRedirectAllowed: a redirect between allowed addresses is followed and
// the final URL reported.
func TestRedirectAllowed(t *testing.T) {
	t.Parallel()
	final := newTarget(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "final") })
	front := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, final.srv.URL+"/end", http.StatusFound)
	})
	c := newClient(t, Config{AllowAddr: only(front, final)})
	resp, err := c.Get(t.Context(), front.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body) != "final" || resp.URL.String() != final.srv.URL+"/end" {
		t.Fatalf("got %q from %s", resp.Body, resp.URL)
	}
}

// TestRedirectCap: a redirect loop stops after MaxRedirects hops with
// ErrTooManyRedirects. perf.md §6.2 item 21 (CVE-2026-40168).
func TestRedirectCap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		maxRedirects int
		wantHits     int64
	}{
		{0, DefaultMaxRedirects + 1}, // default
		{1, 2},
		{3, 4},
		{-1, 1}, // no redirects at all
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.maxRedirects), func(t *testing.T) {
			t.Parallel()
			var loop *target
			loop = newTarget(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, loop.srv.URL+"/again", http.StatusFound)
			})
			c := newClient(t, Config{AllowAddr: only(loop), MaxRedirects: tt.maxRedirects})
			_, err := c.Get(t.Context(), loop.srv.URL)
			if !errors.Is(err, ErrTooManyRedirects) {
				t.Fatalf("got %v, want ErrTooManyRedirects", err)
			}
			if got := loop.hits.Load(); got != tt.wantHits {
				t.Fatalf("server hit %d times, want %d", got, tt.wantHits)
			}
		})
	}
}

// TestBodyCap: a body over MaxBodyBytes is an error, never a silent
// truncation, with or without Content-Length and after decompression.
// DESIGN.md §4 ("caps size"); the gzip bomb is the HTTP cousin of perf.md
// §6.2 item 14 (CVE-2026-3114, decompression bomb), and an unbounded read of
// a user-chosen URL is part of item 4/11's resource-exhaustion surface.
func TestBodyCap(t *testing.T) {
	t.Parallel()
	const limit = 1000
	gz := func(n int) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(make([]byte, n))
		_ = zw.Close()
		return b.Bytes()
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr bool
	}{
		{"exactly the cap", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(make([]byte, limit))
		}, false},
		{"one over with Content-Length", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(make([]byte, limit+1))
		}, true},
		{"huge Content-Length refused up front", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10000000000")
			_, _ = w.Write(make([]byte, limit))
		}, true},
		{"one over chunked", func(w http.ResponseWriter, r *http.Request) {
			for range limit + 1 {
				_, _ = w.Write([]byte{'x'})
				w.(http.Flusher).Flush()
			}
		}, true},
		{"gzip bomb", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(gz(100 * limit))
		}, true},
		{"small gzip", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(gz(limit))
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg := newTarget(t, tt.handler)
			c := newClient(t, Config{AllowAddr: only(tg), MaxBodyBytes: limit})

			resp, err := c.Get(t.Context(), tg.srv.URL)
			if tt.wantErr {
				if !errors.Is(err, ErrBodyTooLarge) {
					t.Fatalf("Get: got %v, want ErrBodyTooLarge", err)
				}
			} else {
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				if len(resp.Body) != limit {
					t.Fatalf("Get: body %d bytes, want %d", len(resp.Body), limit)
				}
			}

			// Do: the error surfaces from Do or from reading the Body.
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, tg.srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.Do(req)
			if err == nil {
				_, err = io.ReadAll(r.Body)
				_ = r.Body.Close()
				if err == nil {
					// Reading again after EOF stays quiet; after the cap it stays an error.
					_, err = r.Body.Read(make([]byte, 1))
					if err == io.EOF {
						err = nil
					}
				}
			}
			if got := errors.Is(err, ErrBodyTooLarge); got != tt.wantErr {
				t.Fatalf("Do: got %v, want ErrBodyTooLarge=%v", err, tt.wantErr)
			}
		})
	}
}

// TestTimeout: a server that never answers, or stops mid-body, is cut off by
// the total time limit. DESIGN.md §4 ("caps time"); a tarpit URL is the
// cheapest way to tie up fetch workers through items 4 and 11 (blind SSRF,
// user-supplied video URLs).
func TestTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler func(release <-chan struct{}) http.HandlerFunc
	}{
		{"no headers", func(release <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
		}},
		{"stalled body", func(release <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "partial")
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			tg := newTarget(t, tt.handler(release))
			t.Cleanup(func() { close(release) }) // runs before the server closes
			c := newClient(t, Config{AllowAddr: only(tg), Timeout: 200 * time.Millisecond})
			start := time.Now()
			_, err := c.Get(t.Context(), tg.srv.URL)
			if err == nil {
				t.Fatal("Get succeeded against a stalled server")
			}
			var ne net.Error
			if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &ne) && ne.Timeout()) {
				t.Fatalf("got %v, want a timeout", err)
			}
			// Only a hang fails this (no limit would wait for the server).
			if d := time.Since(start); d > time.Minute {
				t.Fatalf("took %s with a 200ms limit", d)
			}
		})
	}
}

// TestTLS: the dial check guards HTTPS the same way (perf.md §6.2 item 20:
// the check is in the dialer, below TLS).
func TestTLS(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "tls")
	}))
	t.Cleanup(srv.Close)
	addr := netip.MustParseAddrPort(srv.Listener.Addr().String())
	trust := srv.Client().Transport.(*http.Transport).TLSClientConfig

	for _, allow := range []bool{false, true} {
		cfg := Config{}
		if allow {
			cfg.AllowAddr = func(ap netip.AddrPort) bool { return ap == addr }
		}
		c := newClient(t, cfg)
		c.transport.TLSClientConfig = trust.Clone()
		resp, err := c.Get(t.Context(), srv.URL)
		if !allow {
			if !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("unallowed TLS fetch: got %v, want ErrForbiddenAddress", err)
			}
			if hits.Load() != 0 {
				t.Fatal("server reached")
			}
			continue
		}
		if err != nil || string(resp.Body) != "tls" {
			t.Fatalf("allowed TLS fetch: %v", err)
		}
	}
}

// TestNoEnvironmentProxy: a proxy would make the connection on our behalf and
// bypass the dial check, so none is configured whatever HTTP_PROXY says.
func TestNoEnvironmentProxy(t *testing.T) {
	t.Parallel()
	c := newClient(t, Config{})
	if c.transport.Proxy != nil {
		t.Fatal("transport has a Proxy function")
	}
}

func TestNewValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"negative timeout", Config{Timeout: -time.Second}, false},
		{"negative body", Config{MaxBodyBytes: -1}, false},
		{"negative redirects means none", Config{MaxRedirects: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("New(%+v) = %v, want ok=%v", tt.cfg, err, tt.ok)
			}
		})
	}
}

func TestDoRejectsBadRequests(t *testing.T) {
	t.Parallel()
	c := newClient(t, Config{})
	if _, err := c.Do(nil); !errors.Is(err, ErrInvalidURL) {
		t.Errorf("Do(nil) = %v", err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "file:///etc/passwd", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(req); !errors.Is(err, ErrInvalidURL) {
		t.Errorf("Do(file://) = %v", err)
	}
}
