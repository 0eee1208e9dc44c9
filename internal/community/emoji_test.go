package community_test

import (
	"bytes"
	"testing"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/imagehdr/imagehdrtest"
)

// TestEmojiRules: a custom emoji's name and image rules are the
// community's, in Together's words: a name of 1–32 of a-z, 0-9, _ and -;
// an image of at most 256 KiB (declared or read), a PNG, JPEG, GIF or WebP
// by its bytes, declaring at most 1024 pixels a side.
func TestEmojiRules(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		ok   bool
	}{{"party_parrot-2", true}, {"", false}, {"Caps", false}, {"x y", false}, {string(bytes.Repeat([]byte("a"), 32)), true}, {string(bytes.Repeat([]byte("a"), 33)), false}} {
		if err := community.CheckEmojiName(c.name); (err == nil) != c.ok || (err != nil && err != community.ErrEmojiName) {
			t.Errorf("name %q: %v", c.name, err)
		}
	}
	big := append(imagehdrtest.PNG(16, 16), make([]byte, community.MaxEmojiBytes)...)
	for _, c := range []struct {
		name     string
		data     []byte
		declared int64
		wantCT   string
		wantErr  string
	}{
		{"png", imagehdrtest.PNG(128, 128), -1, "image/png", ""},
		{"gif at the side limit", imagehdrtest.GIF(1024, 1024), -1, "image/gif", ""},
		{"too big", big, -1, "", "Emoji image must be at most 256 KiB"},
		{"declared too big", imagehdrtest.PNG(1, 1), community.MaxEmojiBytes + 1, "", "Emoji image must be at most 256 KiB"},
		{"empty", nil, 0, "", "Emoji image must be PNG, JPEG, GIF or WebP"},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`), -1, "", "Emoji image must be PNG, JPEG, GIF or WebP"},
		{"pdf", []byte("%PDF-1.4\n"), -1, "", "Emoji image must be PNG, JPEG, GIF or WebP"},
		{"gif bomb", imagehdrtest.GIFFrameBomb(65535, 65535), -1, "", "Emoji image must be at most 1024x1024 pixels, not 65535x65535"},
		{"unreadable", append(imagehdrtest.PNG(1, 1)[:20], 0xff, 0xff), -1, "", "Emoji image is not readable: its width and height could not be read"},
	} {
		ct, err := community.CheckEmojiImage(c.data, c.declared)
		switch {
		case c.wantErr == "" && (err != nil || ct != c.wantCT):
			t.Errorf("%s: %q %v, want %q", c.name, ct, err, c.wantCT)
		case c.wantErr != "" && (fault.KindOf(err) != fault.Invalid || fault.Message(err) != c.wantErr):
			t.Errorf("%s: %v, want Invalid %q", c.name, err, c.wantErr)
		}
	}
}
