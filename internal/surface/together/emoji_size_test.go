package together_test

import (
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/imagehdr/imagehdrtest"
	"github.com/hearth-community/hearth/internal/store/storetest"
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
