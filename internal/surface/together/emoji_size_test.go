package together_test

import (
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// pngHeader is the start of a PNG that declares w×h pixels: the signature
// and its IHDR chunk, all a reader of its size looks at. A few hundred
// bytes of such a file is what a client is asked to decode into w×h×4.
func pngHeader(w, h uint32) []byte {
	ihdr := make([]byte, 0, 17)
	ihdr = append(ihdr, "IHDR"...)
	ihdr = binary.BigEndian.AppendUint32(ihdr, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8-bit RGBA
	b := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0d")
	b = append(b, ihdr...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
}

// gifHeader is a GIF whose logical screen declares w×h pixels.
func gifHeader(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	return append(b, 0, 0, 0, ';')
}

// gifFrameBomb is a GIF whose logical screen is 1×1 but whose one frame is
// w×h: browsers may grow the image to hold the frame.
func gifFrameBomb(w, h uint16) []byte {
	le := binary.LittleEndian
	b := append([]byte("GIF89a"), 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255)
	b = append(b, 0x2c, 0, 0, 0, 0)
	b = le.AppendUint16(b, w)
	b = le.AppendUint16(b, h)
	return append(b, 0, 2, 2, 0x4c, 0x01, 0, 0x3b)
}

// TestEmojiDeclaredSizeBounded: a custom emoji is never decoded by the
// server but by every member's client, inline in chat, so the size its
// header declares is bounded (1024 a side). Before, a 20-byte GIF declaring
// 65535×65535 was stored and served to every client to decode (16 GiB).
func TestEmojiDeclaredSizeBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann := e.register("ann")
	sid, _ := e.serverWithChannel(ann, "general")
	for _, tc := range []struct {
		name string
		img  []byte
		code int
		msg  string
	}{
		{"gif_bomb", gifHeader(65535, 65535), 400, "Emoji image must be at most 1024x1024 pixels, not 65535x65535"},
		{"gif_frame_bomb", gifFrameBomb(65535, 65535), 400, "Emoji image must be at most 1024x1024 pixels, not 65535x65535"},
		{"png_bomb", pngHeader(60000, 60000), 400, "Emoji image must be at most 1024x1024 pixels, not 60000x60000"},
		{"too_wide", pngHeader(1025, 1), 400, "at most 1024x1024 pixels, not 1025x1"},
		{"too_tall", pngHeader(1, 1025), 400, "at most 1024x1024 pixels, not 1x1025"},
		{"unreadable", append(pngHeader(1, 1)[:20], 0xff, 0xff), 400, "Emoji image is not readable"},
		{"largest", pngHeader(1024, 1024), 201, `"name":"largest"`},
		{"small_gif", gifHeader(32, 32), 201, `"name":"small_gif"`},
	} {
		code, body := e.upload("/servers/"+sid+"/emojis", ann.access, []part{{"name", "", []byte(tc.name)}, {"image", "e.png", tc.img}})
		if code != tc.code || !strings.Contains(body, tc.msg) {
			t.Errorf("%s: %d %s, want %d %q", tc.name, code, body, tc.code, tc.msg)
		}
	}
	_, list := e.must(200, "GET", "/servers/"+sid+"/emojis", ann.access, nil)
	if len(list) != 2 {
		t.Fatalf("stored emoji: %v", list)
	}
}
