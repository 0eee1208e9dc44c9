package federation_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// signedLooking is an inbox POST that passes every check before the
// signer's key is fetched (the signed headers, Date, Digest) and names
// keyID: what anyone can send without a key of their own.
func signedLooking(keyID string) *http.Request {
	body := `{"type":"Follow","actor":"x","object":"y"}`
	r := httptest.NewRequest("POST", "https://stage.example/federation/user/streamer/inbox", strings.NewReader(body))
	sum := sha256.Sum256([]byte(body))
	r.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	r.Header.Set("Digest", "SHA-256="+base64.StdEncoding.EncodeToString(sum[:]))
	r.Header.Set("Signature", `keyId="`+keyID+`",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="AAAA"`)
	return r
}

// TestRemoteFetchesTakeTurns shows that an inbound activity cannot make
// the node fetch remote documents side by side without bound: each fresh
// key id used to start a fetch of its own (up to 256 KiB, for up to 10 s)
// whoever sent it. With the only turn held by a fetch still arriving, the
// next activity is refused as rate limited and fetches nothing.
func TestRemoteFetchesTakeTurns(t *testing.T) {
	t.Parallel()
	db := storetest.Engines()[0].Open(t)
	n := newService(t, db, federation.Config{MaxFetches: 1, FetchWait: 50 * time.Millisecond})
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	var otherHits atomic.Int64
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/held" {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			entered <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		otherHits.Add(1)
		http.NotFound(w, r)
	}))
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(peer.Close)
	t.Cleanup(unblock)

	first := make(chan error, 1)
	go func() { first <- n.Inbox(context.Background(), "streamer", signedLooking(peer.URL+"/held#main-key")) }()
	<-entered
	err := n.Inbox(context.Background(), "streamer", signedLooking(peer.URL+"/other#main-key"))
	var fe *fault.Error
	if fault.KindOf(err) != fault.RateLimited || !errors.As(err, &fe) || fe.RetryAfter <= 0 {
		t.Fatalf("an activity while the only fetch turn is held: %v, want rate limited with a retry time", err)
	}
	if h := otherHits.Load(); h != 0 {
		t.Fatalf("the refused activity fetched its signer %d times", h)
	}
	unblock()
	if err := <-first; err == nil || fault.KindOf(err) == fault.RateLimited {
		t.Fatalf("the held activity: %v, want its own refusal (no key in the document)", err)
	}
	_ = n.Inbox(context.Background(), "streamer", signedLooking(peer.URL+"/other#main-key"))
	if h := otherHits.Load(); h != 1 {
		t.Fatalf("with the turn free the signer was fetched %d times, want 1", h)
	}
}

// TestRemoteFetchesPerSender: one sender (the address the surface names
// with ratelimit.WithTurnKey) makes or awaits at most
// federation.FetchesPerSender fetches at once. With two of its activities
// held by a key server that answers slowly, its third is refused as rate
// limited at once and fetches nothing, while another sender's activity
// gets a free turn. Before, one address's activities naming a slow key
// server held every turn and the queue, and every real server's delivery
// was refused.
func TestRemoteFetchesPerSender(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			remoteFetchesPerSender(t, eng)
		})
	}
}

func remoteFetchesPerSender(t *testing.T, eng storetest.Engine) {
	db := eng.Open(t)
	n := newService(t, db, federation.Config{MaxFetches: 2 * federation.FetchesPerSender, FetchWait: time.Hour})
	release, entered := make(chan struct{}), make(chan struct{}, federation.FetchesPerSender)
	var otherHits atomic.Int64
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/held") {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			entered <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		otherHits.Add(1)
		http.NotFound(w, r)
	}))
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(peer.Close)
	t.Cleanup(unblock)

	mallory := ratelimit.WithTurnKey(context.Background(), "addr 203.0.113.7")
	held := make(chan error, federation.FetchesPerSender)
	for i := range federation.FetchesPerSender {
		go func() {
			held <- n.Inbox(mallory, "streamer", signedLooking(peer.URL+"/held"+strconv.Itoa(i)+"#main-key"))
		}()
	}
	for range federation.FetchesPerSender {
		<-entered
	}
	err := n.Inbox(mallory, "streamer", signedLooking(peer.URL+"/other#main-key"))
	var fe *fault.Error
	if fault.KindOf(err) != fault.RateLimited || !errors.As(err, &fe) || fe.RetryAfter <= 0 {
		t.Fatalf("a third activity of the same sender: %v, want rate limited with a retry time", err)
	}
	if h := otherHits.Load(); h != 0 {
		t.Fatalf("the refused activity fetched its signer %d times", h)
	}
	other := ratelimit.WithTurnKey(context.Background(), "addr 198.51.100.9")
	if err := n.Inbox(other, "streamer", signedLooking(peer.URL+"/other2#main-key")); fault.KindOf(err) == fault.RateLimited {
		t.Fatalf("another sender's activity: %v, want a fetch", err)
	}
	if h := otherHits.Load(); h != 1 {
		t.Fatalf("another sender's signer was fetched %d times, want 1", h)
	}
	unblock()
	for range federation.FetchesPerSender {
		if err := <-held; err == nil || fault.KindOf(err) == fault.RateLimited {
			t.Fatalf("a held activity: %v, want its own refusal (no key in the document)", err)
		}
	}
}
