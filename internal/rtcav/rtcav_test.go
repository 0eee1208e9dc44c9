package rtcav_test

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/hearth-community/hearth/internal/rtcav"
	"github.com/hearth-community/hearth/internal/transcode"
)

var (
	sps = []byte{0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0x84, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xc8, 0x3c, 0x58, 0xba, 0x80}
	pps = []byte{0x68, 0xce, 0x3c, 0x80}
	idr = append([]byte{0x65, 0x88, 0x84}, bytes.Repeat([]byte{0xab}, 3000)...) // fragmented (FU-A)
	p1  = []byte{0x41, 0x9a, 0x02, 0x03}
)

// packets packetizes access units (Annex B) into RTP as a WebRTC sender
// does: one timestamp per unit, the marker on its last packet.
func packets(units ...[]byte) []*rtp.Packet {
	pz := rtp.NewPacketizer(1200, 96, 1, &codecs.H264Payloader{}, rtp.NewRandomSequencer(), 90000)
	var out []*rtp.Packet
	for _, u := range units {
		out = append(out, pz.Packetize(u, 3600)...)
	}
	return out
}

func annexB(nalus ...[]byte) []byte {
	var b []byte
	for _, n := range nalus {
		b = append(b, 0, 0, 0, 1)
		b = append(b, n...)
	}
	return b
}

// TestH264ToFLV: frames before the first keyframe are dropped; the
// keyframe's SPS/PPS become an AVC sequence header that transcode parses;
// the frame tags carry AVCC NAL units the remuxer can turn back into the
// same Annex B.
func TestH264ToFLV(t *testing.T) {
	t.Parallel()
	c := rtcav.NewH264ToFLV()
	var tags []rtcav.Tag
	for _, p := range packets(annexB(p1), annexB(sps, pps, idr), annexB(p1), annexB(p1)) {
		tags = append(tags, c.Push(p)...)
	}
	// The builder holds the last frame until it knows it is complete; the
	// order and content of what came out is what matters.
	if len(tags) < 3 {
		t.Fatalf("%d tags", len(tags))
	}
	hdr, err := transcode.ParseVideoTag(tags[0].Data)
	if err != nil || hdr.PacketTyp != 0 || !hdr.Keyframe {
		t.Fatalf("first tag: %+v %v", hdr, err)
	}
	cfg, err := transcode.ParseAVCConfig(hdr.Data)
	if err != nil || !bytes.Equal(cfg.SPS[0], sps) || !bytes.Equal(cfg.PPS[0], pps) || cfg.LengthSize != 4 {
		t.Fatalf("config: %+v %v", cfg, err)
	}
	key, err := transcode.ParseVideoTag(tags[1].Data)
	if err != nil || key.PacketTyp != 1 || !key.Keyframe || !tags[1].Key {
		t.Fatalf("keyframe tag: %+v %v", key, err)
	}
	got, isIDR, err := transcode.AppendAnnexB(nil, key.Data, 4)
	if err != nil || !isIDR || !bytes.Equal(got, annexB(sps, pps, idr)) {
		t.Fatalf("keyframe NAL units differ (idr %v, %v)", isIDR, err)
	}
	if f, _ := transcode.ParseVideoTag(tags[2].Data); f.Keyframe || tags[2].RTPTime != tags[1].RTPTime+3600 {
		t.Fatalf("next frame: %+v", tags[2])
	}

	// And back: FLVToH264 puts the parameter sets before the keyframe.
	var f rtcav.FLVToH264
	if b, _, err := f.Frame(tags[0].Data); b != nil || err != nil {
		t.Fatalf("sequence header: %v %v", b, err)
	}
	if f.ProfileLevelID() != "42c01e" {
		t.Fatalf("profile-level-id %q", f.ProfileLevelID())
	}
	b, k, err := f.Frame(tags[1].Data)
	if err != nil || !k || !bytes.Equal(b, annexB(sps, pps, sps, pps, idr)) {
		t.Fatalf("keyframe: %v %v", k, err)
	}
}

func TestSplitAnnexB(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   []byte
		want int
	}{
		{nil, 0},
		{[]byte{0, 0, 1, 0x67, 1, 0, 0, 0, 1, 0x68, 2}, 2},
		{[]byte{0, 0, 0, 1, 0x65}, 1},
		{[]byte{0x65, 1, 2}, 1}, // a bare NAL unit
		{[]byte{0, 0, 1, 0, 0, 1}, 0},
	} {
		if got := rtcav.SplitAnnexB(c.in); len(got) != c.want {
			t.Errorf("%x: %d units, want %d", c.in, len(got), c.want)
		}
	}
}

// FuzzH264ToFLV: RTP payloads from a publisher never crash the converter,
// and every tag it makes parses.
func FuzzH264ToFLV(f *testing.F) {
	for _, p := range packets(annexB(sps, pps, idr), annexB(p1)) {
		f.Add(p.Payload, p.Marker)
	}
	f.Fuzz(func(t *testing.T, payload []byte, marker bool) {
		c := rtcav.NewH264ToFLV()
		for i := range 3 {
			p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i * 3000), Marker: marker || i == 2}, Payload: payload}
			for _, tag := range c.Push(p) {
				if _, err := transcode.ParseVideoTag(tag.Data); err != nil {
					t.Fatalf("tag does not parse: %v", err)
				}
			}
		}
	})
}
