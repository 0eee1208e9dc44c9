// Package rtcav converts media between WebRTC's RTP and the FLV tags the
// live pipeline speaks (what RTMP publishers send): H.264 RTP access units
// to AVC tags and back without decoding, and Opus ⇄ AAC through one small
// audio-only ffmpeg. It holds no product logic and imports no domain
// package.
package rtcav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/hearth-community/hearth/internal/transcode"
)

// H.264 NAL unit types used here.
const (
	naluIDR = 5
	naluSPS = 7
	naluPPS = 8
	naluAUD = 9
)

// maxLate is how many packets the H.264 sample builder waits for a missing
// one (NACK repairs arrive well within it) before it drops the frame.
const maxLate = 512

// H264ToFLV reassembles H.264 RTP packets into access units and turns them
// into FLV video tag bodies as an RTMP encoder sends them: an AVC sequence
// header (built from the in-band SPS and PPS) before the first keyframe
// and whenever they change, then one AVCC NALU tag per access unit.
// Frames before the first keyframe are dropped (they cannot be decoded).
// Composition time is 0: WebRTC encoders send no B-frames.
type H264ToFLV struct {
	sb       *samplebuilder.SampleBuilder
	sps, pps []byte
	sentHdr  bool
	started  bool
}

// NewH264ToFLV makes a converter.
func NewH264ToFLV() *H264ToFLV {
	return &H264ToFLV{sb: samplebuilder.New(maxLate, &codecs.H264Packet{}, 90000)}
}

// Tag is one FLV tag body with its RTP timestamp.
type Tag struct {
	RTPTime uint32
	Data    []byte
	Key     bool
}

// Push adds one RTP packet and returns the tags completed by it (an AVC
// sequence header comes before the frame that carried new parameter sets).
func (h *H264ToFLV) Push(p *rtp.Packet) []Tag {
	h.sb.Push(p)
	var out []Tag
	for s := h.sb.Pop(); s != nil; s = h.sb.Pop() {
		out = h.frame(s.PacketTimestamp, s.Data, out)
	}
	return out
}

func (h *H264ToFLV) frame(ts uint32, annexB []byte, out []Tag) []Tag {
	key, changed := false, false
	body := []byte{0x27, 1, 0, 0, 0}
	for _, n := range SplitAnnexB(annexB) {
		switch n[0] & 0x1f {
		case naluSPS:
			if !bytes.Equal(n, h.sps) {
				h.sps, changed = append([]byte(nil), n...), true
			}
		case naluPPS:
			if !bytes.Equal(n, h.pps) {
				h.pps, changed = append([]byte(nil), n...), true
			}
		case naluAUD:
			continue
		case naluIDR:
			key = true
		}
		body = binary.BigEndian.AppendUint32(body, uint32(len(n)))
		body = append(body, n...)
	}
	if h.sps == nil || h.pps == nil || len(h.sps) < 4 || len(h.sps) > 0xffff || len(h.pps) > 0xffff {
		return out
	}
	if changed || !h.sentHdr {
		out = append(out, Tag{RTPTime: ts, Data: AVCSequenceHeader(h.sps, h.pps), Key: true})
		h.sentHdr = true
	}
	if !h.started && !key {
		return out
	}
	h.started = true
	if key {
		body[0] = 0x17
	}
	if len(body) == 5 {
		return out
	}
	return append(out, Tag{RTPTime: ts, Data: body, Key: key})
}

// AVCSequenceHeader is the FLV AVC sequence header tag body (an
// AVCDecoderConfigurationRecord with 4-byte NAL lengths) for one SPS and
// one PPS.
func AVCSequenceHeader(sps, pps []byte) []byte {
	b := []byte{0x17, 0, 0, 0, 0, 1, sps[1], sps[2], sps[3], 0xff, 0xe1}
	b = binary.BigEndian.AppendUint16(b, uint16(len(sps)))
	b = append(b, sps...)
	b = append(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pps)))
	return append(b, pps...)
}

// SplitAnnexB splits an Annex B byte stream into NAL units (without start
// codes); empty units are skipped.
func SplitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				out = appendNALU(out, b[start:i])
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 {
		out = appendNALU(out, b[start:])
	} else if len(b) > 0 {
		out = appendNALU(out, b)
	}
	return out
}

func appendNALU(out [][]byte, n []byte) [][]byte {
	for len(n) > 0 && n[len(n)-1] == 0 { // the leading zero of a 4-byte start code
		n = n[:len(n)-1]
	}
	if len(n) == 0 {
		return out
	}
	return append(out, n)
}

// FLVToH264 turns FLV AVC tags into Annex B access units for an RTP
// packetizer, with the SPS and PPS put in front of every keyframe so a
// viewer can start decoding at any keyframe.
type FLVToH264 struct {
	cfg *transcode.AVCConfig
}

// ErrNotH264 is returned for video that is not H.264.
var ErrNotH264 = errors.New("rtcav: the video is not H.264")

// Frame converts one FLV video tag body. It returns nil for a sequence
// header (kept for later frames) and for frames before one.
func (f *FLVToH264) Frame(tag []byte) (annexB []byte, key bool, err error) {
	t, err := transcode.ParseVideoTag(tag)
	if err != nil {
		return nil, false, err
	}
	if t.Codec != transcode.VideoCodecAVC {
		return nil, false, ErrNotH264
	}
	switch t.PacketTyp {
	case 0:
		c, err := transcode.ParseAVCConfig(t.Data)
		if err != nil {
			return nil, false, err
		}
		f.cfg = c
		return nil, false, nil
	case 1:
	default:
		return nil, false, nil
	}
	if f.cfg == nil {
		return nil, false, nil
	}
	var b []byte
	if t.Keyframe {
		for _, ps := range append(append([][]byte(nil), f.cfg.SPS...), f.cfg.PPS...) {
			b = append(b, 0, 0, 0, 1)
			b = append(b, ps...)
		}
	}
	b, idr, err := transcode.AppendAnnexB(b, t.Data, f.cfg.LengthSize)
	if err != nil {
		return nil, false, fmt.Errorf("rtcav: %w", err)
	}
	return b, t.Keyframe || idr, nil
}

// ProfileLevelID is the SDP profile-level-id of the last sequence header
// ("" before one).
func (f *FLVToH264) ProfileLevelID() string {
	if f.cfg == nil || len(f.cfg.SPS) == 0 || len(f.cfg.SPS[0]) < 4 {
		return ""
	}
	s := f.cfg.SPS[0]
	return fmt.Sprintf("%02x%02x%02x", s[1], s[2], s[3])
}
