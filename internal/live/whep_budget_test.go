package live

import (
	"errors"
	"strconv"
	"testing"

	"github.com/hearth-community/hearth/internal/fault"
)

// TestWHEPBudget: an address gets maxWHEPPerIP sessions, connecting or
// connected; the node maxWHEPConnecting connecting ones, after which an
// offer is refused as unavailable with a Retry-After until one connects or
// ends; a released slot is counted once, however often it is released.
func TestWHEPBudget(t *testing.T) {
	t.Parallel()
	var b whepBudget
	var slots []*whepSlot
	for i := range maxWHEPPerIP {
		s, err := b.take("a")
		if err != nil {
			t.Fatalf("take %d: %v", i, err)
		}
		slots = append(slots, s)
	}
	var fe *fault.Error
	if _, err := b.take("a"); !errors.As(err, &fe) || fe.Kind != fault.RateLimited || fe.RetryAfter <= 0 {
		t.Fatalf("over the address's bound: %v", err)
	}
	// Connected sessions still count for the address.
	slots[0].markConnected()
	if _, err := b.take("a"); fault.KindOf(err) != fault.RateLimited {
		t.Fatalf("after one connected: %v", err)
	}
	slots[0].release()
	slots[0].release()
	if n, c := b.counts("a"); n != maxWHEPPerIP-1 || c != maxWHEPPerIP-1 {
		t.Fatalf("after release: %d for the address, %d connecting", n, c)
	}
	// Fill the node's connecting slots from other addresses.
	for i := 0; ; i++ {
		_, c := b.counts("")
		if c == maxWHEPConnecting {
			break
		}
		s, err := b.take("ip" + strconv.Itoa(i/maxWHEPPerIP))
		if err != nil {
			t.Fatalf("filling: %v", err)
		}
		slots = append(slots, s)
	}
	if _, err := b.take("fresh"); !errors.As(err, &fe) || fe.Kind != fault.Unavailable || fe.RetryAfter <= 0 {
		t.Fatalf("node full of connecting sessions: %v", err)
	}
	slots[1].markConnected()
	s, err := b.take("fresh")
	if err != nil {
		t.Fatalf("after one connected: %v", err)
	}
	s.release()
	for _, s := range slots {
		s.release()
	}
	if n, c := b.counts("a"); n != 0 || c != 0 || len(b.perIP) != 0 {
		t.Fatalf("all released: %d, %d connecting, %d addresses", n, c, len(b.perIP))
	}
}

// TestWHEPBudgetCountsIPv6Prefix: an IPv6 client's sessions count by its
// /64, as the node's other per-address bounds do: a host holding a /64
// used to get 32 sessions from each of its addresses.
func TestWHEPBudgetCountsIPv6Prefix(t *testing.T) {
	t.Parallel()
	var b whepBudget
	for i := range maxWHEPPerIP {
		if _, err := b.take("2001:db8:5:5::" + strconv.FormatInt(int64(i+1), 16)); err != nil {
			t.Fatalf("take %d: %v", i, err)
		}
	}
	if _, err := b.take("2001:db8:5:5:ffff::1"); fault.KindOf(err) != fault.RateLimited {
		t.Fatalf("another address of the same /64: %v, want rate limited", err)
	}
	if _, err := b.take("2001:db8:5:6::1"); err != nil {
		t.Fatalf("another /64: %v", err)
	}
}
