package together_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/imagehdr/imagehdrtest"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/together"
)

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
		{"gif_bomb", imagehdrtest.GIF(65535, 65535), 400, "Emoji image must be at most 1024x1024 pixels, not 65535x65535"},
		{"png_bomb_bad_crc", imagehdrtest.PNGBadCRC(60000, 60000), 400, "Emoji image must be at most 1024x1024 pixels, not 60000x60000"},
		{"gif_frame_bomb", imagehdrtest.GIFFrameBomb(65535, 65535), 400, "Emoji image must be at most 1024x1024 pixels, not 65535x65535"},
		{"png_bomb", imagehdrtest.PNG(60000, 60000), 400, "Emoji image must be at most 1024x1024 pixels, not 60000x60000"},
		{"too_wide", imagehdrtest.PNG(1025, 1), 400, "at most 1024x1024 pixels, not 1025x1"},
		{"too_tall", imagehdrtest.PNG(1, 1025), 400, "at most 1024x1024 pixels, not 1x1025"},
		{"unreadable", append(imagehdrtest.PNG(1, 1)[:20], 0xff, 0xff), 400, "Emoji image is not readable"},
		{"largest", imagehdrtest.PNG(1024, 1024), 201, `"name":"largest"`},
		{"small_gif", imagehdrtest.GIF(32, 32), 201, `"name":"small_gif"`},
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

// TestAttachedImageDeclaredSizeBounded: an attached image is decoded inline
// by every member's client at the size its header declares, so past 16384
// a side or 100 megapixels it is refused, and nothing of the upload is
// kept. Before, a 60-byte PNG declaring 60000×60000 (14 GB to decode) was
// stored and shown to every member.
func TestAttachedImageDeclaredSizeBounded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newEnv(t, storetest.Engines()[0], func(d *together.Deps) { d.UploadDir = dir })
	ann := e.register("ann")
	_, cid := e.serverWithChannel(ann, "files")
	m, _ := e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": "pictures"})
	mid := m["id"].(string)
	for _, tc := range []struct {
		name string
		img  []byte
		code int
		msg  string
	}{
		{"png_bomb", imagehdrtest.PNG(60000, 60000), 400, `Image \"png_bomb.png\" is 60000x60000 pixels: images may be at most 16384x16384 and 100 megapixels`},
		{"png_bomb_bad_crc", imagehdrtest.PNGBadCRC(60000, 60000), 400, "is 60000x60000 pixels"},
		// Arithmetic coding (SOF9): Go's reader refuses it, libjpeg-turbo
		// decodes it; its frame header's size is read all the same.
		{"jpeg_arithmetic_bomb", append([]byte("\xff\xd8\xff\xc9\x00\x11\x08\xea\x60\xea\x60\x03"), 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 0xff, 0xd9), 400,
			"is 60000x60000 pixels"},
		{"jpeg_arithmetic", append([]byte("\xff\xd8\xff\xc9\x00\x11\x08\x01\xe0\x02\x80\x03"), 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 0xff, 0xd9), 201,
			`"width":640`},
		// Nothing to read a size from: refused.
		{"jpeg_no_frame", []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"), 400,
			`Image \"jpeg_no_frame.png\" is not readable: its width and height could not be read`},
		{"gif_frame_bomb", imagehdrtest.GIFFrameBomb(65535, 65535), 400, "is 65535x65535 pixels"},
		{"too_wide", imagehdrtest.PNG(16385, 1), 400, "is 16385x1 pixels"},
		{"too_many_pixels", imagehdrtest.PNG(10001, 10000), 400, "is 10001x10000 pixels"},
		{"photo", imagehdrtest.PNG(8000, 6000), 201, `"width":8000`},
		{"widest", imagehdrtest.PNG(16384, 100), 201, `"height":100`},
	} {
		code, body := e.upload("/messages/"+mid+"/attachments", ann.access, []part{{"files", tc.name + ".png", tc.img}})
		if code != tc.code || !strings.Contains(body, tc.msg) {
			t.Errorf("%s: %d %s, want %d %q", tc.name, code, body, tc.code, tc.msg)
		}
	}
	// A message's upload with a bomb among good files keeps none of them.
	code, body := e.upload("/messages/"+mid+"/attachments", ann.access, []part{
		{"files", "good.png", pngBytes(t, 2, 2)}, {"files", "bomb.png", imagehdrtest.PNG(60000, 60000)}})
	if code != 400 {
		t.Errorf("a bomb after a good file: %d %s, want 400", code, body)
	}
	if _, list := e.must(200, "GET", "/messages/"+mid+"/attachments", ann.access, nil); len(list) != 3 {
		t.Errorf("attachments kept: %v, want the arithmetic JPEG, the photo and the widest", list)
	}
	files, _ := filepath.Glob(filepath.Join(dir, mid, "*"))
	if len(files) != 3 {
		t.Errorf("files on disk: %v, want 3", files)
	}
}
