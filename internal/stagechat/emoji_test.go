package stagechat_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// TestEmojiDeleteNames: delete accepts the file name, the shortcode that
// GET /api/emoji lists, and the rooted names Owncast's admin sends; a name
// that leaves the directory stays invalid.
func TestEmojiDeleteNames(t *testing.T) {
	t.Parallel()
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
	for _, tc := range []struct {
		name string
		kind fault.Kind // Internal = success
	}{
		{"e1.png", fault.Internal},
		{"e1", fault.Internal},
		{"E1", fault.Internal},
		{"/e1.png", fault.Internal},
		{"/img/emoji/e1.png", fault.Internal},
		{"nope", fault.NotFound},
		{"//e1.png", fault.Invalid},
		{"/../e1.png", fault.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			d, err := stagechat.OpenEmojiDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if _, err := d.Upload("e1", png); err != nil {
				t.Fatal(err)
			}
			err = d.Delete(tc.name)
			if tc.kind == fault.Internal {
				if err != nil {
					t.Fatalf("delete %q: %v", tc.name, err)
				}
				if _, serr := os.Stat(filepath.Join(dir, "e1.png")); !errors.Is(serr, os.ErrNotExist) {
					t.Fatalf("file still there: %v", serr)
				}
				if l, _ := d.List(); len(l) != 0 {
					t.Fatalf("list after delete: %v", l)
				}
				return
			}
			if !errors.Is(err, tc.kind) {
				t.Fatalf("delete %q: %v, want %v", tc.name, err, tc.kind)
			}
		})
	}
}

// TestEmojiNamesAreVisibleText: an emoji's name is listed to everyone, so a
// name holding line breaks, bidi overrides, zero-width characters or bytes
// that are not UTF-8 is refused; other names, spaces and accents included,
// are kept as Owncast keeps them.
func TestEmojiNamesAreVisibleText(t *testing.T) {
	t.Parallel()
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
	d, err := stagechat.OpenEmojiDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, name := range []string{"a\r\nb", "tab\there", "\u202egnp", "zero\u200bwidth", "bom\ufeff", "bad\xffutf8"} {
		if _, err := d.Upload(name, png); !errors.Is(err, fault.Invalid) {
			t.Errorf("Upload(%q): %v, want bad input", name, err)
		}
	}
	for _, name := range []string{"party parrot", "café", "e-1_x"} {
		if _, err := d.Upload(name, png); err != nil {
			t.Errorf("Upload(%q): %v", name, err)
		}
	}
	if l, _ := d.List(); len(l) != 3 {
		t.Errorf("list: %v", l)
	}
}

// TestEmojiDeclaredSize: an emoji's declared width and height are bounded
// (stagechat.MaxEmojiSide) and an image whose header cannot be read is
// refused: its size is unknown.
func TestEmojiDeclaredSize(t *testing.T) {
	t.Parallel()
	d, err := stagechat.OpenEmojiDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, tc := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"bomb", []byte("GIF89a\xff\xff\xff\xff\x00\x00\x00;"), false},
		{"wide", []byte("GIF89a\x01\x04\x01\x00\x00\x00\x00;"), false}, // 1025×1
		{"edge", []byte("GIF89a\x00\x04\x00\x04\x00\x00\x00;"), true},  // 1024×1024
		{"cut", []byte("GIF89a\x01"), false},
	} {
		_, err := d.Upload(tc.name, tc.data)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, fault.Invalid)) {
			t.Errorf("Upload(%q): %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
