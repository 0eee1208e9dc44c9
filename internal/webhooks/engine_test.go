package webhooks_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/webhooks"
)

type report struct {
	n     int
	err   error
	final bool
}

// TestEngineCarriesEachSurfacesFormat: the one engine sends a delivery's
// own body and signature headers (here a Together-style one, numbered per
// attempt), retries on the configured delays, and reports every attempt.
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
	u, _ := url.Parse(srv.URL)
	target := netip.MustParseAddrPort(u.Host)
	client, err := egress.New(egress.Config{AllowAddr: func(ap netip.AddrPort) bool { return ap == target }, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e, err := webhooks.NewEngine(webhooks.EngineConfig{Delays: []time.Duration{time.Millisecond, time.Millisecond}}, client, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	reports := make(chan report, 4)
	e.Enqueue(ctx, &webhooks.Delivery{URL: srv.URL, Body: []byte(`{"event":"ping"}`),
		Sign: func(h http.Header, n int, _ time.Time) {
			h.Set("X-Sig", "sha256=abc")
			h.Set("X-Attempt", strconv.Itoa(n))
		},
		Report: func(_ context.Context, n int, err error, final bool) { reports <- report{n, err, final} }})
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

// TestEngineReportsDrops: a delivery the queue has no room for is reported
// once, as final, with ErrQueueFull.
func TestEngineReportsDrops(t *testing.T) {
	t.Parallel()
	client, err := egress.New(egress.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := webhooks.NewEngine(webhooks.EngineConfig{QueueSize: 1}, client, nil) // not running: nothing drains
	if err != nil {
		t.Fatal(err)
	}
	var rs []report
	rep := func(_ context.Context, n int, err error, final bool) { rs = append(rs, report{n, err, final}) }
	ctx := context.Background()
	if !e.Enqueue(ctx, &webhooks.Delivery{URL: "https://example.org/", Report: rep}) {
		t.Fatal("first delivery dropped")
	}
	if e.Enqueue(ctx, &webhooks.Delivery{URL: "https://example.org/", Report: rep}) {
		t.Fatal("second delivery queued past the queue size")
	}
	if len(rs) != 1 || !errors.Is(rs[0].err, webhooks.ErrQueueFull) || !rs[0].final {
		t.Fatalf("reports = %+v", rs)
	}
}
