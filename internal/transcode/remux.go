package transcode

import (
	"fmt"
	"io"
)

// audioOnlyAfter is how many audio frames with no video make the remuxer
// treat the stream as audio-only.
const audioOnlyAfter = 100

// Remuxer converts a published stream's FLV tags (H.264 + AAC) to MPEG-TS
// without decoding: the passthrough variant. Output starts at the first
// video keyframe; audio before it is dropped so every segment can start
// with a decodable picture.
type Remuxer struct {
	mux       *TSMuxer
	avc       *AVCConfig
	aac       *AACConfig
	started   bool
	audioOnly bool
	audioSeen int
	vclock    unwrapper
	aclock    unwrapper
	buf       []byte
	abuf      []byte
}

// NewRemuxer writes MPEG-TS to w.
func NewRemuxer(w io.Writer) *Remuxer {
	return &Remuxer{mux: NewTSMuxer(w, true, false)}
}

// Video handles one FLV video tag body with its RTMP timestamp (ms).
func (r *Remuxer) Video(ts uint32, tag []byte) error {
	t, err := ParseVideoTag(tag)
	if err != nil {
		return err
	}
	if t.Codec != VideoCodecAVC {
		return fmt.Errorf("%w: video codec id %d cannot be passed through (H.264 only)", ErrMedia, t.Codec)
	}
	switch t.PacketTyp {
	case flvAVCSeqHdr:
		c, err := ParseAVCConfig(t.Data)
		if err != nil {
			return err
		}
		r.avc = c
		return nil
	case flvAVCNALU:
	default:
		return nil
	}
	if r.avc == nil {
		return nil // frames before the decoder configuration cannot be decoded
	}
	if r.audioOnly {
		r.audioOnly = false
		r.started = false
		r.mux.SetTracks(true, r.aac != nil)
	}
	if !r.started {
		if !t.Keyframe {
			return nil
		}
		r.started = true
		r.mux.SetTracks(true, r.aac != nil)
	}
	r.buf = r.buf[:0]
	if t.Keyframe {
		for _, ps := range r.avc.SPS {
			r.buf = append(append(r.buf, 0, 0, 0, 1), ps...)
		}
		for _, ps := range r.avc.PPS {
			r.buf = append(append(r.buf, 0, 0, 0, 1), ps...)
		}
	}
	r.buf, _, err = AppendAnnexB(r.buf, t.Data, r.avc.LengthSize)
	if err != nil {
		return err
	}
	dts := r.vclock.ms(ts) * 90
	pts := dts + int64(t.CTS)*90
	return r.mux.WriteVideo(r.buf, pts, dts, t.Keyframe)
}

// Audio handles one FLV audio tag body.
func (r *Remuxer) Audio(ts uint32, tag []byte) error {
	t, err := ParseAudioTag(tag)
	if err != nil {
		return err
	}
	if t.Format != AudioCodecAAC {
		return fmt.Errorf("%w: audio format %d cannot be passed through (AAC only)", ErrMedia, t.Format)
	}
	if t.PacketTyp == flvAACSeqHdr {
		c, err := ParseAACConfig(t.Data)
		if err != nil {
			return err
		}
		if r.aac == nil && r.started {
			r.mux.SetTracks(!r.audioOnly, true)
		}
		r.aac = c
		return nil
	}
	if r.aac == nil || len(t.Data) == 0 || len(t.Data) > 8191-7 {
		return nil
	}
	if !r.started {
		r.audioSeen++
		if r.avc != nil || r.audioSeen < audioOnlyAfter {
			return nil
		}
		r.audioOnly, r.started = true, true
		r.mux.SetTracks(false, true)
	}
	r.abuf = r.aac.ADTSHeader(r.abuf[:0], len(t.Data))
	r.abuf = append(r.abuf, t.Data...)
	return r.mux.WriteAudio(r.abuf, r.aclock.ms(ts)*90)
}

// unwrapper extends 32-bit millisecond timestamps to 64 bits.
type unwrapper struct {
	last  uint32
	epoch int64
	init  bool
}

func (u *unwrapper) ms(ts uint32) int64 {
	if u.init && ts < u.last && u.last-ts > 1<<31 {
		u.epoch += 1 << 32
	}
	u.last, u.init = ts, true
	return u.epoch + int64(ts)
}
