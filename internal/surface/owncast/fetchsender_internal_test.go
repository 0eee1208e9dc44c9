package owncast

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/ratelimit"
)

// TestFetchSenderNamesAddress: the federation routes name the client's
// address (its IPv6 /64, X-Forwarded-For only behind a trusted proxy) as
// the sender whose share of remote fetches an inbox POST or a signed fetch
// counts against (federation.FetchesPerSender), so one address's
// activities cannot take every fetch turn. Without the name, every
// request's fetches shared the node's turns with no bound per sender.
func TestFetchSenderNamesAddress(t *testing.T) {
	t.Parallel()
	s := &Surface{}
	turns := ratelimit.NewTurns(8, time.Hour).PerKey(1)
	at := func(remote, xff string) error {
		r := httptest.NewRequest("POST", "/federation/user/streamer/inbox", nil)
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		_, err := turns.TakeFor(s.fetchSender(r))
		return err
	}
	if err := at("203.0.113.7:4000", ""); err != nil {
		t.Fatal(err)
	}
	if err := at("203.0.113.7:4001", "198.51.100.1"); !errors.Is(err, ratelimit.ErrOwnTurns) {
		t.Fatalf("the same address again (another port, a forged X-Forwarded-For): %v, want ErrOwnTurns", err)
	}
	if err := at("[2001:db8::1]:4000", ""); err != nil {
		t.Fatal(err)
	}
	if err := at("[2001:db8::2]:4000", ""); !errors.Is(err, ratelimit.ErrOwnTurns) {
		t.Fatalf("another address of the same /64: %v, want ErrOwnTurns", err)
	}
	if err := at("198.51.100.9:4000", ""); err != nil {
		t.Fatalf("another address: %v", err)
	}
}
