package voice_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/voice"
)

// TestMeshSignalRules: which mesh signals the SFU takes, and the errors it
// answers: none when nobody in the channel uses the SFU or the target is
// not an SFU participant (the surface relays those), CONNECT checked for
// the mesh client, and an offer that is no SDP refused.
func TestMeshSignalRules(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.enableMesh(func() []*meshPeer { return nil })
	ctx := testCtx(t)
	bob, carl := w.member("bob"), w.member("carl")
	stranger := w.account("stranger")
	offer := voice.MeshSignal{Type: "offer", SDP: "v=0"}

	if handled, err := w.sfu.MeshSignal(ctx, bob, w.voice, w.owner, offer); handled || err != nil {
		t.Fatalf("no room: handled %v, %v", handled, err)
	}
	w.join(ctx, w.owner)
	if handled, err := w.sfu.MeshSignal(ctx, bob, w.voice, carl, offer); handled || err != nil {
		t.Fatalf("target not in the SFU: handled %v, %v", handled, err)
	}
	if handled, err := w.sfu.MeshSignal(ctx, stranger, w.voice, w.owner, offer); !handled || err == nil {
		t.Fatalf("a non-member's offer: handled %v, %v", handled, err)
	}
	if handled, err := w.sfu.MeshSignal(ctx, bob, w.voice, w.owner, voice.MeshSignal{Type: "candidate", Candidate: `{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}`}); !handled || err != nil {
		t.Fatalf("a candidate before the offer: handled %v, %v", handled, err)
	}
	if handled, err := w.sfu.MeshSignal(ctx, bob, w.voice, w.owner, voice.MeshSignal{Type: "offer", SDP: "not sdp"}); !handled || !errors.Is(err, fault.Invalid) {
		t.Fatalf("a bad offer: handled %v, %v", handled, err)
	}
}

// meshCarlHearsAnn is a room with one SFU talker, ann (the channel's
// owner), and a mesh client, carl, who has offered to ann: the SFU sends
// mesh signals to carl only once he exists.
func meshCarlHearsAnn(t *testing.T) (*world, context.Context, *peer, *meshPeer) {
	t.Helper()
	w := newWorld(t)
	var mp *meshPeer
	ready := make(chan struct{})
	w.enableMesh(func() []*meshPeer {
		select {
		case <-ready:
			return []*meshPeer{mp}
		default:
			return nil
		}
	})
	ctx := testCtx(t)
	ann := w.join(ctx, w.owner)
	if err := ann.publish(ctx, true, false); err != nil {
		t.Fatal(err)
	}
	mp = w.newMeshPeer(w.member("carl"))
	close(ready)
	mp.offer(ann.acct)
	return w, ctx, ann, mp
}

// TestMeshBridgeBothWays: a mesh client (driven through MeshSignal as
// Together's client signals) in a room with two SFU talkers hears both
// and is heard by both; one joined before it (it offers), one after (the
// server offers for the newcomer).
func TestMeshBridgeBothWays(t *testing.T) {
	t.Parallel()
	w, ctx, ann, mp := meshCarlHearsAnn(t)
	bob := w.join(ctx, w.member("bob"))
	if err := bob.publish(ctx, true, false); err != nil {
		t.Fatal(err)
	}
	mp.until(ctx, "carl hears ann and bob", func() bool { return mp.got[ann.acct] >= 5 && mp.got[bob.acct] >= 5 })
	for _, p := range []*peer{ann, bob} {
		p.until(ctx, "carl heard", func() bool { return p.count(mp.acct, "mic") >= 5 })
	}
}

// TestMeshBridgeTalkerPublishesWhileBridging: an SFU newcomer that
// publishes its microphone while the server is still making its bridge to
// a mesh client is heard by that client. The track joined the room when
// the bridge was not yet registered, so the room could not subscribe the
// mesh client; the bridge had listed the newcomer's microphones before
// and found none, and the mesh client never heard that talker.
func TestMeshBridgeTalkerPublishesWhileBridging(t *testing.T) {
	t.Parallel()
	w, ctx, ann, mp := meshCarlHearsAnn(t)
	mp.until(ctx, "carl hears ann", func() bool { return mp.got[ann.acct] >= 5 })

	bobAcct := w.member("bob")
	joined := make(chan *peer, 1)
	published := make(chan error, 1)
	voice.WhileBridging(w.sfu, func(target string) {
		if target != bobAcct {
			return
		}
		bob := <-joined
		err := bob.publish(ctx, true, false)
		for err == nil && !voice.PublishesMic(w.sfu, w.voice, bobAcct) {
			select {
			case <-ctx.Done():
				err = ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
		published <- err
	})
	joined <- w.join(ctx, bobAcct)
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	mp.until(ctx, "carl hears bob, who published while his bridge was made", func() bool { return mp.got[bobAcct] >= 5 })
}
