package recording_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/hls"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// BenchmarkRecordSegment is the work recording adds per segment of the
// source rendition: a hard link and the playlist rewritten. The segment is
// a 3 s segment of a 6 Mbit/s stream (2.25 MB), already written by the live
// origin; b.N segments go into one recording, so the playlist grows as in a
// long broadcast.
func BenchmarkRecordSegment(b *testing.B) {
	db := storetest.OpenSQLite(b)
	rs, err := recording.New(recording.Config{Dir: b.TempDir(), DefaultEnabled: true, FFmpeg: func() string { return "false" }}, db.Recordings(), nil)
	if err != nil {
		b.Fatal(err)
	}
	src := b.TempDir()
	data := bytes.Repeat([]byte{0x47}, 6_000_000/8*3)
	sink := rs.BroadcastStarted("stage", "b", "bench", time.Now())
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		p := filepath.Join(src, "seg.ts")
		_ = os.Remove(p)
		if err := os.WriteFile(p, data, 0o600); err != nil { // the live origin's write, not recording's
			b.Fatal(err)
		}
		b.StartTimer()
		sink.Segment(p, hls.Segment{Duration: 3 * time.Second, Data: data})
		_ = i
	}
}

// BenchmarkRecordingReady is the time from a broadcast's end to its
// recording being ready: the VOD playlist written, totals measured and the
// row updated, for a one-hour recording of 3 s segments.
func BenchmarkRecordingReady(b *testing.B) {
	db := storetest.OpenSQLite(b)
	rs, err := recording.New(recording.Config{Dir: b.TempDir(), DefaultEnabled: true, FFmpeg: func() string { return "false" }}, db.Recordings(), nil)
	if err != nil {
		b.Fatal(err)
	}
	src := filepath.Join(b.TempDir(), "seg.ts")
	if err := os.WriteFile(src, bytes.Repeat([]byte{0x47}, 188*100), 0o600); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		sink := rs.BroadcastStarted("stage", "b", "bench", time.Now())
		for range 1200 {
			sink.Segment(src, hls.Segment{Duration: 3 * time.Second})
		}
		b.StartTimer()
		sink.End(time.Now())
	}
	_ = context.Background()
}
