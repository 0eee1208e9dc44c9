package ratelimit

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock; tests advance it instead of sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 7, 21, 14, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newLimiter(t testing.TB, cfg Config) (*Limiter, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	if cfg.Clock == nil {
		cfg.Clock = clk.Now
	}
	l, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l, clk
}

// ottDeny writes OpenTogetherTube's 429 body.
func ottDeny(w http.ResponseWriter, _ *http.Request, _ Decision) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(`{"success":false,"error":{"name":"TooManyRequests","message":"Too many requests."}}`))
}

// TestMiddlewareNPlusOne sends N+1 requests through the middleware and sees
// the 429: the limit is real and reachable.
//
// perf.md §6.2 item 10 (OTT PR #805: the limiter returned an un-awaited
// Promise, which is truthy, so every limit was bypassed).
func TestMiddlewareNPlusOne(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   Config
		cost  int
		n     int // requests allowed before the 429
		limit int // X-RateLimit-Limit
	}{
		{"five per minute", Config{Limit: 5, Interval: time.Minute}, 1, 5, 5},
		{"OTT 1000 points per hour, room generate costs 50", Config{Limit: 1000, Interval: time.Hour}, 50, 20, 1000},
		{"OTT register costs 100", Config{Limit: 1000, Interval: time.Hour}, 100, 10, 1000},
		{"Together bots 50 per second", Config{Limit: 50, Interval: time.Second}, 1, 50, 50},
		{"Together auth 1 per 500ms burst 5", Config{Limit: 1, Interval: 500 * time.Millisecond, Burst: 5}, 1, 5, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, clk := newLimiter(t, tt.cfg)
			var served atomic.Int64
			h := Middleware(l, IPKey(false), tt.cost, ottDeny)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				served.Add(1)
				w.WriteHeader(http.StatusNoContent)
			}))
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)

			for i := 1; i <= tt.n+1; i++ {
				resp, err := srv.Client().Get(srv.URL)
				if err != nil {
					t.Fatal(err)
				}
				var body struct {
					Success bool `json:"success"`
					Error   struct {
						Name    string `json:"name"`
						Message string `json:"message"`
					} `json:"error"`
				}
				if resp.StatusCode == http.StatusTooManyRequests {
					if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
						t.Fatalf("429 body: %v", err)
					}
				}
				_ = resp.Body.Close()

				if got := resp.Header.Get(HeaderLimit); got != strconv.Itoa(tt.limit) {
					t.Errorf("request %d: %s = %q, want %d", i, HeaderLimit, got, tt.limit)
				}
				if resp.Header.Get(HeaderReset) == "" {
					t.Errorf("request %d: no %s", i, HeaderReset)
				}
				if i <= tt.n {
					if resp.StatusCode != http.StatusNoContent {
						t.Fatalf("request %d of %d: status %d", i, tt.n, resp.StatusCode)
					}
					wantRemaining := tt.limit - i*tt.cost
					if got := resp.Header.Get(HeaderRemaining); got != strconv.Itoa(wantRemaining) {
						t.Errorf("request %d: %s = %q, want %d", i, HeaderRemaining, got, wantRemaining)
					}
					if resp.Header.Get(HeaderRetryAfter) != "" {
						t.Errorf("request %d: Retry-After on an allowed request", i)
					}
					continue
				}
				// Request N+1.
				if resp.StatusCode != http.StatusTooManyRequests {
					t.Fatalf("request %d: status %d, want 429", i, resp.StatusCode)
				}
				ra, err := strconv.Atoi(resp.Header.Get(HeaderRetryAfter))
				if err != nil || ra < 1 {
					t.Errorf("Retry-After %q", resp.Header.Get(HeaderRetryAfter))
				}
				if body.Success || body.Error.Name != "TooManyRequests" || body.Error.Message != "Too many requests." {
					t.Errorf("429 body %+v", body)
				}
				// Waiting Retry-After seconds is enough.
				clk.Advance(time.Duration(ra) * time.Second)
				if d := l.Allow("ip:127.0.0.1", tt.cost); !d.Allowed {
					t.Errorf("after Retry-After (%ds): still denied, %+v", ra, d)
				}
			}
			if got := served.Load(); got != int64(tt.n) {
				t.Errorf("handler ran %d times, want %d", got, tt.n)
			}
		})
	}
}

// TestMiddlewareDefaults: a nil deny gives a plain 429; an empty key exempts;
// a nil limiter or key function fails closed with 500.
func TestMiddlewareDefaults(t *testing.T) {
	t.Parallel()
	l, _ := newLimiter(t, Config{Limit: 1, Interval: time.Hour})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	tests := []struct {
		name   string
		mw     func(http.Handler) http.Handler
		n      int
		status int // of the last request
	}{
		{"nil deny", Middleware(l, func(*http.Request) string { return "k" }, 1, nil), 2, http.StatusTooManyRequests},
		{"exempt", Middleware(l, func(*http.Request) string { return "" }, 1, nil), 5, http.StatusOK},
		{"nil limiter", Middleware(nil, func(*http.Request) string { return "k" }, 1, nil), 1, http.StatusInternalServerError},
		{"nil key", Middleware(l, nil, 1, nil), 1, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.mw(ok)
			var rec *httptest.ResponseRecorder
			for range tt.n {
				rec = httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			}
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.name == "exempt" && rec.Header().Get(HeaderLimit) != "" {
				t.Fatal("exempt request got rate-limit headers")
			}
		})
	}
}

// TestCosts: heavier requests take more tokens, a denied request takes none,
// and a cost above the burst is never allowed.
func TestCosts(t *testing.T) {
	t.Parallel()
	l, _ := newLimiter(t, Config{Limit: 12, Interval: time.Minute})
	steps := []struct {
		cost      int
		allowed   bool
		remaining int
	}{
		{5, true, 7},
		{5, true, 2},
		{5, false, 2}, // denied: nothing taken
		{2, true, 0},
		{0, true, 0}, // a zero cost only reports
		{1, false, 0},
	}
	for i, s := range steps {
		d := l.Allow("acct", s.cost)
		if d.Allowed != s.allowed || d.Remaining != s.remaining || d.Limit != 12 {
			t.Fatalf("step %d (cost %d): %+v, want allowed=%v remaining=%d", i, s.cost, d, s.allowed, s.remaining)
		}
		if d.Allowed && d.RetryAfter != 0 {
			t.Fatalf("step %d: RetryAfter %s on an allowed request", i, d.RetryAfter)
		}
	}
	big := l.Allow("other", 13)
	if big.Allowed || big.Remaining != 12 || big.RetryAfter != 0 {
		t.Fatalf("cost above burst: %+v", big)
	}
	// Zero cost for an unknown key neither allocates nor charges.
	if d := l.Allow("fresh", 0); !d.Allowed || d.Remaining != 12 {
		t.Fatalf("peek: %+v", d)
	}
	if l.Len() != 2 {
		t.Fatalf("Len %d, want 2", l.Len())
	}
}

// TestCostAboveRemainingIsLimited: a charge larger than what the bucket
// holds is refused, takes nothing, and says how long until it would fit. A
// caller that charged failures this way and then gated on Remaining <= 0
// (OTT's login before issue 13) never saw the limit: the bucket stopped at
// the remainder and the gate was never reached. Decisions are made on
// Allowed.
func TestCostAboveRemainingIsLimited(t *testing.T) {
	t.Parallel()
	l, clk := newLimiter(t, Config{Limit: 1000, Interval: time.Hour, Burst: 1000})
	if d := l.Allow("ip|login", 995); !d.Allowed || d.Remaining != 5 {
		t.Fatalf("setup: %+v", d)
	}
	for i := range 3 {
		d := l.Allow("ip|login", 10)
		if d.Allowed {
			t.Fatalf("try %d: cost 10 with 5 left was allowed: %+v", i, d)
		}
		if d.Remaining != 5 {
			t.Fatalf("try %d: a refused charge took tokens: %+v", i, d)
		}
		// 5 more tokens at 1000 per hour: 18 s.
		if d.RetryAfter != 18*time.Second {
			t.Fatalf("try %d: RetryAfter %s, want 18s", i, d.RetryAfter)
		}
		if s := RetryAfterSeconds(d); s != 18 {
			t.Fatalf("try %d: Retry-After %d, want 18", i, s)
		}
	}
	clk.Advance(18 * time.Second)
	if d := l.Allow("ip|login", 10); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after RetryAfter: %+v", d)
	}
}

// TestRefill: tokens come back at Limit per Interval, measured on the fake
// clock; RetryAfter and Reset say exactly when.
func TestRefill(t *testing.T) {
	t.Parallel()
	l, clk := newLimiter(t, Config{Limit: 10, Interval: time.Second})
	start := clk.Now()
	for i := range 10 {
		if d := l.Allow("k", 1); !d.Allowed {
			t.Fatalf("request %d denied", i)
		}
	}
	d := l.Allow("k", 1)
	if d.Allowed || d.RetryAfter != 100*time.Millisecond {
		t.Fatalf("drained: %+v, want denied with RetryAfter 100ms", d)
	}
	if !d.Reset.Equal(start.Add(time.Second)) {
		t.Fatalf("Reset %s, want %s", d.Reset, start.Add(time.Second))
	}
	if d := l.Allow("k", 3); d.RetryAfter != 300*time.Millisecond {
		t.Fatalf("cost 3: RetryAfter %s, want 300ms", d.RetryAfter)
	}

	clk.Advance(99 * time.Millisecond)
	if d := l.Allow("k", 1); d.Allowed {
		t.Fatalf("allowed before the token was earned: %+v", d)
	}
	clk.Advance(time.Millisecond)
	if d := l.Allow("k", 1); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after 100ms: %+v", d)
	}

	clk.Advance(time.Hour) // refills to the burst, not beyond
	if d := l.Allow("k", 1); !d.Allowed || d.Remaining != 9 {
		t.Fatalf("after an hour: %+v, want remaining 9", d)
	}

	// OTT's hour-long bucket: 1000 points, 1 point per 3.6 s.
	ott, clk2 := newLimiter(t, Config{Limit: 1000, Interval: time.Hour})
	ott.Allow("ip", 1000)
	if d := ott.Allow("ip", 5); d.Allowed || d.RetryAfter != 18*time.Second || RetryAfterSeconds(d) != 18 {
		t.Fatalf("OTT drained: %+v", d)
	}
	clk2.Advance(18 * time.Second)
	if d := ott.Allow("ip", 5); !d.Allowed {
		t.Fatalf("OTT after 18s: %+v", d)
	}
}

func TestKeysIsolated(t *testing.T) {
	t.Parallel()
	l, _ := newLimiter(t, Config{Limit: 3, Interval: time.Minute})
	for range 3 {
		l.Allow("alice", 1)
	}
	if d := l.Allow("alice", 1); d.Allowed {
		t.Fatal("alice not limited")
	}
	for _, k := range []string{"bob", "ip:10.0.0.1", "ALICE", "alice "} {
		if d := l.Allow(k, 1); !d.Allowed || d.Remaining != 2 {
			t.Fatalf("%q affected by alice: %+v", k, d)
		}
	}
}

func TestRefundForget(t *testing.T) {
	t.Parallel()
	l, _ := newLimiter(t, Config{Limit: 100, Interval: time.Hour})
	l.Allow("k", 100)
	l.Refund("k", 30)
	if d := l.Allow("k", 0); d.Remaining != 30 {
		t.Fatalf("after refund: %+v", d)
	}
	l.Refund("k", 1000)
	if d := l.Allow("k", 0); d.Remaining != 100 {
		t.Fatalf("refund above burst: %+v", d)
	}
	l.Refund("unknown", 5)
	l.Allow("k", 100)
	l.Forget("k")
	if d := l.Allow("k", 1); !d.Allowed || d.Remaining != 99 {
		t.Fatalf("after Forget: %+v", d)
	}
	if l.Len() != 1 {
		t.Fatalf("Len %d", l.Len())
	}
}

// TestEvictionBoundsMemory: a flood of distinct keys never holds more than
// MaxKeys buckets, the least recently used go first, and idle buckets expire.
func TestEvictionBoundsMemory(t *testing.T) {
	t.Parallel()
	t.Run("MaxKeys LRU", func(t *testing.T) {
		t.Parallel()
		l, _ := newLimiter(t, Config{Limit: 5, Interval: time.Hour, MaxKeys: 10})
		for range 5 {
			l.Allow("hot", 1) // drained
		}
		for i := range 1000 {
			l.Allow(fmt.Sprintf("flood-%d", i), 1)
			if i%5 == 0 {
				l.Allow("hot", 0) // keep it recently used
			}
			if n := l.Len(); n > 10 {
				t.Fatalf("Len %d > MaxKeys after %d keys", n, i)
			}
		}
		if d := l.Allow("hot", 1); d.Allowed {
			t.Fatal("recently used key lost its state")
		}
	})
	t.Run("sharded MaxKeys", func(t *testing.T) {
		t.Parallel()
		l, _ := newLimiter(t, Config{Limit: 1, MaxKeys: 20_000})
		if len(l.shards) < 2 {
			t.Fatalf("expected several shards, got %d", len(l.shards))
		}
		for i := range 100_000 {
			l.Allow(strconv.Itoa(i), 1)
		}
		if n := l.Len(); n > 20_000 || n < 19_000 {
			t.Fatalf("Len %d, want just under 20000", n)
		}
	})
	t.Run("default IdleTTL is the refill time", func(t *testing.T) {
		t.Parallel()
		l, clk := newLimiter(t, Config{Limit: 10, Interval: time.Second, MaxKeys: 1000}) // one shard; empty to full: 1s
		for i := range 100 {
			l.Allow(strconv.Itoa(i), 10)
		}
		clk.Advance(time.Second - time.Nanosecond)
		l.Allow("trigger", 1)
		if n := l.Len(); n != 101 {
			t.Fatalf("before TTL: Len %d, want 101", n)
		}
		clk.Advance(time.Nanosecond)
		l.Allow("trigger", 1)
		if n := l.Len(); n != 1 {
			t.Fatalf("after TTL: Len %d, want 1", n)
		}
		if d := l.Allow("0", 10); !d.Allowed {
			t.Fatal("expired key should start full (it would have refilled anyway)")
		}
	})
	t.Run("explicit IdleTTL", func(t *testing.T) {
		t.Parallel()
		l, clk := newLimiter(t, Config{Limit: 1000, Interval: time.Hour, IdleTTL: time.Minute, MaxKeys: 1000})
		for i := range 50 {
			l.Allow(strconv.Itoa(i), 1)
		}
		clk.Advance(time.Minute)
		l.Allow("x", 1)
		if n := l.Len(); n != 1 {
			t.Fatalf("Len %d, want 1", n)
		}
	})
}

// TestConcurrentAllow: concurrent callers on shared keys never get more than
// the burst between them (run with -race).
func TestConcurrentAllow(t *testing.T) {
	t.Parallel()
	const keys, burst, workers, perWorker = 4, 100, 8, 200
	l, _ := newLimiter(t, Config{Limit: burst, Interval: time.Hour}) // fixed clock: no refill
	var allowed [keys]atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				k := (w + i) % keys
				if l.Allow("k"+strconv.Itoa(k), 1).Allowed {
					allowed[k].Add(1)
				}
			}
		})
	}
	// A reader in parallel.
	wg.Go(func() {
		for range 100 {
			_ = l.Len()
		}
	})
	wg.Wait()
	for k := range keys {
		if got := allowed[k].Load(); got != burst {
			t.Errorf("key %d: %d allowed, want exactly %d", k, got, burst)
		}
	}
}

func TestNewValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"minimal", Config{Limit: 1}, true},
		{"fractional", Config{Limit: 1.5, Interval: time.Second}, true},
		{"zero limit", Config{}, false},
		{"negative limit", Config{Limit: -1}, false},
		{"NaN", Config{Limit: math.NaN()}, false},
		{"Inf", Config{Limit: math.Inf(1)}, false},
		{"negative interval", Config{Limit: 1, Interval: -time.Second}, false},
		{"negative burst", Config{Limit: 1, Burst: -1}, false},
		{"negative keys", Config{Limit: 1, MaxKeys: -1}, false},
		{"negative ttl", Config{Limit: 1, IdleTTL: -1}, false},
		{"tiny rate", Config{Limit: 1, Interval: math.MaxInt64}, true},
		{"huge rate", Config{Limit: 1e300}, true},
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
	l, err := New(Config{Limit: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	if d := l.Allow("k", 0); d.Limit != 2 {
		t.Fatalf("default burst for 1.5: %d, want 2", d.Limit)
	}
	// One token per ~292 years: the idle TTL saturates instead of
	// overflowing, so a drained bucket is kept, not expired at once.
	slow, clk := newLimiter(t, Config{Limit: 1, Interval: math.MaxInt64, MaxKeys: 10})
	slow.Allow("k", 1)
	clk.Advance(24 * time.Hour)
	if d := slow.Allow("k", 1); d.Allowed || d.RetryAfter <= 0 {
		t.Fatalf("slow limiter: %+v", d)
	}
}

func TestFormatReset(t *testing.T) {
	t.Parallel()
	got := FormatReset(time.Date(2026, 7, 21, 14, 3, 9, 500, time.FixedZone("CEST", 2*3600)))
	want := "Tue Jul 21 2026 12:03:09 GMT+0000 (Coordinated Universal Time)"
	if got != want {
		t.Fatalf("FormatReset = %q, want %q", got, want)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}, {18 * time.Second, 18}, {time.Duration(math.MaxInt64), math.MaxInt32}} {
		if got := RetryAfterSeconds(Decision{RetryAfter: tt.d}); got != tt.want {
			t.Errorf("RetryAfterSeconds(%s) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		remote string
		xff    []string
		trust  bool
		want   string
	}{
		{"peer v4", "203.0.113.7:5555", nil, false, "203.0.113.7"},
		{"peer v6", "[2001:db8::1]:5555", nil, false, "2001:db8::1"},
		{"peer mapped", "[::ffff:203.0.113.7]:5555", nil, false, "203.0.113.7"},
		{"peer zone dropped", "[fe80::1%eth0]:5555", nil, false, "fe80::1"},
		{"untrusted XFF ignored", "203.0.113.7:5555", []string{"1.2.3.4"}, false, "203.0.113.7"},
		{"trusted XFF", "10.0.0.2:5555", []string{"198.51.100.9"}, true, "198.51.100.9"},
		{"trusted XFF takes the proxy's entry, not the client's", "10.0.0.2:5555", []string{"6.6.6.6, 198.51.100.9"}, true, "198.51.100.9"},
		{"trusted XFF over several lines", "10.0.0.2:5555", []string{"6.6.6.6", "198.51.100.9"}, true, "198.51.100.9"},
		{"trusted XFF with port", "10.0.0.2:5555", []string{"198.51.100.9:1234"}, true, "198.51.100.9"},
		{"trusted XFF v6 bracketed", "10.0.0.2:5555", []string{"[2001:db8::5]"}, true, "2001:db8::5"},
		{"trusted XFF garbage falls back to peer", "10.0.0.2:5555", []string{"1.2.3.4, nonsense"}, true, "10.0.0.2"},
		{"trusted, no XFF", "10.0.0.2:5555", nil, true, "10.0.0.2"},
		{"odd RemoteAddr kept", "pipe", nil, false, "pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientIP(r, tt.trust); got != tt.want {
				t.Fatalf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIPKey(t *testing.T) {
	t.Parallel()
	key := IPKey(false)
	for remote, want := range map[string]string{
		"203.0.113.7:1":            "ip:203.0.113.7",
		"[2001:db8:1:2:3:4:5:6]:1": "ip:2001:db8:1:2::/64",
		"[2001:db8:1:2::ffff]:1":   "ip:2001:db8:1:2::/64", // same /64, same bucket
		"[::ffff:203.0.113.7]:1":   "ip:203.0.113.7",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		if got := key(r); got != want {
			t.Errorf("IPKey(%s) = %q, want %q", remote, got, want)
		}
	}
}

func BenchmarkAllow(b *testing.B) {
	b.Run("one key", func(b *testing.B) {
		l, err := New(Config{Limit: 1e9})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			l.Allow("key", 1)
		}
	})
	b.Run("10k keys", func(b *testing.B) {
		l, err := New(Config{Limit: 1e9})
		if err != nil {
			b.Fatal(err)
		}
		keys := make([]string, 10_000)
		for i := range keys {
			keys[i] = "ip:10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			l.Allow(keys[i%len(keys)], 1)
			i++
		}
	})
	b.Run("parallel 10k keys", func(b *testing.B) {
		l, err := New(Config{Limit: 1e9})
		if err != nil {
			b.Fatal(err)
		}
		keys := make([]string, 10_000)
		for i := range keys {
			keys[i] = "acct-" + strconv.Itoa(i)
		}
		b.ReportAllocs()
		var seq atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(1)) * 7919
			for pb.Next() {
				l.Allow(keys[i%len(keys)], 1)
				i++
			}
		})
	})
	b.Run("flood beyond MaxKeys", func(b *testing.B) {
		l, err := New(Config{Limit: 1, MaxKeys: 1024})
		if err != nil {
			b.Fatal(err)
		}
		keys := make([]string, 4096)
		for i := range keys {
			keys[i] = "k" + strconv.Itoa(i)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			l.Allow(keys[i%len(keys)], 1)
			i++
		}
	})
}
