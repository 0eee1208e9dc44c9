package live_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/rtmp"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestWrongStreamKeysBoundedPerAddress: an address may send 20 wrong
// stream keys, then 10 a minute (RTMP and WHIP share the count); past
// that every publish from it is refused as rate limited with a
// Retry-After, the right key too (else the refusal would tell a guess
// apart), while another address (an IPv6 client by its /64) is unaffected,
// and a right key spends nothing. The clock stands still, so no timing
// decides it.
func TestWrongStreamKeysBoundedPerAddress(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newService(t, db, live.Config{Now: clk.now})
	ctx := context.Background()
	if err := s.SetVariants(ctx, s.DefaultStageID(), []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}); err != nil {
		t.Fatal(err)
	}
	keys, err := s.StreamKeys(ctx, s.DefaultStageID())
	if err != nil {
		t.Fatal(err)
	}
	publish := func(addr, key string) error {
		t.Helper()
		st, err := s.Publish(ctx, rtmp.PublishRequest{App: "live", Name: key, RemoteAddr: addr})
		if st != nil {
			st.Close(nil)
			if !s.WaitOffline(s.DefaultStageID(), 5*time.Second) {
				t.Fatal("broadcast did not end")
			}
		}
		return err
	}
	limited := func(err error) bool {
		var fe *fault.Error
		return errors.As(err, &fe) && fe.Kind == fault.RateLimited && fe.RetryAfter > 0
	}
	const attacker = "203.0.113.9:4000"
	// A right key between wrong ones spends nothing.
	if err := publish(attacker, keys[0].Key); err != nil {
		t.Fatalf("right key: %v", err)
	}
	for i := range 20 {
		if err := publish(attacker, "guess"); !errors.Is(err, fault.Unauthorized) {
			t.Fatalf("wrong key %d: %v, want unauthorized", i+1, err)
		}
	}
	if err := publish(attacker, "guess"); !limited(err) {
		t.Fatalf("21st wrong key: %v, want rate limited with Retry-After", err)
	}
	if err := publish("203.0.113.9:4001", keys[0].Key); !limited(err) {
		t.Fatalf("right key from a limited address: %v, want rate limited", err)
	}
	if err := publish("198.51.100.1:1", "guess"); !errors.Is(err, fault.Unauthorized) {
		t.Fatalf("another address: %v, want unauthorized", err)
	}
	if err := publish("198.51.100.1:1", keys[0].Key); err != nil {
		t.Fatalf("right key from another address: %v", err)
	}
	// An IPv6 client counts by its /64.
	for i := range 20 {
		if err := publish("[2001:db8::"+string(rune('a'+i%6))+"]:1", "guess"); !errors.Is(err, fault.Unauthorized) {
			t.Fatalf("IPv6 wrong key %d: %v", i+1, err)
		}
	}
	if err := publish("[2001:db8::ffff]:1", "guess"); !limited(err) {
		t.Fatalf("IPv6 /64 past its bound: %v, want rate limited", err)
	}
	// Six seconds give one attempt back.
	clk.add(6 * time.Second)
	if err := publish(attacker, keys[0].Key); err != nil {
		t.Fatalf("right key after the wait: %v", err)
	}
}
