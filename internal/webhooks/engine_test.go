package webhooks_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/webhooks"
)

type report struct {
	n     int
	err   error
	final bool
}

// clientFor is an egress client allowed to reach srv only.
func clientFor(t *testing.T, srv *httptest.Server) *egress.Client {
	t.Helper()
	u, _ := url.Parse(srv.URL)
	target := netip.MustParseAddrPort(u.Host)
	client, err := egress.New(egress.Config{AllowAddr: func(ap netip.AddrPort) bool { return ap == target }, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// runEngine runs e until the test ends.
func runEngine(t *testing.T, e *webhooks.Engine) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestEngineCarriesEachSurfacesFormat: the one engine sends a delivery's
// own body and the signature headers of its kind (here a Together-style
// one, numbered per attempt), retries on the kind's delays, and reports
// every attempt.
func TestEngineCarriesEachSurfacesFormat(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	type seen struct{ sig, attempt, ctype string }
	got := make(chan seen, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Get("X-Sig"), r.Header.Get("X-Attempt"), r.Header.Get("Content-Type")}
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	e, err := webhooks.NewEngine(webhooks.EngineConfig{}, storetest.OpenSQLite(t).WebhookQueue(), clientFor(t, srv), nil)
	if err != nil {
		t.Fatal(err)
	}
	reports := make(chan report, 4)
	if err := e.Register(webhooks.Kind{Name: "t", Delays: []time.Duration{time.Millisecond, time.Millisecond},
		Sign: func(_ context.Context, d *webhooks.Queued, h http.Header, n int, _ time.Time) error {
			h.Set("X-Sig", "sha256="+d.Ref)
			h.Set("X-Attempt", strconv.Itoa(n))
			return nil
		},
		Report: func(_ context.Context, _ *webhooks.Queued, n int, err error, final bool) {
			reports <- report{n, err, final}
		}}); err != nil {
		t.Fatal(err)
	}
	runEngine(t, e)
	if !e.Enqueue(context.Background(), "t", "abc", srv.URL, []byte(`{"event":"ping"}`)) {
		t.Fatal("not queued")
	}
	for n := 1; n <= 3; n++ {
		s := <-got
		if s.sig != "sha256=abc" || s.attempt != strconv.Itoa(n) || s.ctype != "application/json" {
			t.Fatalf("attempt %d headers = %+v", n, s)
		}
		r := <-reports
		if r.n != n || (r.err == nil) != (n == 3) || r.final != (n == 3) {
			t.Fatalf("report %d = %+v", n, r)
		}
	}
}

// TestEngineEncodesEachAttempt: a kind with Encode (Web Push, whose body
// is encrypted afresh for each request) sends the body Encode makes from
// the queued one, for each attempt, with its headers.
func TestEngineEncodesEachAttempt(t *testing.T) {
	t.Parallel()
	type seen struct{ body, ctype, enc string }
	got := make(chan seen, 4)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{string(b), r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding")}
		if calls.Add(1) < 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	q := storetest.OpenSQLite(t).WebhookQueue()
	e, err := webhooks.NewEngine(webhooks.EngineConfig{}, q, clientFor(t, srv), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Register(webhooks.Kind{Name: "push", Delays: []time.Duration{time.Millisecond},
		Encode: func(_ context.Context, d *webhooks.Queued, h http.Header, n int, _ time.Time) ([]byte, error) {
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Content-Encoding", "aes128gcm")
			return []byte(string(d.Body) + "#" + strconv.Itoa(n)), nil
		}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.EnqueueOnce(context.Background(), "event-1", "push", []webhooks.Target{{Ref: "s1", URL: srv.URL, Body: []byte("sealed")}}); err != nil {
		t.Fatal(err)
	}
	runEngine(t, e)
	for n := 1; n <= 2; n++ {
		if s := <-got; s.body != "sealed#"+strconv.Itoa(n) || s.ctype != "application/octet-stream" || s.enc != "aes128gcm" {
			t.Fatalf("attempt %d = %+v", n, s)
		}
	}
}

// TestEngineReportsDrops: a delivery its webhook's queue has no room for
// is reported once, as final, with ErrQueueFull.
func TestEngineReportsDrops(t *testing.T) {
	t.Parallel()
	client, err := egress.New(egress.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := webhooks.NewEngine(webhooks.EngineConfig{}, storetest.OpenSQLite(t).WebhookQueue(), client, nil) // not running: nothing drains
	if err != nil {
		t.Fatal(err)
	}
	var rs []report
	if err := e.Register(webhooks.Kind{Name: "t", MaxWaiting: 1,
		Sign: func(context.Context, *webhooks.Queued, http.Header, int, time.Time) error { return nil },
		Report: func(_ context.Context, _ *webhooks.Queued, n int, err error, final bool) {
			rs = append(rs, report{n, err, final})
		}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if !e.Enqueue(ctx, "t", "h1", "https://example.org/", nil) {
		t.Fatal("first delivery dropped")
	}
	if e.Enqueue(ctx, "t", "h1", "https://example.org/", nil) {
		t.Fatal("second delivery queued past the limit")
	}
	if !e.Enqueue(ctx, "t", "h2", "https://example.org/", nil) {
		t.Fatal("another webhook's delivery dropped")
	}
	if len(rs) != 1 || !errors.Is(rs[0].err, webhooks.ErrQueueFull) || !rs[0].final {
		t.Fatalf("reports = %+v", rs)
	}
}

// TestEngineDeliveryOutlivesItsNode: a delivery queued on a node that stops
// while the endpoint is still answering (its send cut short) is sent, as a
// first attempt, by the engine of the next start on the same database.
func TestEngineDeliveryOutlivesItsNode(t *testing.T) {
	t.Parallel()
	first := make(chan struct{})
	var calls atomic.Int32
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // (the server notices a closed connection once the body is read)
		if calls.Add(1) == 1 {
			close(first)
			<-r.Context().Done() // hold the first node's send until it stops
			return
		}
		got <- r.Header.Get("X-Attempt")
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "hearth.db")
	open := func() *store.DB {
		db, err := store.Open(context.Background(), path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return db
	}
	kind := webhooks.Kind{Name: "t", Delays: []time.Duration{time.Hour},
		Sign: func(_ context.Context, _ *webhooks.Queued, h http.Header, n int, _ time.Time) error {
			h.Set("X-Attempt", strconv.Itoa(n))
			return nil
		}}
	db1 := open()
	e1, err := webhooks.NewEngine(webhooks.EngineConfig{}, db1.WebhookQueue(), clientFor(t, srv), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e1.Register(kind); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e1.Run(ctx); close(done) }()
	e1.Enqueue(ctx, "t", "h", srv.URL, []byte(`{}`))
	<-first
	cancel()
	<-done
	if err := db1.Close(); err != nil {
		t.Fatal(err)
	}

	db2 := open()
	t.Cleanup(func() { _ = db2.Close() })
	e2, err := webhooks.NewEngine(webhooks.EngineConfig{}, db2.WebhookQueue(), clientFor(t, srv), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e2.Register(kind); err != nil {
		t.Fatal(err)
	}
	runEngine(t, e2)
	if a := <-got; a != "1" {
		t.Fatalf("delivered as attempt %q, want 1 (the cut-short send is not an attempt)", a)
	}
}

// TestEngineDropsDeliveriesOfDeletedWebhooks: a delivery whose webhook is
// gone when it is sent (its kind's Sign answers NotFound) is dropped
// unsent and unreported; the next one goes out.
func TestEngineDropsDeliveriesOfDeletedWebhooks(t *testing.T) {
	t.Parallel()
	got := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.URL.Path }))
	defer srv.Close()
	e, err := webhooks.NewEngine(webhooks.EngineConfig{Workers: 1}, storetest.OpenSQLite(t).WebhookQueue(), clientFor(t, srv), nil)
	if err != nil {
		t.Fatal(err)
	}
	reports := make(chan string, 2)
	if err := e.Register(webhooks.Kind{Name: "t",
		Sign: func(_ context.Context, d *webhooks.Queued, _ http.Header, _ int, _ time.Time) error {
			if d.Ref == "gone" {
				return fault.NotFound
			}
			return nil
		},
		Report: func(_ context.Context, d *webhooks.Queued, _ int, _ error, _ bool) { reports <- d.Ref }}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e.Enqueue(ctx, "t", "gone", srv.URL+"/gone", nil)
	e.Enqueue(ctx, "t", "here", srv.URL+"/here", nil)
	runEngine(t, e)
	if p := <-got; p != "/here" {
		t.Fatalf("sent %s", p)
	}
	if r := <-reports; r != "here" {
		t.Fatalf("reported %s", r)
	}
}

// TestEngineKindClientAndRetry: a kind's own client sends its requests
// (the engine's refuses this endpoint), and its Retry gives up on an
// answer it calls final although delays remain.
func TestEngineKindClientAndRetry(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusGone)
	}))
	defer srv.Close()
	refuseAll, err := egress.New(egress.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := webhooks.NewEngine(webhooks.EngineConfig{}, storetest.OpenSQLite(t).WebhookQueue(), refuseAll, nil)
	if err != nil {
		t.Fatal(err)
	}
	reports := make(chan report, 4)
	if err := e.Register(webhooks.Kind{Name: "ap", Delays: []time.Duration{time.Millisecond, time.Millisecond}, Client: clientFor(t, srv),
		Sign: func(context.Context, *webhooks.Queued, http.Header, int, time.Time) error { return nil },
		Retry: func(err error) bool {
			var se *webhooks.StatusError
			return !errors.As(err, &se) || se.Code >= 500
		},
		Report: func(_ context.Context, _ *webhooks.Queued, n int, err error, final bool) {
			reports <- report{n, err, final}
		},
	}); err != nil {
		t.Fatal(err)
	}
	runEngine(t, e)
	if !e.Enqueue(context.Background(), "ap", "inbox", srv.URL, []byte(`{}`)) {
		t.Fatal("not queued")
	}
	select {
	case r := <-reports:
		var se *webhooks.StatusError
		if r.n != 1 || !r.final || !errors.As(r.err, &se) || se.Code != http.StatusGone {
			t.Fatalf("report = %+v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no attempt reported")
	}
}

// TestEngineSharesWorkersAmongTargets: one webhook whose endpoint never
// answers, with many deliveries queued ahead of everyone else's, holds its
// share of the workers (PerRef), not all of them: another webhook's
// delivery queued behind them goes out meanwhile. Before the share, the
// workers took the oldest deliveries whoever they were for, so four of the
// slow webhook's held every worker for its kind's whole timeout, again and
// again, and no other community's webhook was sent.
func TestEngineSharesWorkersAmongTargets(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var slowNow, slowMost atomic.Int32
	fast := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fast" {
			fast <- struct{}{}
			return
		}
		n := slowNow.Add(1)
		for m := slowMost.Load(); n > m && !slowMost.CompareAndSwap(m, n); m = slowMost.Load() {
		}
		defer slowNow.Add(-1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	u, _ := url.Parse(srv.URL)
	target := netip.MustParseAddrPort(u.Host)
	client, err := egress.New(egress.Config{AllowAddr: func(ap netip.AddrPort) bool { return ap == target }, Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	e, err := webhooks.NewEngine(webhooks.EngineConfig{Workers: 4}, storetest.OpenSQLite(t).WebhookQueue(), client, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Register(webhooks.Kind{Name: "t", Timeout: time.Hour,
		Sign: func(context.Context, *webhooks.Queued, http.Header, int, time.Time) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 8 {
		e.Enqueue(ctx, "t", "slow-hook", srv.URL+"/slow", []byte(`{}`))
	}
	e.Enqueue(ctx, "t", "fast-hook", srv.URL+"/fast", []byte(`{}`))
	runEngine(t, e)
	select {
	case <-fast:
	case <-time.After(30 * time.Second):
		t.Fatal("the other webhook's delivery waited behind the slow one's (every worker held)")
	}
	if m := slowMost.Load(); m > 1 {
		t.Fatalf("the slow webhook held %d workers at once, want its share of 1", m)
	}
}
