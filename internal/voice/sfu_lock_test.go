package voice_test

import (
	"testing"

	"github.com/hearth-community/hearth/internal/voice"
)

// Issue 16: the forwarding path takes no lock that negotiation holds. One
// subscriber's negotiation lock (and the publisher's own) is held, as a
// renegotiation stuck in pion would hold it, and the other subscriber
// must go on receiving the publisher's audio and video: a verdict on
// packets arriving during the hold, not on how fast.
func TestSFUForwardingIgnoresNegotiation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := testCtx(t)
	pub := w.join(ctx, w.owner)
	if err := pub.publish(ctx, true, true); err != nil {
		t.Fatal(err)
	}
	stuck := w.join(ctx, w.member("stuck"))
	other := w.join(ctx, w.member("other"))
	for _, p := range []*peer{stuck, other} {
		p.until(ctx, "camera and microphone", func() bool {
			return p.count(pub.acct, "mic") > 3 && p.count(pub.acct, "cam") > 3
		})
	}

	releaseStuck := voice.HoldNegotiation(stuck.part)
	releasePub := voice.HoldNegotiation(pub.part)
	held := true
	release := func() {
		if held {
			held = false
			releasePub()
			releaseStuck()
		}
	}
	defer release()
	other.mu.Lock()
	mic0, cam0 := other.count(pub.acct, "mic"), other.count(pub.acct, "cam")
	other.mu.Unlock()
	// With the fan-out waiting on the stuck subscriber's lock (or on the
	// publisher's, for its mute flag), at most one more packet of each
	// track would arrive until the release.
	other.until(ctx, "packets while a negotiation lock is held", func() bool {
		return other.count(pub.acct, "mic") >= mic0+20 && other.count(pub.acct, "cam") >= cam0+20
	})
	release()
	stuck.mu.Lock()
	mic1 := stuck.count(pub.acct, "mic")
	stuck.mu.Unlock()
	stuck.until(ctx, "packets after the release", func() bool { return stuck.count(pub.acct, "mic") > mic1 })
}
