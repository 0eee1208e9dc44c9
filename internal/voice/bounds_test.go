package voice_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/rtc"
	"github.com/hearth-community/hearth/internal/voice"
)

// TestPublishBounded: an offer sending more than 16 tracks is refused
// before pion sees it (each would be forwarded to every other member),
// while 16 are answered; and the track sources a publisher names are kept
// for tracks yet to arrive only, at most 64, however many offers name new
// ones (they used to be merged for the participant's whole stay).
func TestPublishBounded(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := testCtx(t)
	offer := func(n int) string {
		t.Helper()
		pc, err := w.client.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pc.Close() })
		for i := range n {
			tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
				fmt.Sprint("a", i), "s")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
				t.Fatal(err)
			}
		}
		o, err := pc.CreateOffer(nil)
		if err != nil {
			t.Fatal(err)
		}
		done := webrtc.GatheringCompletePromise(pc)
		if err := pc.SetLocalDescription(o); err != nil {
			t.Fatal(err)
		}
		<-done
		return pc.LocalDescription().SDP
	}
	many := w.join(ctx, w.member("many"))
	if _, err := many.part.Publish(ctx, offer(17), nil); !errors.Is(err, fault.Invalid) {
		t.Fatalf("17 sending tracks: %v, want invalid", err)
	}
	some := w.join(ctx, w.member("some"))
	if _, err := some.part.Publish(ctx, offer(16), nil); err != nil {
		t.Fatalf("16 sending tracks: %v", err)
	}

	names := w.join(ctx, w.member("names"))
	const empty = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
	for round := range 20 {
		sources := map[string]string{}
		for i := range 64 {
			sources[fmt.Sprintf("r%d-t%d", round, i)] = voice.SourceScreen
		}
		_, _ = names.part.Publish(ctx, empty, sources) // the offer itself may be refused; its names were kept
	}
	if n := voice.SourcesKept(names.part); n > 64 {
		t.Fatalf("%d track sources kept after 20 offers of 64 new names, want at most 64", n)
	}
	sources := map[string]string{}
	for i := range 65 {
		sources[fmt.Sprint("t", i)] = voice.SourceMic
	}
	if _, err := names.part.Publish(ctx, empty, sources); !errors.Is(err, fault.Invalid) {
		t.Fatalf("65 sources in one offer: %v, want invalid", err)
	}
}

// TestPublishCandidatesBounded: the server's ICE agent sends connectivity
// checks to every address a client's candidates name, so a publish offer
// may name at most rtc.MaxRemoteCandidates distinct addresses over the
// connection's life: an offer past it is refused before pion sees it, and
// so is a later offer that names new addresses past it; the addresses
// already named may be named again.
func TestPublishCandidatesBounded(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := testCtx(t)
	pc, err := w.client.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "a", "s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	// The offer with from..to-1 as the ports of extra host candidates.
	offer := func(from, to int) string {
		var b strings.Builder
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "a=candidate:%d 1 udp %d 127.0.0.1 %d typ host\r\n", 9000+i, 2130706431-i, 30000+i)
		}
		sdp := o.SDP
		at := strings.Index(sdp, "a=ice-pwd:")
		at += strings.Index(sdp[at:], "\r\n") + 2
		return sdp[:at] + b.String() + sdp[at:]
	}
	many := w.join(ctx, w.member("many"))
	if _, err := many.part.Publish(ctx, offer(0, rtc.MaxRemoteCandidates+1), nil); !errors.Is(err, fault.Invalid) {
		t.Fatalf("%d candidate addresses: %v, want invalid", rtc.MaxRemoteCandidates+1, err)
	}
	some := w.join(ctx, w.member("some"))
	if _, err := some.part.Publish(ctx, offer(0, rtc.MaxRemoteCandidates-4), nil); err != nil {
		t.Fatalf("%d candidate addresses: %v", rtc.MaxRemoteCandidates-4, err)
	}
	if _, err := some.part.Publish(ctx, offer(0, rtc.MaxRemoteCandidates+4), nil); !errors.Is(err, fault.Invalid) {
		t.Fatalf("a renegotiation naming 8 new addresses past the bound: %v, want invalid", err)
	}
}
