// Package rtmp is Hearth's in-house RTMP ingest: the handshake, the chunk
// stream (every header type, extended timestamps, chunk-size changes, abort,
// window acknowledgements), AMF0 commands and the publish flow of OBS and
// ffmpeg. It holds no product logic: a Handler decides whether a publish is
// accepted and receives the audio, video and metadata of accepted streams.
package rtmp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Message type ids (RTMP 1.0 §5.4, §7.1).
const (
	TypeSetChunkSize     = 1
	TypeAbort            = 2
	TypeAck              = 3
	TypeUserControl      = 4
	TypeWindowAckSize    = 5
	TypeSetPeerBandwidth = 6
	TypeAudio            = 8
	TypeVideo            = 9
	TypeDataAMF3         = 15
	TypeCommandAMF3      = 17
	TypeDataAMF0         = 18
	TypeCommandAMF0      = 20
	TypeAggregate        = 22
)

// Limits applied to what a peer may make us buffer.
const (
	DefaultChunkSize = 128
	MaxChunkSize     = 1 << 24    // largest SetChunkSize accepted
	MaxMessageSize   = 8 << 20    // largest single message (a keyframe)
	maxChunkStreams  = 64         // distinct chunk stream ids per connection
	maxBuffered      = 64 << 20   // total bytes held in partial messages
	extendedTS       = 0x00ffffff // timestamp field value that means "extended"
	chunkHeaderMax   = 3 + 11 + 4 // basic + message header + extended timestamp
	protocolCSID     = 2          // chunk stream for protocol control messages
	commandCSID      = 3          // chunk stream our commands are sent on
)

// ErrProtocol is wrapped by every error caused by a peer's malformed bytes.
var ErrProtocol = errors.New("rtmp: protocol error")

// Message is one reassembled RTMP message.
type Message struct {
	CSID      uint32
	Type      uint8
	StreamID  uint32
	Timestamp uint32 // absolute, in ms (wraps at 2^32)
	Payload   []byte
}

// chunkState is the per-chunk-stream header state the compressed header
// types refer back to.
type chunkState struct {
	timestamp uint32 // absolute timestamp of the current/last message
	delta     uint32 // last delta (fmt 1/2), reused by fmt 3 on a new message
	length    uint32
	typ       uint8
	streamID  uint32
	extended  bool // the last header carried an extended timestamp
	started   bool // a fmt 0 header has been seen
	buf       []byte
}

// ChunkReader reassembles messages from a chunk stream.
type ChunkReader struct {
	r          *bufio.Reader
	chunkSize  uint32
	streams    map[uint32]*chunkState
	buffered   int
	maxMessage uint32 // largest message accepted (SetLimits)
	maxBuf     int    // most bytes held in partial messages (SetLimits)
	hdr        [chunkHeaderMax]byte
	// BytesRead counts every byte consumed, for window acknowledgements.
	BytesRead uint64
}

// NewChunkReader reads chunks from r with the default chunk size of 128.
func NewChunkReader(r io.Reader) *ChunkReader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &ChunkReader{r: br, chunkSize: DefaultChunkSize, streams: map[uint32]*chunkState{},
		maxMessage: MaxMessageSize, maxBuf: maxBuffered}
}

// SetLimits bounds the length of one message and the bytes held in
// unfinished messages across all chunk streams (defaults MaxMessageSize
// and 64 MiB; values above those are lowered to them). A message past
// either is a protocol error. The server keeps them small until a publish
// is accepted, when only command messages are legitimate.
func (c *ChunkReader) SetLimits(message, buffered int) {
	c.maxMessage = uint32(min(max(message, 1), MaxMessageSize))
	c.maxBuf = min(max(buffered, 1), maxBuffered)
}

// SetChunkSize applies a peer's SetChunkSize.
func (c *ChunkReader) SetChunkSize(n uint32) error {
	if n < 1 || n > MaxChunkSize {
		return fmt.Errorf("%w: chunk size %d out of range", ErrProtocol, n)
	}
	c.chunkSize = n
	return nil
}

// Abort drops the partial message on a chunk stream (message type 2).
func (c *ChunkReader) Abort(csid uint32) {
	if st, ok := c.streams[csid]; ok {
		c.buffered -= len(st.buf)
		st.buf = nil
	}
}

func (c *ChunkReader) read(b []byte) error {
	n, err := io.ReadFull(c.r, b)
	c.BytesRead += uint64(n)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: connection closed mid-chunk", ErrProtocol)
		}
		return err
	}
	return nil
}

// ReadMessage reads chunks until one message is complete and returns it.
// The payload is owned by the caller.
func (c *ChunkReader) ReadMessage() (*Message, error) {
	for {
		m, err := c.readChunk()
		if err != nil || m != nil {
			return m, err
		}
	}
}

func (c *ChunkReader) readChunk() (*Message, error) {
	h := c.hdr[:]
	if err := c.read(h[:1]); err != nil {
		return nil, err
	}
	format := h[0] >> 6
	csid := uint32(h[0] & 0x3f)
	switch csid {
	case 0:
		if err := c.read(h[1:2]); err != nil {
			return nil, err
		}
		csid = uint32(h[1]) + 64
	case 1:
		if err := c.read(h[1:3]); err != nil {
			return nil, err
		}
		csid = uint32(h[2])*256 + uint32(h[1]) + 64
	}
	st, ok := c.streams[csid]
	if !ok {
		if len(c.streams) >= maxChunkStreams {
			return nil, fmt.Errorf("%w: too many chunk streams", ErrProtocol)
		}
		st = &chunkState{}
		c.streams[csid] = st
	}
	if format != 0 && !st.started {
		return nil, fmt.Errorf("%w: chunk stream %d starts with a type %d header", ErrProtocol, csid, format)
	}
	newMessage := len(st.buf) == 0
	if format == 0 && !newMessage {
		// A full header restarts the stream: drop the unfinished message.
		c.buffered -= len(st.buf)
		st.buf, newMessage = nil, true
	}
	var tsField uint32
	switch format {
	case 0:
		if err := c.read(h[:11]); err != nil {
			return nil, err
		}
		tsField = be24(h[0:])
		st.length = be24(h[3:])
		st.typ = h[6]
		st.streamID = binary.LittleEndian.Uint32(h[7:])
	case 1:
		if err := c.read(h[:7]); err != nil {
			return nil, err
		}
		tsField = be24(h[0:])
		st.length = be24(h[3:])
		st.typ = h[6]
	case 2:
		if err := c.read(h[:3]); err != nil {
			return nil, err
		}
		tsField = be24(h[0:])
	case 3:
		// No header: everything as before. An extended timestamp is
		// repeated when the previous header of this stream carried one.
	}
	if format != 3 {
		if format != 0 && !newMessage {
			return nil, fmt.Errorf("%w: type %d header in the middle of a message on chunk stream %d", ErrProtocol, format, csid)
		}
		st.extended = tsField == extendedTS
	}
	if st.extended {
		if err := c.read(h[:4]); err != nil {
			return nil, err
		}
		if format != 3 {
			tsField = binary.BigEndian.Uint32(h[:4])
		} else if newMessage {
			tsField = binary.BigEndian.Uint32(h[:4])
		}
	}
	if newMessage {
		switch format {
		case 0:
			st.timestamp = tsField
			st.delta = 0
		case 1, 2:
			st.delta = tsField
			st.timestamp += tsField
		case 3:
			if st.extended {
				st.delta = tsField
			}
			st.timestamp += st.delta
		}
	}
	st.started = true
	if st.length > c.maxMessage {
		return nil, fmt.Errorf("%w: message of %d bytes exceeds the %d limit", ErrProtocol, st.length, c.maxMessage)
	}
	n := st.length - uint32(len(st.buf))
	if n > c.chunkSize {
		n = c.chunkSize
	}
	if c.buffered+int(n) > c.maxBuf {
		return nil, fmt.Errorf("%w: too much partial data buffered", ErrProtocol)
	}
	// The buffer grows with what arrives, a piece at a time: a header's
	// length (up to MaxMessageSize) and a chunk size (up to MaxChunkSize)
	// are only the peer's word, and reserving them up front let a few bytes
	// of headers hold 64 × 8 MiB.
	for left := int(n); left > 0; {
		k := min(left, readPiece)
		st.buf = growMessage(st.buf, k, int(st.length))
		start := len(st.buf)
		st.buf = st.buf[:start+k]
		if err := c.read(st.buf[start:]); err != nil {
			return nil, err
		}
		c.buffered += k
		left -= k
	}
	if uint32(len(st.buf)) < st.length {
		return nil, nil
	}
	c.buffered -= len(st.buf)
	m := &Message{CSID: csid, Type: st.typ, StreamID: st.streamID, Timestamp: st.timestamp, Payload: st.buf}
	st.buf = nil
	return m, nil
}

// readPiece is the most a message buffer grows by before the bytes for
// it have arrived.
const readPiece = 64 << 10

// growMessage makes room in buf for k more bytes of a message of length
// bytes: its capacity doubles, up to the message's length, so a message
// is copied at most about once more as it grows.
func growMessage(buf []byte, k, length int) []byte {
	if cap(buf)-len(buf) >= k {
		return buf
	}
	nb := make([]byte, len(buf), min(length, max(2*cap(buf), len(buf)+k)))
	copy(nb, buf)
	return nb
}

func be24(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }

// ChunkWriter writes messages as chunks: a type 0 header, then type 3
// continuation chunks.
type ChunkWriter struct {
	w         *bufio.Writer
	chunkSize uint32
}

// NewChunkWriter writes to w with the default chunk size.
func NewChunkWriter(w io.Writer) *ChunkWriter {
	return &ChunkWriter{w: bufio.NewWriterSize(w, 16<<10), chunkSize: DefaultChunkSize}
}

// SetChunkSize changes the size used for later messages; the caller sends
// the SetChunkSize message first.
func (c *ChunkWriter) SetChunkSize(n uint32) { c.chunkSize = n }

// WriteMessage writes one message (not flushed).
func (c *ChunkWriter) WriteMessage(m *Message) error {
	var h [chunkHeaderMax]byte
	basic := basicHeader(h[:0], 0, m.CSID)
	ts := m.Timestamp
	ext := ts >= extendedTS
	hdr := basic
	if ext {
		hdr = append(hdr, 0xff, 0xff, 0xff)
	} else {
		hdr = append(hdr, byte(ts>>16), byte(ts>>8), byte(ts))
	}
	l := uint32(len(m.Payload))
	if l > MaxMessageSize {
		return fmt.Errorf("rtmp: message of %d bytes too large", l)
	}
	hdr = append(hdr, byte(l>>16), byte(l>>8), byte(l), m.Type)
	hdr = binary.LittleEndian.AppendUint32(hdr, m.StreamID)
	if ext {
		hdr = binary.BigEndian.AppendUint32(hdr, ts)
	}
	if _, err := c.w.Write(hdr); err != nil {
		return err
	}
	p := m.Payload
	for first := true; first || len(p) > 0; first = false {
		if !first {
			var cont [8]byte
			ch := basicHeader(cont[:0], 3, m.CSID)
			if ext {
				ch = binary.BigEndian.AppendUint32(ch, ts)
			}
			if _, err := c.w.Write(ch); err != nil {
				return err
			}
		}
		n := uint32(len(p))
		if n > c.chunkSize {
			n = c.chunkSize
		}
		if _, err := c.w.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// Flush sends buffered chunks.
func (c *ChunkWriter) Flush() error { return c.w.Flush() }

func basicHeader(b []byte, format byte, csid uint32) []byte {
	switch {
	case csid >= 2 && csid <= 63:
		return append(b, format<<6|byte(csid))
	case csid >= 64 && csid <= 319:
		return append(b, format<<6, byte(csid-64))
	default:
		v := csid - 64
		return append(b, format<<6|1, byte(v), byte(v>>8))
	}
}
