// Package hls is Hearth's HLS origin: a segmenter that cuts MPEG-TS at
// keyframes, media and master playlists, segment files on disk with
// cleanup, an offline clip, and optional S3 offload. It holds no product
// logic and imports no domain package.
//
// Besides segments, the segmenter records inside each segment the byte
// ranges of "parts" (runs of whole PES packets of at most PartTarget, each
// flagged independent when it starts at a keyframe) and can hand each part
// over as soon as it closes (OnPart): llhls.go publishes them as LL-HLS
// #EXT-X-PART while the segment is still open.
package hls

import (
	"bytes"
	"encoding/binary"
	"time"
)

const tsPacket = 188

// Part is a run of bytes inside a segment (for LL-HLS).
type Part struct {
	Offset, Length int
	Duration       time.Duration
	Independent    bool
}

// Segment is one finished segment.
type Segment struct {
	Data          []byte
	Duration      time.Duration
	Start         time.Time // wall-clock time of its first frame (PROGRAM-DATE-TIME)
	Discontinuity bool      // the TS timeline restarted before this segment
	Parts         []Part
}

// Segmenter is an io.Writer of MPEG-TS that cuts segments at video
// keyframes (audio-only streams: at any audio PES) once Target has
// elapsed, and hands each finished segment to Emit. Write accepts any
// split of the byte stream; it is not safe for concurrent use.
type Segmenter struct {
	Target     time.Duration
	PartTarget time.Duration // 0: no part bookkeeping
	Emit       func(Segment)
	// OnPart, if set, gets each part of the open segment as soon as it
	// closes (LL-HLS), before the segment's Emit.
	OnPart func(Part, []byte)
	Now    func() time.Time

	pending  []byte // partial packet carried between writes
	patPkt   []byte
	pmtPkt   []byte
	pmtPID   int
	videoPID int
	audioPID int
	hevc     bool

	cur          bytes.Buffer
	open         bool
	startTS      int64 // 90 kHz of the segment's first frame
	lastTS       int64
	startWall    time.Time
	disc         bool
	nextDisc     bool
	parts        []Part
	partStart    int
	partTS       int64
	partIndep    bool
	lastFrameDur int64
}

// Write consumes MPEG-TS bytes.
func (s *Segmenter) Write(p []byte) (int, error) {
	n := len(p)
	if len(s.pending) > 0 {
		need := tsPacket - len(s.pending)
		if len(p) < need {
			s.pending = append(s.pending, p...)
			return n, nil
		}
		s.pending = append(s.pending, p[:need]...)
		p = p[need:]
		s.packet(s.pending)
		s.pending = s.pending[:0]
	}
	for len(p) > 0 {
		if p[0] != 0x47 { // lost sync: skip to the next sync byte
			i := bytes.IndexByte(p, 0x47)
			if i < 0 {
				return n, nil
			}
			p = p[i:]
		}
		if len(p) < tsPacket {
			s.pending = append(s.pending[:0], p...)
			return n, nil
		}
		s.packet(p[:tsPacket])
		p = p[tsPacket:]
	}
	return n, nil
}

// Discontinuity marks that the next bytes start a new TS timeline (an
// encoder restart): the open segment is closed and the next one is flagged.
func (s *Segmenter) Discontinuity() {
	s.Flush()
	s.pending = s.pending[:0]
	s.patPkt, s.pmtPkt = nil, nil
	s.pmtPID, s.videoPID, s.audioPID = 0, 0, 0
	s.nextDisc = true
}

// Flush closes the open segment (the publisher left).
func (s *Segmenter) Flush() {
	if s.open && s.cur.Len() > 0 {
		s.finish(s.lastTS + s.lastFrameDur)
	}
	s.open = false
}

func (s *Segmenter) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Segmenter) packet(pkt []byte) {
	pid := int(binary.BigEndian.Uint16(pkt[1:3]) & 0x1fff)
	pusi := pkt[1]&0x40 != 0
	afc := pkt[3] >> 4 & 3
	payload := 4
	rai := false
	if afc&2 != 0 {
		l := int(pkt[4])
		if l > 0 {
			rai = pkt[5]&0x40 != 0
		}
		payload = 5 + l
	}
	if afc&1 == 0 || payload > tsPacket {
		payload = tsPacket
	}
	body := pkt[payload:]
	switch {
	case pid == 0:
		if pusi {
			s.parsePAT(body)
		}
		if !bytes.Equal(s.patPkt, pkt) {
			s.patPkt = append(s.patPkt[:0], pkt...)
			if s.open {
				s.cur.Write(pkt)
			}
		}
		return
	case pid == s.pmtPID && s.pmtPID != 0:
		if pusi {
			s.parsePMT(body)
		}
		if !bytes.Equal(s.pmtPkt, pkt) {
			s.pmtPkt = append(s.pmtPkt[:0], pkt...)
			if s.open {
				s.cur.Write(pkt)
			}
		}
		return
	}
	if pusi && (pid == s.videoPID || (s.videoPID == 0 && pid == s.audioPID)) {
		ts, ok := pesTimestamp(body)
		if ok {
			key := pid == s.audioPID || rai || hasIDR(body, s.hevc)
			s.frameStart(ts, key)
		}
	}
	if !s.open {
		return // nothing before the first keyframe
	}
	s.cur.Write(pkt)
}

// frameStart runs at the first packet of each video (or, audio-only,
// audio) PES, before it is written.
func (s *Segmenter) frameStart(ts int64, key bool) {
	if s.open {
		if d := ts - s.lastTS; d > 0 && d < 90000 {
			s.lastFrameDur = d
		}
	}
	target := int64(s.Target/time.Microsecond) * 90 / 1000
	// A keyframe within a tenth of the target (at most 100 ms) of it cuts:
	// encoders place keyframes on frame boundaries, not exact times.
	target -= min(target/10, 9000)
	if key && (!s.open || ts-s.startTS >= target || ts < s.startTS) {
		if s.open {
			s.finish(ts)
		}
		s.cur.Reset()
		s.cur.Write(s.patPkt)
		s.cur.Write(s.pmtPkt)
		s.open = true
		s.startTS = ts
		s.startWall = s.now()
		s.disc, s.nextDisc = s.nextDisc, false
		s.parts = s.parts[:0]
		s.partStart, s.partTS, s.partIndep = 0, ts, true
	} else if s.open && s.PartTarget > 0 && ts > s.partTS && ts-s.partTS+s.lastFrameDur > int64(s.PartTarget/time.Microsecond)*90/1000 {
		// Close the part before the frame that would take it past the
		// target: parts never exceed PART-TARGET.
		s.closePart(ts)
		s.partIndep = key
	}
	s.lastTS = ts
}

func (s *Segmenter) closePart(ts int64) {
	end := s.cur.Len()
	if end > s.partStart {
		p := Part{Offset: s.partStart, Length: end - s.partStart, Duration: ticks(ts - s.partTS), Independent: s.partIndep}
		s.parts = append(s.parts, p)
		if s.OnPart != nil {
			s.OnPart(p, bytes.Clone(s.cur.Bytes()[s.partStart:end]))
		}
	}
	s.partStart, s.partTS = end, ts
}

func (s *Segmenter) finish(endTS int64) {
	if s.PartTarget > 0 {
		s.closePart(endTS)
	}
	dur := endTS - s.startTS
	if dur <= 0 {
		dur = s.lastFrameDur
	}
	seg := Segment{Data: bytes.Clone(s.cur.Bytes()), Duration: ticks(dur), Start: s.startWall, Discontinuity: s.disc,
		Parts: append([]Part(nil), s.parts...)}
	s.cur.Reset()
	s.open = false
	if s.Emit != nil {
		s.Emit(seg)
	}
}

func ticks(t int64) time.Duration { return time.Duration(t) * time.Second / 90000 }

func (s *Segmenter) parsePAT(b []byte) {
	sec, ok := section(b)
	if !ok || len(sec) < 12 || sec[0] != 0 {
		return
	}
	for i := 8; i+4 <= len(sec)-4; i += 4 {
		prog := binary.BigEndian.Uint16(sec[i:])
		if prog != 0 {
			s.pmtPID = int(binary.BigEndian.Uint16(sec[i+2:]) & 0x1fff)
			return
		}
	}
}

func (s *Segmenter) parsePMT(b []byte) {
	sec, ok := section(b)
	if !ok || len(sec) < 16 || sec[0] != 2 {
		return
	}
	infoLen := int(binary.BigEndian.Uint16(sec[10:]) & 0x0fff)
	s.videoPID, s.audioPID = 0, 0
	for i := 12 + infoLen; i+5 <= len(sec)-4; {
		typ := sec[i]
		pid := int(binary.BigEndian.Uint16(sec[i+1:]) & 0x1fff)
		esLen := int(binary.BigEndian.Uint16(sec[i+3:]) & 0x0fff)
		switch typ {
		case 0x1b, 0x24: // H.264, HEVC
			if s.videoPID == 0 {
				s.videoPID, s.hevc = pid, typ == 0x24
			}
		case 0x0f, 0x03, 0x04, 0x11, 0x81: // AAC, MP3, LATM, AC-3
			if s.audioPID == 0 {
				s.audioPID = pid
			}
		}
		i += 5 + esLen
	}
}

// section returns a PSI section from a payload that starts with a pointer
// field (single-packet sections only, which is all a live encoder writes).
func section(b []byte) ([]byte, bool) {
	if len(b) < 1 {
		return nil, false
	}
	ptr := int(b[0])
	if 1+ptr+3 > len(b) {
		return nil, false
	}
	sec := b[1+ptr:]
	l := int(binary.BigEndian.Uint16(sec[1:]) & 0x0fff)
	if 3+l > len(sec) {
		return nil, false
	}
	return sec[:3+l], true
}

// pesTimestamp returns a PES's DTS (or PTS) in 90 kHz units.
func pesTimestamp(b []byte) (int64, bool) {
	if len(b) < 14 || b[0] != 0 || b[1] != 0 || b[2] != 1 {
		return 0, false
	}
	flags := b[7] >> 6
	if flags&2 == 0 {
		return 0, false
	}
	at := 9
	if flags == 3 && len(b) >= 19 {
		at = 14 // DTS
	}
	return readTS(b[at:]), true
}

func readTS(b []byte) int64 {
	return int64(b[0]>>1&7)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
}

// hasIDR scans a PES's first packet for an H.264 IDR slice or SPS (or an
// HEVC IRAP), for encoders that do not set random_access_indicator.
func hasIDR(b []byte, hevc bool) bool {
	if len(b) < 9 {
		return false
	}
	p := b[9+int(b[8]):]
	for i := 0; i+3 < len(p); i++ {
		if p[i] == 0 && p[i+1] == 0 && p[i+2] == 1 {
			if hevc {
				if h := p[i+3] >> 1 & 0x3f; (h >= 16 && h <= 21) || h == 32 {
					return true
				}
			} else if t := p[i+3] & 0x1f; t == 5 || t == 7 {
				return true
			}
		}
	}
	return false
}
