package stagechat_test

import (
	"bytes"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// FuzzEmojiUpload sends a stranger's emoji name and image bytes through the
// upload, open and delete an admin's client reaches (Owncast's
// /api/admin/emoji/upload and /delete, after the base64 is decoded). What
// must hold for any input: an upload either fails as bad input (never an
// internal error) or stores exactly those bytes as one file in the emoji
// directory, named after the shortcode with the extension of the sniffed
// image type, which open serves and delete removes; nothing appears next to
// the directory.
func FuzzEmojiUpload(f *testing.F) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
	gif := []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
	for _, s := range []struct {
		name string
		data []byte
	}{
		{"e1.png", png}, {"cat", gif}, {"../x.png", png}, {"/img/emoji/a.gif", gif}, {".hidden.png", png},
		{"a%2f..%2fb.png", png}, {"svg.png", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>`)},
		{"html.gif", []byte("<html><script>alert(1)</script>")}, {"x.png", nil}, {"a\x00.png", png},
		{"RIFF.webp", []byte("RIFF\x10\x00\x00\x00WEBPVP8 ")}, {"j.jpeg", []byte("\xff\xd8\xff\xe0\x00\x10JFIF")},
	} {
		f.Add(s.name, s.data)
	}
	// One directory for every input (a directory per input made the
	// fuzzer's minimising crawl); each input leaves it empty.
	base := f.TempDir()
	dir := filepath.Join(base, "emoji")
	d, err := stagechat.OpenEmojiDir(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { d.Close() })
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		e, err := d.Upload(t.Context(), name, data)
		if err != nil {
			if k := fault.KindOf(err); k != fault.Invalid {
				t.Fatalf("Upload(%q, %d bytes): %v (kind %v), want bad input", name, len(data), err, k)
			}
			return
		}
		ext := map[string]string{"image/png": ".png", "image/gif": ".gif", "image/jpeg": ".jpg", "image/webp": ".webp"}[http.DetectContentType(data)]
		if ext == "" || path.Ext(e.File) != ext || !filepath.IsLocal(e.File) || strings.ContainsAny(e.File, "/\\") {
			t.Fatalf("Upload(%q) stored %q for %s", name, e.File, http.DetectContentType(data))
		}
		if e.URL != stagechat.EmojiURLPrefix+e.File || e.Name != strings.TrimSuffix(e.File, ext) {
			t.Fatalf("Upload(%q) = %+v", name, e)
		}
		ents, _ := os.ReadDir(base)
		if len(ents) != 1 {
			t.Fatalf("Upload(%q) wrote next to the emoji directory: %v", name, ents)
		}
		got, err := os.ReadFile(filepath.Join(dir, e.File))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Upload(%q): stored file %q unreadable or changed: %v", name, e.File, err)
		}
		if u, ok := d.Lookup(e.Name); !ok || u != e.URL {
			t.Fatalf("Lookup(%q) = %q, %v after upload", e.Name, u, ok)
		}
		rc, _, err := d.Open(t.Context(), e.File)
		if err != nil {
			t.Fatalf("Open(%q): %v", e.File, err)
		}
		rc.Close()
		if err := d.Delete(t.Context(), e.File); err != nil {
			t.Fatalf("Delete(%q): %v", e.File, err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("Delete(%q) left %v", e.File, ents)
		}
	})
}
