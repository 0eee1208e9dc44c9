package voice_test

import (
	"strconv"
	"testing"
	"time"
)

// Each incoming packet's fan-out goes out in one batch of sends on the
// media plane, and every batch opened is closed. Two talkers make two
// fan-outs that overlap in time on their own goroutines: every listener
// still hears both (a packet queued in one talker's batch leaves when
// any open batch ends).
func TestSFUForwardBatchesSends(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := testCtx(t)
	peers := make([]*peer, 4)
	for i := range peers {
		acct := w.owner
		if i > 0 {
			acct = w.member("b" + strconv.Itoa(i))
		}
		peers[i] = w.join(ctx, acct)
	}
	talkers := peers[:2]
	for _, p := range talkers {
		if err := p.publish(ctx, true, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range peers {
		for _, o := range talkers {
			if o == p {
				continue
			}
			p.until(ctx, "both talkers heard", func() bool { return p.count(o.acct, "mic") >= 20 })
		}
	}
	if w.plane.ends.Load() == 0 {
		t.Fatal("packets were forwarded without a batch of sends")
	}
	// With the talkers gone their fan-outs stop; every BeginBatch must
	// have had its EndBatch (an open batch would hold the plane's other
	// writes in the queue).
	for _, p := range talkers {
		_ = p.part.Leave()
		p.close()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, e := w.plane.begins.Load(), w.plane.ends.Load()
		if b == e {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("batches begun %d, ended %d", b, e)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
