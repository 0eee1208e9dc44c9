package transcode

import (
	"encoding/binary"
	"io"
)

// MPEG-TS layout written by TSMuxer.
const (
	tsPacketSize = 188
	pidPAT       = 0x0000
	pidPMT       = 0x1000
	pidVideo     = 0x0100
	pidAudio     = 0x0101
	streamH264   = 0x1b
	streamAAC    = 0x0f
	// tsOffset shifts PTS/DTS ahead of the PCR so a decoder has buffering
	// room (ffmpeg uses 1.4 s; 700 ms is plenty for our pacing).
	tsOffset = 63000
)

// TSMuxer writes H.264 access units and AAC frames as MPEG-TS with a PAT
// and PMT in front of every video keyframe, random_access_indicator set on
// keyframes and the PCR on the video PID (the audio PID when there is no
// video). Each Write* call produces whole 188-byte packets in one Write.
type TSMuxer struct {
	w          io.Writer
	hasVideo   bool
	hasAudio   bool
	cc         map[uint16]byte
	pmtVersion byte
	buf        []byte
	wroteTabs  bool
}

// NewTSMuxer writes to w.
func NewTSMuxer(w io.Writer, video, audio bool) *TSMuxer {
	return &TSMuxer{w: w, hasVideo: video, hasAudio: audio, cc: map[uint16]byte{}}
}

// SetTracks changes the declared tracks; the PMT version increases and new
// tables are written before the next keyframe.
func (m *TSMuxer) SetTracks(video, audio bool) {
	if video != m.hasVideo || audio != m.hasAudio {
		m.hasVideo, m.hasAudio = video, audio
		m.pmtVersion = (m.pmtVersion + 1) & 0x1f
		m.wroteTabs = false
	}
}

func (m *TSMuxer) pcrPID() uint16 {
	if m.hasVideo {
		return pidVideo
	}
	return pidAudio
}

// WriteVideo writes one H.264 access unit (Annex B, without an AUD) with
// timestamps in 90 kHz units.
func (m *TSMuxer) WriteVideo(annexB []byte, pts, dts int64, key bool) error {
	m.buf = m.buf[:0]
	if key || !m.wroteTabs {
		m.appendTables()
	}
	pes := make([]byte, 0, len(annexB)+32)
	pes = appendPESHeader(pes, 0xe0, pts+tsOffset, dts+tsOffset, 0)
	pes = append(pes, 0, 0, 0, 1, 0x09, 0xf0) // access unit delimiter
	pes = append(pes, annexB...)
	m.appendPES(pidVideo, pes, key, dts)
	_, err := m.w.Write(m.buf)
	return err
}

// WriteAudio writes one or more ADTS frames as one PES.
func (m *TSMuxer) WriteAudio(adts []byte, pts int64) error {
	m.buf = m.buf[:0]
	if !m.wroteTabs {
		m.appendTables()
	}
	pes := make([]byte, 0, len(adts)+16)
	pes = appendPESHeader(pes, 0xc0, pts+tsOffset, -1, len(adts))
	pes = append(pes, adts...)
	m.appendPES(pidAudio, pes, !m.hasVideo, pts)
	_, err := m.w.Write(m.buf)
	return err
}

func (m *TSMuxer) appendTables() {
	m.wroteTabs = true
	// PAT: program 1 → PMT PID.
	pat := []byte{0x00, 0xb0, 0, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, pidHi(pidPMT), pidLo(pidPMT)}
	m.appendSection(pidPAT, pat)
	pmt := []byte{0x02, 0xb0, 0, 0x00, 0x01, 0xc1 | m.pmtVersion<<1, 0x00, 0x00,
		pidHi(m.pcrPID()), pidLo(m.pcrPID()), 0xf0, 0x00}
	if m.hasVideo {
		pmt = append(pmt, streamH264, pidHi(pidVideo), pidLo(pidVideo), 0xf0, 0x00)
	}
	if m.hasAudio {
		pmt = append(pmt, streamAAC, pidHi(pidAudio), pidLo(pidAudio), 0xf0, 0x00)
	}
	m.appendSection(pidPMT, pmt)
}

func pidHi(pid uint16) byte { return 0xe0 | byte(pid>>8)&0x1f }

func pidLo(pid uint16) byte { return byte(pid) }

// appendSection finishes a PSI section (length, CRC) and writes it in one
// packet with a pointer field.
func (m *TSMuxer) appendSection(pid uint16, sec []byte) {
	l := len(sec) - 3 + 4
	sec[1] = sec[1]&0xf0 | byte(l>>8)&0x0f
	sec[2] = byte(l)
	sec = binary.BigEndian.AppendUint32(sec, crc32MPEG(sec))
	p := m.packetHeader(pid, true, false)
	p = append(p, 0) // pointer field
	p = append(p, sec...)
	for len(p) < tsPacketSize {
		p = append(p, 0xff)
	}
	m.buf = append(m.buf, p...)
}

func (m *TSMuxer) packetHeader(pid uint16, start, adapt bool) []byte {
	cc := m.cc[pid]
	m.cc[pid] = (cc + 1) & 0xf
	b0 := byte(pid>>8) & 0x1f
	if start {
		b0 |= 0x40
	}
	afc := byte(0x10)
	if adapt {
		afc = 0x30
	}
	return []byte{0x47, b0, byte(pid), afc | cc}
}

// appendPES splits a PES into packets. The first packet carries the PCR
// (on the PCR PID) and the random access flag.
func (m *TSMuxer) appendPES(pid uint16, pes []byte, rai bool, dts int64) {
	first := true
	for len(pes) > 0 {
		var af []byte
		if first {
			flags := byte(0)
			if rai {
				flags |= 0x40
			}
			if pid == m.pcrPID() {
				flags |= 0x10
				af = append(af, 0, flags)
				base := uint64(dts) & (1<<33 - 1)
				af = append(af, byte(base>>25), byte(base>>17), byte(base>>9), byte(base>>1), byte(base<<7)|0x7e, 0)
			} else if rai {
				af = append(af, 0, flags)
			}
		}
		room := tsPacketSize - 4 - len(af)
		if len(pes) < room {
			// Stuff through the adaptation field so the payload ends the packet.
			need := room - len(pes)
			if len(af) == 0 {
				if need == 1 {
					af = []byte{0}
				} else {
					af = append([]byte{0, 0}, make([]byte, need-2)...)
					for i := 2; i < len(af); i++ {
						af[i] = 0xff
					}
				}
			} else {
				for i := 0; i < need; i++ {
					af = append(af, 0xff)
				}
			}
			room = len(pes)
		}
		if len(af) > 0 {
			af[0] = byte(len(af) - 1)
		}
		p := m.packetHeader(pid, first, len(af) > 0)
		p = append(p, af...)
		p = append(p, pes[:room]...)
		m.buf = append(m.buf, p...)
		pes = pes[room:]
		first = false
	}
}

func appendPESHeader(b []byte, streamID byte, pts, dts int64, payloadLen int) []byte {
	hasDTS := dts >= 0 && dts != pts
	hdrLen := 5
	flags := byte(0x80)
	if hasDTS {
		hdrLen = 10
		flags = 0xc0
	}
	pesLen := 0
	if streamID != 0xe0 {
		pesLen = 3 + hdrLen + payloadLen
		if pesLen > 0xffff {
			pesLen = 0
		}
	}
	b = append(b, 0, 0, 1, streamID, byte(pesLen>>8), byte(pesLen), 0x80, flags, byte(hdrLen))
	if hasDTS {
		b = appendTimestamp(b, 0x30, pts)
		b = appendTimestamp(b, 0x10, dts)
	} else {
		b = appendTimestamp(b, 0x20, pts)
	}
	return b
}

func appendTimestamp(b []byte, prefix byte, ts int64) []byte {
	t := uint64(ts) & (1<<33 - 1)
	return append(b,
		prefix|byte(t>>29)&0x0e|1,
		byte(t>>22),
		byte(t>>14)|1,
		byte(t>>7),
		byte(t<<1)|1)
}

var crcTable = func() *[256]uint32 {
	var t [256]uint32
	for i := range t {
		c := uint32(i) << 24
		for j := 0; j < 8; j++ {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04c11db7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return &t
}()

// crc32MPEG is the CRC-32/MPEG-2 of PSI sections.
func crc32MPEG(b []byte) uint32 {
	c := uint32(0xffffffff)
	for _, x := range b {
		c = c<<8 ^ crcTable[byte(c>>24)^x]
	}
	return c
}
