package stagechat_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/stagechat"
)

// TestReplaceIsWhole: replacing a file (the stage logo, the favicon) never
// rewrites it in place, so a process killed mid-write cannot leave a cut
// image that is served as the logo. Seen from a reader that opened the old
// image before the replace: it still reads the whole old image (in place,
// it read the new bytes, or a part of them). Emoji are not replaced: an
// upload under a taken name is refused (TestEmojiTakenName).
func TestReplaceIsWhole(t *testing.T) {
	t.Parallel()
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	old := append(bytes.Clone(png), bytes.Repeat([]byte{1}, 4096)...)
	if err := stagechat.WriteFileAtomic(root, "logo.png", old); err != nil {
		t.Fatal(err)
	}
	f, err := root.Open("logo.png")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := stagechat.WriteFileAtomic(root, "logo.png", append(bytes.Clone(png), 2)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(got, old) {
		t.Fatalf("the reader of the old image read %d bytes (want the old %d): %v", len(got), len(old), err)
	}
	if got, _ := root.ReadFile("logo.png"); !bytes.Equal(got, append(bytes.Clone(png), 2)) {
		t.Fatalf("new image: %q", got)
	}
}

// TestCutWriteLeftovers: what a crash mid-write leaves (a temporary file
// with part of an image) is never listed or served, and is removed when
// the directory is opened again (the next start).
func TestCutWriteLeftovers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A crash mid-upload of "cut": only the temporary file exists.
	tmp := filepath.Join(dir, ".tmp-CRASHED")
	if err := os.WriteFile(tmp, []byte("\x89PNG\r\n\x1a\n\x00"), 0o640); err != nil {
		t.Fatal(err)
	}
	d, err := stagechat.OpenEmojiDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("leftover temporary file kept: %v", err)
	}
	list, err := d.List(t.Context())
	if err != nil || len(list) != 0 {
		t.Fatalf("list: %v %v", list, err)
	}

	// WriteFileAtomic leaves no temporary file behind, and RemoveTemps
	// spares a write younger than its cut-off.
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := stagechat.WriteFileAtomic(root, "logo.png", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := stagechat.WriteFileAtomic(root, "logo.png", []byte("two")); err != nil {
		t.Fatal(err)
	}
	if b, err := root.ReadFile("logo.png"); err != nil || string(b) != "two" {
		t.Fatalf("logo: %q %v", b, err)
	}
	if err := root.WriteFile(".tmp-UNDERWAY", []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	if n := stagechat.RemoveTemps(root, time.Now().Add(-time.Hour)); n != 0 {
		t.Fatalf("removed %d files younger than the cut-off", n)
	}
	if n := stagechat.RemoveTemps(root, time.Now().Add(time.Second)); n != 1 {
		t.Fatalf("removed %d leftover files, want 1", n)
	}
	ents, _ := os.ReadDir(root.Name())
	if len(ents) != 1 || ents[0].Name() != "logo.png" {
		t.Fatalf("left in the directory: %v", ents)
	}
}
