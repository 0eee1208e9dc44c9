package rtmp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// chunks builds a raw chunk stream by hand.
type chunks struct{ b []byte }

func (c *chunks) basic(format byte, csid uint32) *chunks {
	c.b = basicHeader(c.b, format, csid)
	return c
}

func (c *chunks) u24(v uint32) *chunks { c.b = append(c.b, byte(v>>16), byte(v>>8), byte(v)); return c }
func (c *chunks) u32(v uint32) *chunks { c.b = binary.BigEndian.AppendUint32(c.b, v); return c }
func (c *chunks) raw(p ...byte) *chunks {
	c.b = append(c.b, p...)
	return c
}
func (c *chunks) fill(n int, v byte) *chunks {
	c.b = append(c.b, bytes.Repeat([]byte{v}, n)...)
	return c
}

func (c *chunks) fmt0(csid, ts, length uint32, typ byte, sid uint32) *chunks {
	c.basic(0, csid)
	tsf := ts
	if ts >= extendedTS {
		tsf = extendedTS
	}
	c.u24(tsf).u24(length).raw(typ)
	c.b = binary.LittleEndian.AppendUint32(c.b, sid)
	if ts >= extendedTS {
		c.u32(ts)
	}
	return c
}

func readAll(t *testing.T, b []byte, chunkSize uint32) ([]*Message, error) {
	t.Helper()
	r := NewChunkReader(bytes.NewReader(b))
	if chunkSize != 0 {
		if err := r.SetChunkSize(chunkSize); err != nil {
			t.Fatal(err)
		}
	}
	var out []*Message
	for {
		m, err := r.ReadMessage()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, m)
	}
}

func TestChunkReaderHeaderTypes(t *testing.T) {
	t.Parallel()
	type want struct {
		csid uint32
		typ  uint8
		ts   uint32
		n    int
	}
	cases := []struct {
		name  string
		build func(*chunks)
		want  []want
	}{
		{"fmt0 split over fmt3 continuations", func(c *chunks) {
			c.fmt0(4, 1000, 300, TypeVideo, 1).fill(128, 1).basic(3, 4).fill(128, 2).basic(3, 4).fill(44, 3)
		}, []want{{4, TypeVideo, 1000, 300}}},
		{"fmt1, fmt2 and fmt3 new messages reuse deltas", func(c *chunks) {
			c.fmt0(4, 1000, 10, TypeVideo, 1).fill(10, 0)
			c.basic(1, 4).u24(40).u24(5).raw(TypeAudio).fill(5, 0)
			c.basic(2, 4).u24(40).fill(5, 0)
			c.basic(3, 4).fill(5, 0)
		}, []want{{4, TypeVideo, 1000, 10}, {4, TypeAudio, 1040, 5}, {4, TypeAudio, 1080, 5}, {4, TypeAudio, 1120, 5}}},
		{"extended timestamp repeated on continuation", func(c *chunks) {
			c.fmt0(5, 0x01000000, 200, TypeVideo, 1).fill(128, 7).basic(3, 5).u32(0x01000000).fill(72, 7)
		}, []want{{5, TypeVideo, 0x01000000, 200}}},
		{"extended delta on fmt1", func(c *chunks) {
			c.fmt0(5, 10, 1, TypeVideo, 1).fill(1, 0)
			c.basic(1, 5).u24(extendedTS).u24(1).raw(TypeVideo).u32(0x02000000).fill(1, 0)
		}, []want{{5, TypeVideo, 10, 1}, {5, TypeVideo, 0x02000000 + 10, 1}}},
		{"two- and three-byte chunk stream ids", func(c *chunks) {
			c.fmt0(100, 1, 3, TypeAudio, 1).fill(3, 0)
			c.fmt0(400, 2, 3, TypeAudio, 1).fill(3, 0)
		}, []want{{100, TypeAudio, 1, 3}, {400, TypeAudio, 2, 3}}},
		{"interleaved chunk streams", func(c *chunks) {
			c.fmt0(4, 0, 200, TypeVideo, 1).fill(128, 1)
			c.fmt0(6, 5, 4, TypeAudio, 1).fill(4, 2)
			c.basic(3, 4).fill(72, 1)
		}, []want{{6, TypeAudio, 5, 4}, {4, TypeVideo, 0, 200}}},
		{"zero-length message", func(c *chunks) {
			c.fmt0(3, 0, 0, TypeCommandAMF0, 0)
		}, []want{{3, TypeCommandAMF0, 0, 0}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c chunks
			tc.build(&c)
			got, err := readAll(t, c.b, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d messages, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.CSID != w.csid || g.Type != w.typ || g.Timestamp != w.ts || len(g.Payload) != w.n {
					t.Fatalf("message %d: got csid=%d type=%d ts=%d len=%d, want %+v", i, g.CSID, g.Type, g.Timestamp, len(g.Payload), w)
				}
			}
		})
	}
}

func TestChunkReaderErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		build func(*chunks)
	}{
		{"fmt1 on a fresh chunk stream", func(c *chunks) { c.basic(1, 4).u24(0).u24(1).raw(TypeVideo).raw(0) }},
		{"message over the size limit", func(c *chunks) { c.fmt0(4, 0, MaxMessageSize+1, TypeVideo, 1) }},
		{"fmt1 header mid-message", func(c *chunks) {
			c.fmt0(4, 0, 200, TypeVideo, 1).fill(128, 0).basic(1, 4).u24(0).u24(1).raw(TypeVideo)
		}},
		{"truncated chunk", func(c *chunks) { c.fmt0(4, 0, 100, TypeVideo, 1).fill(50, 0) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c chunks
			tc.build(&c)
			if _, err := readAll(t, c.b, 0); !errors.Is(err, ErrProtocol) {
				t.Fatalf("got %v, want ErrProtocol", err)
			}
		})
	}
	r := NewChunkReader(bytes.NewReader(nil))
	for _, n := range []uint32{0, MaxChunkSize + 1} {
		if err := r.SetChunkSize(n); !errors.Is(err, ErrProtocol) {
			t.Fatalf("chunk size %d: %v", n, err)
		}
	}
}

func TestChunkWriterReaderRoundTrip(t *testing.T) {
	t.Parallel()
	msgs := []*Message{
		{CSID: 3, Type: TypeCommandAMF0, Payload: []byte("hello")},
		{CSID: 6, Type: TypeVideo, StreamID: 1, Timestamp: 33, Payload: bytes.Repeat([]byte{9}, 10000)},
		{CSID: 6, Type: TypeVideo, StreamID: 1, Timestamp: 0xffffff + 5, Payload: bytes.Repeat([]byte{8}, 3000)},
		{CSID: 320, Type: TypeAudio, StreamID: 1, Timestamp: 7, Payload: []byte{1}},
	}
	for _, size := range []uint32{128, 4096, 60000} {
		var buf bytes.Buffer
		w := NewChunkWriter(&buf)
		w.SetChunkSize(size)
		for _, m := range msgs {
			if err := w.WriteMessage(m); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, buf.Bytes(), size)
		if err != nil {
			t.Fatalf("chunk size %d: %v", size, err)
		}
		for i, m := range msgs {
			g := got[i]
			if g.CSID != m.CSID || g.Type != m.Type || g.Timestamp != m.Timestamp || !bytes.Equal(g.Payload, m.Payload) {
				t.Fatalf("chunk size %d, message %d differs", size, i)
			}
		}
	}
}

func TestChunkReaderAbort(t *testing.T) {
	t.Parallel()
	var c chunks
	c.fmt0(4, 0, 200, TypeVideo, 1).fill(128, 0)
	c.fmt0(4, 10, 3, TypeVideo, 1).fill(3, 1) // a new message after the abort
	r := NewChunkReader(bytes.NewReader(c.b))
	if _, err := r.readChunk(); err != nil {
		t.Fatal(err)
	}
	r.Abort(4)
	m, err := r.ReadMessage()
	if err != nil || m.Timestamp != 10 || len(m.Payload) != 3 {
		t.Fatalf("after abort: %+v %v", m, err)
	}
}

func FuzzChunkReader(f *testing.F) {
	var c chunks
	c.fmt0(4, 1000, 300, TypeVideo, 1).fill(128, 1).basic(3, 4).fill(128, 2).basic(3, 4).fill(44, 3)
	c.basic(1, 4).u24(40).u24(5).raw(TypeAudio).fill(5, 0)
	c.basic(2, 4).u24(40).fill(5, 0).basic(3, 4).fill(5, 0)
	f.Add(c.b)
	var d chunks
	d.fmt0(5, 0x01000000, 200, TypeVideo, 1).fill(128, 7).basic(3, 5).u32(0x01000000).fill(72, 7)
	d.fmt0(400, 2, 3, TypeAudio, 1).fill(3, 0)
	f.Add(d.b)
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewChunkReader(bytes.NewReader(b))
		total := 0
		for i := 0; i < 10000; i++ {
			m, err := r.ReadMessage()
			if err != nil {
				return
			}
			total += len(m.Payload)
			if total > len(b) {
				t.Fatalf("produced %d payload bytes from %d input bytes", total, len(b))
			}
			if m.Type == TypeSetChunkSize && len(m.Payload) >= 4 {
				_ = r.SetChunkSize(binary.BigEndian.Uint32(m.Payload))
			}
		}
	})
}

func BenchmarkChunkReader(b *testing.B) {
	// A 30 s 2.5 Mbit/s-like stream: 60 fps video of ~5 kB frames and AAC,
	// written with 4096-byte chunks.
	var buf bytes.Buffer
	w := NewChunkWriter(&buf)
	w.SetChunkSize(4096)
	frame := bytes.Repeat([]byte{0x17}, 5200)
	audio := bytes.Repeat([]byte{0xaf}, 370)
	for i := 0; i < 1800; i++ {
		_ = w.WriteMessage(&Message{CSID: 6, Type: TypeVideo, StreamID: 1, Timestamp: uint32(i * 16), Payload: frame})
		if i%2 == 0 {
			_ = w.WriteMessage(&Message{CSID: 4, Type: TypeAudio, StreamID: 1, Timestamp: uint32(i * 16), Payload: audio})
		}
	}
	_ = w.Flush()
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := NewChunkReader(bytes.NewReader(data))
		_ = r.SetChunkSize(4096)
		for {
			if _, err := r.ReadMessage(); err != nil {
				break
			}
		}
	}
}

// TestChunkReaderReservesOnlyWhatArrives shows that a message's declared
// length reserves nothing: 64 chunk streams each announcing a message of
// MaxMessageSize and sending one chunk used to make the reader allocate
// 64 × 8 MiB for a few kilobytes of input. What it holds now follows the
// bytes that arrived.
func TestChunkReaderReservesOnlyWhatArrives(t *testing.T) {
	t.Parallel()
	var c chunks
	for csid := uint32(4); csid < 4+maxChunkStreams; csid++ {
		c.fmt0(csid, 0, MaxMessageSize, TypeVideo, 1).fill(DefaultChunkSize, 0)
	}
	r := NewChunkReader(bytes.NewReader(c.b))
	for {
		if _, err := r.ReadMessage(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
	}
	held := 0
	for _, st := range r.streams {
		held += cap(st.buf)
	}
	if limit := 2 * len(c.b); held > limit {
		t.Fatalf("%d bytes of input reserved %d bytes of message buffers; want at most %d", len(c.b), held, limit)
	}
}
