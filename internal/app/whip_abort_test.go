package app_test

import (
	"context"
	"testing"
)

// leftCtx is a request whose client gave up once its answer was being
// made: its Err says so, though Done never closes (so the answer's ICE
// gathering completes as it would have a moment before the client left).
type leftCtx struct{ context.Context }

func (leftCtx) Err() error { return context.Canceled }

// TestWHIPOfferAbandonedBeforeItsAnswer: a WHIP publisher that gave up
// before its answer came (a client timeout, a retry after one) never
// connects, and the stage does not go live for it. Before, it did: the
// stage was shown online with no video, and the publisher's retry was
// refused (409) until the 30 s connect timeout (measured on the binary:
// WHIP POSTs cancelled after 1-5 ms held the default stage that long).
func TestWHIPOfferAbandonedBeforeItsAnswer(t *testing.T) {
	t.Parallel()
	a, _ := liveNode(t, nil)
	stage := a.Live.DefaultStageID()
	pc, _, _ := publisher(t, true)
	if x, err := a.Live.WHIP(leftCtx{context.Background()}, stage, "live-key", offerSDP(t, pc), "127.0.0.1:1"); err == nil {
		t.Fatalf("an abandoned offer got session %s", x.ID)
	}
	pc2, _, _ := publisher(t, true)
	x, err := a.Live.WHIP(context.Background(), stage, "live-key", offerSDP(t, pc2), "127.0.0.1:1")
	if err != nil {
		t.Fatalf("the publisher's retry after an abandoned offer: %v", err)
	}
	if err := a.Live.EndSession(stage, x.ID); err != nil {
		t.Fatal(err)
	}
}
