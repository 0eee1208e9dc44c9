package recording_test

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/hearth-community/hearth/internal/hls"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestS3Offload: a ready recording is copied to an S3-compatible bucket
// (an in-process fake the test starts); another node, sharing the
// database but not the disk, serves its playlist and segments from the
// bucket; deleting the recording deletes its objects.
func TestS3Offload(t *testing.T) {
	t.Parallel()
	backend := s3mem.New()
	if err := backend.CreateBucket("media"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	bucket, err := hls.NewBucket(hls.S3Config{Enabled: true, Endpoint: srv.URL, AccessKey: "k", Secret: "s", Bucket: "media",
		Region: "us-east-1", PathPrefix: "show", ForcePathStyle: true}, "recordings/")
	if err != nil {
		t.Fatal(err)
	}
	objects := func() recording.ObjectStore { return bucket }
	db := storetest.OpenSQLite(t)
	noFF := func() string { return "false" }
	a, err := recording.New(recording.Config{Dir: t.TempDir(), NodeID: "a", DefaultEnabled: true, FFmpeg: noFF, Objects: objects}, db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := recording.New(recording.Config{Dir: t.TempDir(), NodeID: "b", DefaultEnabled: true, FFmpeg: noFF, Objects: objects}, db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := a.BroadcastStarted("stage", "b1", "Night", time.Now())
	src := filepath.Join(t.TempDir(), "live.ts")
	seg := bytes.Repeat([]byte{0x47, 1, 2, 3}, 47*20)
	if err := os.WriteFile(src, seg, 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		sink.Segment(src, hls.Segment{Duration: 2 * time.Second})
	}
	sink.End(time.Now())
	a.WaitOffloads()
	list, _ := b.List(context.Background(), "stage")
	if len(list) != 1 {
		t.Fatalf("recordings seen by node b: %d", len(list))
	}
	id := list[0].ID
	ctx := context.Background()
	read := func(name string) []byte {
		t.Helper()
		f, _, err := b.Open(ctx, id, name)
		if err != nil {
			t.Fatalf("node b opens %s: %v", name, err)
		}
		defer f.Close()
		// Seekable: range requests work on bucket objects too.
		if _, err := f.Seek(4, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		rest, err := io.ReadAll(f)
		if err != nil {
			t.Fatal(err)
		}
		return rest
	}
	if pl := read(recording.PlaylistName); !bytes.Contains(pl, []byte("#EXT-X-ENDLIST")) || !bytes.Contains(pl, []byte("seg-00002.ts")) {
		t.Fatalf("playlist from the bucket: %s", pl)
	}
	if got := read("seg-00001.ts"); !bytes.Equal(got, seg[4:]) {
		t.Fatalf("segment from the bucket: %d bytes", len(got))
	}
	if _, _, err := b.Open(ctx, id, "seg-00009.ts"); err == nil {
		t.Fatal("a missing segment opened")
	}
	if _, err := backend.GetObject("media", "show/recordings/"+id+"/index.m3u8", nil); err != nil {
		t.Fatalf("the playlist's key: %v", err)
	}
	if err := b.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	objs, err := backend.ListBucket("media", &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil || len(objs.Contents) != 0 {
		t.Fatalf("objects left after delete: %v %v", objs, err)
	}
}

// blockingObjects is a bucket whose uploads wait for their context to end.
type blockingObjects struct{ started chan struct{} }

func (b blockingObjects) PutFile(ctx context.Context, _, _, _ string) error {
	select {
	case b.started <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

func (blockingObjects) Open(context.Context, string) (hls.Object, time.Time, bool, error) {
	return nil, time.Time{}, false, nil
}

func (blockingObjects) RemovePrefix(context.Context, string) error { return nil }

// TestOffloadEndsAtShutdown: an S3 copy in flight takes its context from
// the node's life, so shutdown cancels it instead of holding the node for
// up to the copy's 30 minutes.
func TestOffloadEndsAtShutdown(t *testing.T) {
	t.Parallel()
	life, end := context.WithCancel(context.Background())
	defer end()
	obj := blockingObjects{started: make(chan struct{}, 1)}
	db := storetest.OpenSQLite(t)
	a, err := recording.New(recording.Config{Dir: t.TempDir(), NodeID: "a", DefaultEnabled: true, FFmpeg: func() string { return "false" },
		Objects: func() recording.ObjectStore { return obj }, Life: life}, db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := a.BroadcastStarted("stage", "b1", "Night", time.Now())
	src := filepath.Join(t.TempDir(), "live.ts")
	if err := os.WriteFile(src, bytes.Repeat([]byte{0x47, 1, 2, 3}, 47*20), 0o600); err != nil {
		t.Fatal(err)
	}
	sink.Segment(src, hls.Segment{Duration: 2 * time.Second})
	sink.End(time.Now())
	select {
	case <-obj.started:
	case <-time.After(30 * time.Second):
		t.Fatal("the offload did not start")
	}
	end()
	done := make(chan struct{})
	go func() { a.WaitOffloads(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the offload outlived the node's life")
	}
}
