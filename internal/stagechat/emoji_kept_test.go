package stagechat_test

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/imagehdr/imagehdrtest"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// countingEmoji is an EmojiStore in memory that counts the reads of an
// emoji's bytes.
type countingEmoji struct {
	mu    sync.Mutex
	files map[string][]byte
	reads int
}

func (c *countingEmoji) PutEmoji(_ context.Context, file, _ string, data []byte, _ time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.files[file] = data
	return nil
}

func (c *countingEmoji) StoredEmoji(context.Context) ([]stagechat.StoredEmoji, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []stagechat.StoredEmoji
	for f := range c.files {
		out = append(out, stagechat.StoredEmoji{File: f})
	}
	return out, nil
}

func (c *countingEmoji) EmojiData(_ context.Context, file string) ([]byte, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	data, ok := c.files[file]
	if !ok {
		return nil, time.Time{}, fault.NotFound
	}
	return bytes.Clone(data), time.Unix(1_800_000_000, 0), nil
}

func (c *countingEmoji) DeleteEmoji(_ context.Context, file, _ string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.files[file]; !ok {
		return fault.NotFound
	}
	delete(c.files, file)
	return nil
}

func (c *countingEmoji) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

// TestUploadedEmojiReadOnce: the requests serving an uploaded emoji (kept
// in the database, EmojiDir.Share) share one copy of its bytes, read from
// the database once; each request read its own copy (up to 512 KiB, held
// while its client read it), so a crowd of slow readers of one emoji held
// that many copies, and every chat member's every emoji was a database
// read. An upload or delete, here or announced by another node
// (Invalidate), makes the next request read it again; a deleted one is
// not served from memory.
func TestUploadedEmojiReadOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d, err := stagechat.OpenEmojiDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	st := &countingEmoji{files: map[string][]byte{}}
	d.Share(st, nil)
	img := imagehdrtest.PNG(16, 16)
	if _, err := d.Upload(ctx, "wave", img); err != nil {
		t.Fatal(err)
	}
	serve := func() {
		t.Helper()
		f, _, err := d.Open(ctx, "wave.png")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(f)
		f.Close()
		if !bytes.Equal(got, img) {
			t.Fatalf("served %d bytes, uploaded %d", len(got), len(img))
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 25 {
				serve()
			}
		})
	}
	wg.Wait()
	if n := st.count(); n != 1 {
		t.Fatalf("200 requests for one emoji read it %d times from the database, want 1", n)
	}
	d.Invalidate() // another node uploaded or deleted one
	serve()
	if n := st.count(); n != 2 {
		t.Fatalf("after an announced change: %d reads, want 2", n)
	}
	if err := d.Delete(ctx, "wave.png"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Open(ctx, "wave.png"); err == nil {
		t.Fatal("a deleted emoji is still served")
	}
}
