package voice_test

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
)

// throttle is a bottleneck on a client's receive path: every RTP packet
// it receives leaves a queue drained at bps. Nothing is lost, so receiver
// reports show no loss and NACKs nothing: only the queueing delay grows,
// which TWCC feedback shows the sender.
type throttle struct {
	interceptor.NoOp
	bps int64

	mu   sync.Mutex
	next time.Time
}

func (th *throttle) NewInterceptor(string) (interceptor.Interceptor, error) { return th, nil }

func (th *throttle) BindRemoteStream(_ *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		if err != nil {
			return n, a, err
		}
		th.mu.Lock()
		now := time.Now()
		if th.next.Before(now) {
			th.next = now
		}
		th.next = th.next.Add(time.Duration(int64(n) * 8 * int64(time.Second) / th.bps))
		wait := th.next.Sub(now)
		th.mu.Unlock()
		time.Sleep(wait)
		return n, a, nil
	})
}

// TestSFUThrottledSubscriberGetsLowLayer: three subscribers of one
// simulcast camera (layers of about 50, 170 and 450 kbit/s); one receives
// through a 150 kbit/s bottleneck that delays but never drops. The SFU's
// send-side bandwidth estimate from that subscriber's TWCC feedback moves
// it to the low layer, while the two on open links keep the high one.
// Without the estimate nothing would move it: its receiver reports show
// no loss and it sends no REMB.
func TestSFUThrottledSubscriberGetsLowLayer(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := testCtx(t)
	pub := w.join(ctx, w.owner)
	pub.layerBytes = [3]int{100, 400, 1100}
	if err := pub.publish(ctx, true, true); err != nil {
		t.Fatal(err)
	}
	fast1 := w.join(ctx, w.member("fast1"))
	fast2 := w.join(ctx, w.member("fast2"))
	slow := w.joinWith(ctx, w.sfu, clientAPI(t, &throttle{bps: 150_000}), w.member("slow"))

	// Each wait has its own budget: on a loaded machine the estimate may
	// take most of one to fall. A link's estimate on a busy host can dip
	// (GCC reads scheduling jitter as queueing), so an open link must have
	// carried the high layer at some time, not at one given moment.
	slow.until(testCtx(t), "the low layer on the throttled link", func() bool {
		r, ok := slow.rank(pub.acct, "cam")
		return ok && r == 0
	})
	for _, f := range []*peer{fast1, fast2} {
		f.until(testCtx(t), "the high layer on an open link", func() bool {
			r, ok := f.topRank(pub.acct, "cam")
			return ok && r == 2 && f.count(pub.acct, "mic") > 0
		})
	}
	// The throttled one never carried the high layer for long: it is on
	// the low layer now, after the fast ones got the high one.
	slow.until(testCtx(t), "the low layer on the throttled link, still", func() bool {
		r, ok := slow.rank(pub.acct, "cam")
		return ok && r == 0
	})
}
