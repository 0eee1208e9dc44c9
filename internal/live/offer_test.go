package live

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/rtc"
)

// TestOfferMediaSectionsBounded: a WHIP or WHEP offer carries a video and
// an audio section; one with more than maxMediaSections is refused as bad
// input before a peer connection is made (each section is a pion
// transceiver: 64 KiB of offer held about 500, 1.5 MiB a session).
func TestOfferMediaSectionsBounded(t *testing.T) {
	t.Parallel()
	offer := func(n int) string {
		var b strings.Builder
		b.WriteString("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n")
		b.WriteString("m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\na=rtpmap:96 H264/90000\r\n")
		for i := 1; i < n; i++ {
			fmt.Fprintf(&b, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:%d\r\na=recvonly\r\na=rtpmap:111 opus/48000/2\r\n", i)
		}
		return b.String()
	}
	for _, tc := range []struct {
		sections int
		ok       bool
	}{{2, true}, {maxMediaSections, true}, {maxMediaSections + 1, false}, {500, false}} {
		h264, audio, opus, err := offerCodecs(offer(tc.sections))
		if tc.ok {
			if err != nil || !h264 || !audio || !opus {
				t.Errorf("%d sections: %v %v %v %v, want H.264 and Opus", tc.sections, h264, audio, opus, err)
			}
			continue
		}
		if !errors.Is(err, fault.Invalid) {
			t.Errorf("%d sections: %v, want invalid", tc.sections, err)
		}
	}
}

// TestOfferCandidatesBounded: a WHEP offer (no account needed) naming more
// than rtc.MaxRemoteCandidates candidate addresses is refused as bad input
// before a peer connection is made; one of 900 made the node send 14,400
// connectivity checks to addresses of the client's choosing.
func TestOfferCandidatesBounded(t *testing.T) {
	t.Parallel()
	offer := func(addrs int) string {
		var b strings.Builder
		b.WriteString("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n")
		b.WriteString("m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\na=rtpmap:96 H264/90000\r\n")
		for i := range addrs {
			fmt.Fprintf(&b, "a=candidate:%d 1 udp %d 127.0.0.1 %d typ host\r\n", i, 2130706431-i, 20000+i)
		}
		return b.String()
	}
	if _, _, _, err := offerCodecs(offer(rtc.MaxRemoteCandidates)); err != nil {
		t.Fatalf("%d candidate addresses: %v", rtc.MaxRemoteCandidates, err)
	}
	for _, n := range []int{rtc.MaxRemoteCandidates + 1, 900} {
		if _, _, _, err := offerCodecs(offer(n)); !errors.Is(err, fault.Invalid) {
			t.Errorf("%d candidate addresses: %v, want invalid", n, err)
		}
	}
}
