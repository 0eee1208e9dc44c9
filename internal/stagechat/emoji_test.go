package stagechat_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
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
			if _, err := d.Upload(t.Context(), "e1", png); err != nil {
				t.Fatal(err)
			}
			err = d.Delete(t.Context(), tc.name)
			if tc.kind == fault.Internal {
				if err != nil {
					t.Fatalf("delete %q: %v", tc.name, err)
				}
				if _, serr := os.Stat(filepath.Join(dir, "e1.png")); !errors.Is(serr, os.ErrNotExist) {
					t.Fatalf("file still there: %v", serr)
				}
				if l, _ := d.List(t.Context()); len(l) != 0 {
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
		if _, err := d.Upload(t.Context(), name, png); !errors.Is(err, fault.Invalid) {
			t.Errorf("Upload(%q): %v, want bad input", name, err)
		}
	}
	for _, name := range []string{"party parrot", "café", "e-1_x"} {
		if _, err := d.Upload(t.Context(), name, png); err != nil {
			t.Errorf("Upload(%q): %v", name, err)
		}
	}
	if l, _ := d.List(t.Context()); len(l) != 3 {
		t.Errorf("list: %v", l)
	}
}

// TestEmojiTakenName: an upload under a shortcode already taken (in any
// case, with any extension) is refused as a conflict and the stored image
// is kept, as Owncast refuses it; two uploads of one new name at once
// store exactly one.
func TestEmojiTakenName(t *testing.T) {
	t.Parallel()
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
	gif := []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
	dir := t.TempDir()
	d, err := stagechat.OpenEmojiDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Upload(t.Context(), "e1", png); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{{"e1", append(bytes.Clone(png), 1)}, {"e1.png", png}, {"E1", gif}, {"/img/emoji/e1.gif", gif}} {
		_, err := d.Upload(t.Context(), tc.name, tc.data)
		if !errors.Is(err, fault.Conflict) || fault.Message(err) != `An emoji with the name "e1.png" already exists` {
			t.Errorf("Upload(%q): %v, want a conflict", tc.name, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "e1.png")); err != nil || !bytes.Equal(b, png) {
		t.Errorf("stored image changed: %q %v", b, err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = d.Upload(t.Context(), "race", append(bytes.Clone(png), byte(i)))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, fault.Conflict) {
			t.Errorf("concurrent upload: %v", err)
		}
	}
	if l, _ := d.List(t.Context()); ok != 1 || len(l) != 2 {
		t.Errorf("%d concurrent uploads of one name succeeded; list %v", ok, l)
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
		_, err := d.Upload(t.Context(), tc.name, tc.data)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, fault.Invalid)) {
			t.Errorf("Upload(%q): %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
