package together

import (
	"testing"
	"time"
)

// TestFrameRate: a connection may send 20 frames per second; the 21st in
// the same instant is dropped, and the budget refills at 20/s.
func TestFrameRate(t *testing.T) {
	t.Parallel()
	c := &client{}
	t0 := time.Unix(1000, 0)
	for i := range 20 {
		if !c.allow(t0) {
			t.Fatalf("frame %d refused", i+1)
		}
	}
	if c.allow(t0) {
		t.Fatal("21st frame in the same instant allowed")
	}
	if !c.allow(t0.Add(50 * time.Millisecond)) {
		t.Fatal("no refill after 50 ms")
	}
	if c.allow(t0.Add(50 * time.Millisecond)) {
		t.Fatal("refilled more than one frame in 50 ms")
	}
}
