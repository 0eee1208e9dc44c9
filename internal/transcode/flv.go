// Package transcode turns a published stream into MPEG-TS for the HLS
// segmenter: passthrough variants are remuxed in Go (FLV tags → MPEG-TS,
// no ffmpeg), transcoded variants run one supervised ffmpeg child fed with
// FLV on stdin and writing one MPEG-TS pipe per variant. It holds no product
// logic and imports no domain package.
package transcode

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// FLV codec ids.
const (
	VideoCodecAVC  = 7
	AudioCodecAAC  = 10
	flvAVCSeqHdr   = 0
	flvAVCNALU     = 1
	flvAACSeqHdr   = 0
	flvAACRaw      = 1
	flvKeyframe    = 1
	flvTagAudio    = 8
	flvTagVideo    = 9
	flvTagScript   = 18
	maxNALUsPerTag = 1024
)

// ErrMedia is wrapped by errors about malformed audio or video tags.
var ErrMedia = errors.New("transcode: bad media data")

// AVCConfig is a parsed AVCDecoderConfigurationRecord.
type AVCConfig struct {
	Profile, Level byte
	LengthSize     int
	SPS, PPS       [][]byte
	Width, Height  int // from the first SPS, 0 when it could not be read
}

// ParseAVCConfig parses an AVCDecoderConfigurationRecord.
func ParseAVCConfig(b []byte) (*AVCConfig, error) {
	if len(b) < 7 || b[0] != 1 {
		return nil, fmt.Errorf("%w: AVC decoder configuration record too short or wrong version", ErrMedia)
	}
	c := &AVCConfig{Profile: b[1], Level: b[3], LengthSize: int(b[4]&3) + 1}
	if c.LengthSize == 3 {
		return nil, fmt.Errorf("%w: NAL length size 3", ErrMedia)
	}
	off := 5
	for _, dst := range []*[][]byte{&c.SPS, &c.PPS} {
		if off >= len(b) {
			return nil, fmt.Errorf("%w: truncated AVC configuration", ErrMedia)
		}
		n := int(b[off])
		if dst == &c.SPS {
			n &= 0x1f
		}
		off++
		for i := 0; i < n; i++ {
			if off+2 > len(b) {
				return nil, fmt.Errorf("%w: truncated parameter set", ErrMedia)
			}
			l := int(binary.BigEndian.Uint16(b[off:]))
			off += 2
			if off+l > len(b) || l == 0 {
				return nil, fmt.Errorf("%w: truncated parameter set", ErrMedia)
			}
			*dst = append(*dst, append([]byte(nil), b[off:off+l]...))
			off += l
		}
	}
	if len(c.SPS) == 0 {
		return nil, fmt.Errorf("%w: no SPS", ErrMedia)
	}
	c.Width, c.Height = spsSize(c.SPS[0])
	return c, nil
}

// AACConfig is a parsed AudioSpecificConfig.
type AACConfig struct {
	ObjectType   int
	FreqIndex    int
	ChannelCfg   int
	SampleRate   int
	SamplesPerFr int
}

var aacRates = [...]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// ParseAACConfig parses an AudioSpecificConfig.
func ParseAACConfig(b []byte) (*AACConfig, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: AudioSpecificConfig too short", ErrMedia)
	}
	c := &AACConfig{ObjectType: int(b[0] >> 3), FreqIndex: int(b[0]&7)<<1 | int(b[1]>>7), ChannelCfg: int(b[1]>>3) & 0xf, SamplesPerFr: 1024}
	if c.ObjectType == 0 || c.ObjectType > 4 || c.FreqIndex >= len(aacRates) {
		return nil, fmt.Errorf("%w: unsupported AAC object type %d / frequency index %d", ErrMedia, c.ObjectType, c.FreqIndex)
	}
	c.SampleRate = aacRates[c.FreqIndex]
	return c, nil
}

// ADTSHeader appends a 7-byte ADTS header for a raw frame of n bytes.
func (c *AACConfig) ADTSHeader(b []byte, n int) []byte {
	l := n + 7
	return append(b,
		0xff, 0xf1,
		byte((c.ObjectType-1)<<6|c.FreqIndex<<2|(c.ChannelCfg>>2)),
		byte((c.ChannelCfg&3)<<6|(l>>11)&3),
		byte(l>>3),
		byte((l&7)<<5|0x1f),
		0xfc)
}

// VideoTag is a parsed FLV video tag body.
type VideoTag struct {
	Keyframe  bool
	Codec     int
	PacketTyp int   // 0 sequence header, 1 NAL units, 2 end of sequence
	CTS       int32 // composition time offset, ms
	Data      []byte
}

// ParseVideoTag parses an FLV video tag body (the RTMP video message).
func ParseVideoTag(b []byte) (VideoTag, error) {
	if len(b) < 1 {
		return VideoTag{}, fmt.Errorf("%w: empty video tag", ErrMedia)
	}
	t := VideoTag{Keyframe: b[0]>>4 == flvKeyframe, Codec: int(b[0] & 0xf)}
	if b[0]&0x80 != 0 {
		return t, fmt.Errorf("%w: enhanced RTMP video (HEVC/AV1) is not supported for passthrough", ErrMedia)
	}
	if t.Codec != VideoCodecAVC {
		t.Data = b[1:]
		return t, nil
	}
	if len(b) < 5 {
		return t, fmt.Errorf("%w: short AVC video tag", ErrMedia)
	}
	t.PacketTyp = int(b[1])
	cts := int32(uint32(b[2])<<16 | uint32(b[3])<<8 | uint32(b[4]))
	if cts&0x800000 != 0 {
		cts |= ^0xffffff
	}
	t.CTS = cts
	t.Data = b[5:]
	return t, nil
}

// AudioTag is a parsed FLV audio tag body.
type AudioTag struct {
	Format    int
	PacketTyp int // AAC: 0 sequence header, 1 raw
	Data      []byte
}

// ParseAudioTag parses an FLV audio tag body.
func ParseAudioTag(b []byte) (AudioTag, error) {
	if len(b) < 1 {
		return AudioTag{}, fmt.Errorf("%w: empty audio tag", ErrMedia)
	}
	t := AudioTag{Format: int(b[0] >> 4)}
	if t.Format != AudioCodecAAC {
		t.Data = b[1:]
		return t, nil
	}
	if len(b) < 2 {
		return t, fmt.Errorf("%w: short AAC audio tag", ErrMedia)
	}
	t.PacketTyp = int(b[1])
	t.Data = b[2:]
	return t, nil
}

// AppendAnnexB converts length-prefixed NAL units to Annex B start-code
// form, appending to dst. It reports whether an IDR slice was seen.
func AppendAnnexB(dst, src []byte, lengthSize int) ([]byte, bool, error) {
	idr := false
	for n := 0; len(src) > 0; n++ {
		if n > maxNALUsPerTag || len(src) < lengthSize {
			return dst, idr, fmt.Errorf("%w: bad NAL unit framing", ErrMedia)
		}
		var l int
		for i := 0; i < lengthSize; i++ {
			l = l<<8 | int(src[i])
		}
		src = src[lengthSize:]
		if l > len(src) || l == 0 {
			return dst, idr, fmt.Errorf("%w: NAL unit length %d beyond tag", ErrMedia, l)
		}
		switch src[0] & 0x1f {
		case 5:
			idr = true
		case 9: // access unit delimiters are re-created by the muxer
			src = src[l:]
			continue
		}
		dst = append(dst, 0, 0, 0, 1)
		dst = append(dst, src[:l]...)
		src = src[l:]
	}
	return dst, idr, nil
}

// bitReader reads an H.264 RBSP (emulation prevention bytes removed).
type bitReader struct {
	b   []byte
	pos int
}

func (r *bitReader) bit() (uint, error) {
	if r.pos/8 >= len(r.b) {
		return 0, ErrMedia
	}
	v := uint(r.b[r.pos/8]>>(7-r.pos%8)) & 1
	r.pos++
	return v, nil
}

func (r *bitReader) bits(n int) (uint, error) {
	var v uint
	for i := 0; i < n; i++ {
		b, err := r.bit()
		if err != nil {
			return 0, err
		}
		v = v<<1 | b
	}
	return v, nil
}

func (r *bitReader) ue() (uint, error) {
	zeros := 0
	for {
		b, err := r.bit()
		if err != nil {
			return 0, err
		}
		if b == 1 {
			break
		}
		zeros++
		if zeros > 31 {
			return 0, ErrMedia
		}
	}
	v, err := r.bits(zeros)
	return (1<<zeros - 1) + v, err
}

func (r *bitReader) se() (int, error) {
	v, err := r.ue()
	if v&1 == 1 {
		return int(v+1) / 2, err
	}
	return -int(v / 2), err
}

// spsSize reads the coded picture size from an SPS; 0, 0 when it cannot.
func spsSize(sps []byte) (int, int) {
	rbsp := make([]byte, 0, len(sps))
	for i := 0; i < len(sps); i++ {
		if i >= 2 && sps[i] == 3 && sps[i-1] == 0 && sps[i-2] == 0 {
			continue
		}
		rbsp = append(rbsp, sps[i])
	}
	if len(rbsp) < 4 {
		return 0, 0
	}
	r := &bitReader{b: rbsp[1:]}
	w, h, err := readSPS(r)
	if err != nil {
		return 0, 0
	}
	return w, h
}

func readSPS(r *bitReader) (int, int, error) {
	profile, _ := r.bits(8)
	_, _ = r.bits(16) // constraint flags, level
	if _, err := r.ue(); err != nil {
		return 0, 0, err
	}
	chroma := uint(1)
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		var err error
		if chroma, err = r.ue(); err != nil {
			return 0, 0, err
		}
		if chroma == 3 {
			_, _ = r.bit()
		}
		_, _ = r.ue() // bit depth luma
		_, _ = r.ue() // bit depth chroma
		_, _ = r.bit()
		scaling, err := r.bit()
		if err != nil {
			return 0, 0, err
		}
		if scaling == 1 {
			n := 8
			if chroma == 3 {
				n = 12
			}
			for i := 0; i < n; i++ {
				present, err := r.bit()
				if err != nil {
					return 0, 0, err
				}
				if present == 1 {
					size := 16
					if i >= 6 {
						size = 64
					}
					last, next := 8, 8
					for j := 0; j < size; j++ {
						if next != 0 {
							d, err := r.se()
							if err != nil {
								return 0, 0, err
							}
							next = (last + d + 256) % 256
						}
						if next != 0 {
							last = next
						}
					}
				}
			}
		}
	}
	_, _ = r.ue() // log2_max_frame_num
	poc, err := r.ue()
	if err != nil {
		return 0, 0, err
	}
	switch poc {
	case 0:
		_, _ = r.ue()
	case 1:
		_, _ = r.bit()
		_, _ = r.se()
		_, _ = r.se()
		n, err := r.ue()
		if err != nil || n > 255 {
			return 0, 0, ErrMedia
		}
		for i := uint(0); i < n; i++ {
			_, _ = r.se()
		}
	}
	_, _ = r.ue() // max_num_ref_frames
	_, _ = r.bit()
	wmbs, _ := r.ue()
	hmbs, _ := r.ue()
	frameMBsOnly, err := r.bit()
	if err != nil {
		return 0, 0, err
	}
	if frameMBsOnly == 0 {
		_, _ = r.bit()
	}
	_, _ = r.bit()
	w := int(wmbs+1) * 16
	h := int(hmbs+1) * 16 * int(2-frameMBsOnly)
	crop, err := r.bit()
	if err != nil {
		return 0, 0, err
	}
	if crop == 1 {
		l, _ := r.ue()
		rr, _ := r.ue()
		t, _ := r.ue()
		b, err := r.ue()
		if err != nil {
			return 0, 0, err
		}
		cx, cy := 2, 2*int(2-frameMBsOnly)
		if chroma == 0 || chroma == 3 {
			cx, cy = 1, int(2-frameMBsOnly)
		}
		w -= cx * int(l+rr)
		h -= cy * int(t+b)
	}
	if w <= 0 || h <= 0 || w > 16384 || h > 16384 {
		return 0, 0, ErrMedia
	}
	return w, h, nil
}
