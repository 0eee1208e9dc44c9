package webhooks_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/webhooks"
)

func newService(t *testing.T, allow func(netip.AddrPort) bool) (*webhooks.Service, *webhooksStore) {
	t.Helper()
	client, err := egress.New(egress.Config{AllowAddr: allow, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.OpenSQLite(t)
	st := &webhooksStore{Store: db.Webhooks()}
	e, err := webhooks.NewEngine(webhooks.EngineConfig{}, db.WebhookQueue(), client, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := webhooks.New(webhooks.Config{Backoff: 10 * time.Millisecond, Attempts: 3}, st, e, client, nil)
	if err != nil {
		t.Fatal(err)
	}
	runEngine(t, e)
	return s, st
}

// webhooksStore wraps the real store to signal recorded deliveries.
type webhooksStore struct {
	webhooks.Store
	recorded chan string
}

func (w *webhooksStore) RecordDelivery(ctx context.Context, id string, at time.Time, errMsg string) error {
	err := w.Store.RecordDelivery(ctx, id, at, errMsg)
	if w.recorded != nil {
		w.recorded <- errMsg
	}
	return err
}

func TestDeliverySignedRetriedRecorded(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	got := make(chan *http.Request, 4)
	bodies := make(chan []byte, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway) // first try fails: retried
			return
		}
		got <- r
		bodies <- b
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	target := netip.MustParseAddrPort(u.Host)
	s, st := newService(t, func(ap netip.AddrPort) bool { return ap == target })
	st.recorded = make(chan string, 8)
	ctx := context.Background()
	h, err := s.Create(ctx, srv.URL+"/hook", []string{webhooks.Chat})
	if err != nil {
		t.Fatal(err)
	}
	s.Dispatch(ctx, webhooks.NameChange, map[string]any{"ignored": true}) // not subscribed
	s.Dispatch(ctx, webhooks.Chat, map[string]any{"body": "<p>hi</p>"})
	if e := <-st.recorded; e == "" {
		t.Fatal("first (failing) attempt recorded as success")
	}
	if e := <-st.recorded; e != "" {
		t.Fatalf("retry recorded error %q", e)
	}
	r, body := <-got, <-bodies
	if r.Header.Get("Content-Type") != "application/json" || string(body) != `{"eventData":{"body":"\u003cp\u003ehi\u003c/p\u003e"},"type":"CHAT"}` {
		t.Fatalf("delivery %v %s", r.Header, body)
	}
	sig := r.Header.Get(webhooks.SignatureHeader)
	if !webhooks.Verify(h.Secret, sig, body, time.Now(), 5*time.Minute) {
		t.Fatalf("signature %q does not verify", sig)
	}
	if webhooks.Verify(h.Secret, sig, append(body, ' '), time.Now(), 5*time.Minute) || webhooks.Verify("other", sig, body, time.Now(), 5*time.Minute) {
		t.Fatal("signature verifies a tampered body or another secret")
	}
	if webhooks.Verify(h.Secret, sig, body, time.Now().Add(10*time.Minute), 5*time.Minute) {
		t.Fatal("stale signature accepted")
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].LastUsedAt == nil || list[0].LastError == "" {
		t.Fatalf("recorded state %+v %v", list[0], err)
	}
	if calls.Load() != 2 {
		t.Fatalf("%d calls, want 2", calls.Load())
	}
}

func TestGivesUpAfterAttempts(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	target := netip.MustParseAddrPort(u.Host)
	s, st := newService(t, func(ap netip.AddrPort) bool { return ap == target })
	st.recorded = make(chan string, 8)
	if _, err := s.Create(context.Background(), srv.URL, []string{webhooks.StreamStarted}); err != nil {
		t.Fatal(err)
	}
	s.Dispatch(context.Background(), webhooks.StreamStarted, map[string]any{})
	for range 3 {
		if e := <-st.recorded; e == "" {
			t.Fatal("failure recorded as success")
		}
	}
	select {
	case e := <-st.recorded:
		t.Fatalf("a 4th attempt was made (%q)", e)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestSSRF covers research perf.md §6.2 item 4: webhook URLs never reach
// internal addresses, neither at creation nor at delivery.
func TestSSRF(t *testing.T) {
	t.Parallel()
	s, _ := newService(t, nil)
	for _, u := range []string{"http://127.0.0.1/", "http://[::1]:8080/", "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/latest/meta-data",
		"http://10.0.0.1/", "http://0.0.0.0/", "http://2130706433/", "file:///etc/passwd", "gopher://x/", "http://user:pw@example.org/", "not a url"} {
		if _, err := s.Create(context.Background(), u, []string{webhooks.Chat}); !errors.Is(err, fault.Invalid) {
			t.Errorf("create %q: %v, want invalid", u, err)
		}
	}
	if _, err := s.Create(context.Background(), "https://example.org/hook", []string{"NOT_AN_EVENT"}); !errors.Is(err, fault.Invalid) {
		t.Errorf("unknown event accepted: %v", err)
	}
	if _, err := s.Create(context.Background(), "https://example.org/"+strings.Repeat("a", 3000), []string{webhooks.Chat}); !errors.Is(err, fault.Invalid) {
		t.Errorf("over-long url accepted: %v", err)
	}
	// A permitted endpoint that redirects to an internal address: the
	// redirect hop is refused and the internal listener never sees a request.
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer internal.Close()
	front := httptest.NewServer(http.RedirectHandler(internal.URL+"/admin", http.StatusTemporaryRedirect))
	defer front.Close()
	fu, _ := url.Parse(front.URL)
	allowed := netip.MustParseAddrPort(fu.Host)
	s2, st := newService(t, func(ap netip.AddrPort) bool { return ap == allowed })
	st.recorded = make(chan string, 8)
	if _, err := s2.Create(context.Background(), front.URL+"/hook", []string{webhooks.Chat}); err != nil {
		t.Fatalf("create: %v", err)
	}
	s2.Dispatch(context.Background(), webhooks.Chat, map[string]any{})
	if e := <-st.recorded; e == "" {
		t.Fatal("redirect to an internal address was followed")
	}
	if hits.Load() != 0 {
		t.Fatal("internal listener was reached")
	}
}
