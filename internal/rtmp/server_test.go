package rtmp

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// recorder is a Handler that accepts key "good" on app "live" and records
// what arrives.
type recorder struct {
	mu      sync.Mutex
	meta    Object
	video   int
	audio   int
	keyTS   []uint32
	closed  chan error
	streams int
}

func newRecorder() *recorder { return &recorder{closed: make(chan error, 4)} }

func (r *recorder) Publish(_ context.Context, req PublishRequest) (Stream, error) {
	if req.App != "live" || req.Name != "good" {
		return nil, errors.New("invalid stream key")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.streams > 0 {
		return nil, errors.New("already live")
	}
	r.streams++
	return r, nil
}

func (r *recorder) Metadata(m Object) { r.mu.Lock(); r.meta = m; r.mu.Unlock() }
func (r *recorder) Audio(uint32, []byte) {
	r.mu.Lock()
	r.audio++
	r.mu.Unlock()
}
func (r *recorder) Video(ts uint32, b []byte) {
	r.mu.Lock()
	r.video++
	if len(b) > 0 && b[0]>>4 == 1 {
		r.keyTS = append(r.keyTS, ts)
	}
	r.mu.Unlock()
}
func (r *recorder) Close(err error) {
	r.mu.Lock()
	r.streams--
	r.mu.Unlock()
	r.closed <- err
}

func startServer(t *testing.T, h Handler, cfg Config) *Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	s, err := NewServer(cfg, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

func needFFmpeg(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed (.ci/run installs it)")
	}
	return p
}

// TestFFmpegPublishes has Debian's ffmpeg publish two seconds of its
// 1280x720@60 H.264/AAC test pattern.
func TestFFmpegPublishes(t *testing.T) {
	t.Parallel()
	ff := needFFmpeg(t)
	rec := newRecorder()
	s := startServer(t, rec, Config{})
	url := "rtmp://" + s.Addr().String() + "/live/good"
	cmd := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=1280x720:rate=60",
		"-f", "lavfi", "-i", "sine=frequency=400:sample_rate=44100", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast",
		"-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv", url)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	select {
	case err := <-rec.closed:
		if err != nil {
			t.Fatalf("stream ended with %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("stream not closed")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if w, _ := rec.meta["width"].(float64); w != 1280 {
		t.Fatalf("metadata width %v (%v)", rec.meta["width"], rec.meta)
	}
	if fr, _ := rec.meta["framerate"].(float64); fr != 60 {
		t.Fatalf("metadata framerate %v", rec.meta["framerate"])
	}
	if c, _ := rec.meta["videocodecid"].(float64); c != 7 {
		t.Fatalf("videocodecid %v", rec.meta["videocodecid"])
	}
	// 2 s at 60 fps plus the sequence header; AAC at 44.1 kHz ~ 86 frames.
	if rec.video < 115 || rec.audio < 80 {
		t.Fatalf("got %d video and %d audio messages", rec.video, rec.audio)
	}
	if len(rec.keyTS) < 4 || rec.keyTS[2] < 400 {
		t.Fatalf("keyframe timestamps %v", rec.keyTS)
	}
}

func TestPublishRefusals(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	s := startServer(t, rec, Config{ReadTimeout: 500 * time.Millisecond})
	addr := s.Addr().String()
	ctx := context.Background()

	first, err := Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if err := first.Publish("live", "good"); err != nil {
		t.Fatalf("first publisher: %v", err)
	}
	cases := []struct {
		name, app, key, code string
	}{
		{"wrong key", "live", "bad", "NetStream.Publish.BadName"},
		{"wrong application", "other", "good", "NetStream.Publish.BadName"},
		{"second publisher", "live", "good", "NetStream.Publish.BadName"},
		{"key with query", "live", "nope?x=1", "NetStream.Publish.BadName"},
	}
	for _, tc := range cases {
		c, err := Dial(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Publish(tc.app, tc.key)
		var re *RefusedError
		if !errors.As(err, &re) || re.Code != tc.code || re.Description == "" {
			t.Fatalf("%s: got %v, want refusal %s", tc.name, err, tc.code)
		}
		c.Close()
	}
	// The first publisher is unaffected, then stalls: it counts as gone
	// after ReadTimeout.
	if err := first.WriteMedia(TypeVideo, 0, []byte{0x17, 1, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-rec.closed:
		if err == nil || err.Error() != errStall.Error() {
			t.Fatalf("stalled publisher closed with %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("stalled publisher not dropped")
	}
}

func TestGarbageIsRefused(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	s := startServer(t, rec, Config{HandshakeTimeout: time.Second, ReadTimeout: time.Second})
	addr := s.Addr().String()
	cases := []struct {
		name string
		send func(net.Conn) error
	}{
		{"HTTP request", func(c net.Conn) error { _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); return err }},
		{"wrong version then junk", func(c net.Conn) error { _, err := c.Write(append([]byte{6}, make([]byte, 2000)...)); return err }},
		{"junk chunks after handshake", func(c net.Conn) error {
			if err := ClientHandshake(c); err != nil {
				return err
			}
			junk := make([]byte, 4096)
			for i := range junk {
				junk[i] = byte(i*7 + 0x41)
			}
			_, err := c.Write(junk)
			return err
		}},
		{"silence", func(net.Conn) error { return nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = tc.send(c)
			_ = c.SetReadDeadline(time.Now().Add(hangGuard))
			buf := make([]byte, 8192)
			for {
				if _, err := c.Read(buf); err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						t.Fatal("server kept the connection open")
					}
					return // closed by the server
				}
			}
		})
	}
	// The server still accepts a good publisher.
	c, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Publish("live", "good"); err != nil {
		t.Fatalf("after garbage: %v", err)
	}
}

// TestConnectionLimit: with every slot held by a publisher, a new
// connection is closed at once (a publisher is never closed to make room).
func TestConnectionLimit(t *testing.T) {
	t.Parallel()
	s := startServer(t, newRecorder(), Config{MaxConns: 1, HandshakeTimeout: 5 * time.Second})
	pub, err := Dial(context.Background(), s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Publish("live", "good"); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(hangGuard))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("connection over the limit was not closed: %v", err)
	}
}

// TestWindowAcknowledgement: after a client announces a window, the server
// acknowledges every window's worth of bytes it reads.
func TestWindowAcknowledgement(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	s := startServer(t, rec, Config{})
	c, err := Dial(context.Background(), s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Publish("live", "good"); err != nil {
		t.Fatal(err)
	}
	win := &Message{CSID: protocolCSID, Type: TypeWindowAckSize, Payload: []byte{0, 0, 0x10, 0}} // 4096 bytes
	if err := c.w.WriteMessage(win); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if err := c.WriteMedia(TypeVideo, uint32(i*40), make([]byte, 3000)); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.c.SetReadDeadline(time.Now().Add(hangGuard))
	for {
		m, err := c.r.ReadMessage()
		if err != nil {
			t.Fatalf("no acknowledgement: %v", err)
		}
		if m.Type == TypeAck {
			if n := uint32(m.Payload[0])<<24 | uint32(m.Payload[1])<<16 | uint32(m.Payload[2])<<8 | uint32(m.Payload[3]); n < 4096 {
				t.Fatalf("acknowledged %d bytes", n)
			}
			return
		}
	}
}

// TestIdleAndPerAddressLimits: a connection that never publishes is closed
// after PublishTimeout even while it keeps sending; one address holds at
// most 8 connections.
func TestIdleAndPerAddressLimits(t *testing.T) {
	t.Parallel()
	s := startServer(t, newRecorder(), Config{PublishTimeout: 300 * time.Millisecond, ReadTimeout: 5 * time.Second})
	c, err := Dial(context.Background(), s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closed := false
	for i := 0; i < 200 && !closed; i++ { // keep-alive chatter, no publish
		ack := &Message{CSID: protocolCSID, Type: TypeAck, Payload: []byte{0, 0, 0, 1}}
		if err := c.w.WriteMessage(ack); err != nil || c.w.Flush() != nil {
			closed = true
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !closed {
		t.Fatal("a connection that never published stayed open")
	}

	s2 := startServer(t, newRecorder(), Config{HandshakeTimeout: 5 * time.Second})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 8; i++ {
		c, err := Dial(context.Background(), s2.Addr().String()) // handshaken: surely accepted
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c.c)
	}
	extra, err := net.Dial("tcp", s2.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	// A closed connection answers at once; the deadline only stops a hang,
	// so a slow machine cannot turn a late close into a failure.
	_ = extra.SetReadDeadline(time.Now().Add(hangGuard))
	if _, err := extra.Read(make([]byte, 1)); err == nil {
		t.Fatal("ninth connection from one address got data")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("ninth connection from one address was not closed")
	}
}
