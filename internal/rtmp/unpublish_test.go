package rtmp

import (
	"bytes"
	"context"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestStoppedPublisherIsNotBadData: ffmpeg ending its broadcast sends
// FCUnpublish and then deleteStream. A connection that published for
// longer than PublishTimeout was dropped between the two as "bad data
// from client: no publish within 30s", a warning on every ordinary end of
// a stream; it closes as an ordinary connection end.
func TestStoppedPublisherIsNotBadData(t *testing.T) {
	t.Parallel()
	ff := needFFmpeg(t)
	var logs syncBuffer
	rec := newRecorder()
	s, err := NewServer(Config{Addr: "127.0.0.1:0", PublishTimeout: 300 * time.Millisecond},
		rec, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	url := "rtmp://" + s.Addr().String() + "/live/good"
	// -re: the broadcast lasts 1 s of wall clock, past PublishTimeout.
	cmd := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=160x90:rate=25",
		"-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-f", "flv", url)
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
	deadline := time.Now().Add(hangGuard)
	for !strings.Contains(logs.String(), "rtmp connection") {
		if time.Now().After(deadline) {
			t.Fatalf("the connection's end was never logged:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := logs.String(); strings.Contains(out, "bad data") || !strings.Contains(out, "rtmp connection closed") {
		t.Fatalf("an ordinary end of a broadcast logged as:\n%s", out)
	}
}
