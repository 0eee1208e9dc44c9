package voice

import (
	"strconv"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// BenchmarkFanoutPath is the SFU's own per-packet work, alone: one Opus
// packet through the publisher's mute check and fan-out to subs
// subscribers' down tracks (deafen check, sequence and timestamp rewrite),
// whose local tracks are bound to no connection, so no SRTP or socket
// cost is counted. One op is one packet to one subscriber. It shows the
// locks and allocations of the forwarding path that BenchmarkSFUForwardAudio
// buries under pion's.
func BenchmarkFanoutPath(b *testing.B) {
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	for _, subs := range []int{1, 25} {
		b.Run("subs="+strconv.Itoa(subs), func(b *testing.B) {
			s := &SFU{}
			owner := &Participant{sfu: s, AccountID: "pub"}
			t := newPubTrack(owner, "pub:mic", "audio", SourceMic, codec)
			l := &layer{rank: 2}
			next := []*layer{l}
			t.layers.Store(&next)
			for i := 0; i < subs; i++ {
				p := &Participant{sfu: s, AccountID: "s" + strconv.Itoa(i)}
				local, err := webrtc.NewTrackLocalStaticRTP(codec, t.id, t.id)
				if err != nil {
					b.Fatal(err)
				}
				t.addDown(newDownTrack(p, t, local, nil))
			}
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111}, Payload: make([]byte, 80)}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N/subs+1; i++ {
				pkt.SequenceNumber++
				pkt.Timestamp += 960
				if owner.audioOn() {
					t.fanout(l, &pkt, true)
				}
			}
		})
	}
}
