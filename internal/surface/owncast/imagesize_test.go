package owncast_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/imagehdr/imagehdrtest"
)

func pngURL(b []byte) string { return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b) }

// TestImageDeclaredSizeBounded: custom emoji are decoded by every chat
// member's browser, inline in each message, and the logo and favicon by
// every visitor's; none is decoded here. So the size an image's header
// declares is bounded: 1024 a side for emoji, 4096 for the logo and a PNG
// favicon. Before, a 20-byte GIF declaring 65535×65535 (16 GiB decoded)
// was stored as an emoji and rendered into everyone's chat.
func TestImageDeclaredSizeBounded(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	gifURL := func(b []byte) string { return "data:image/gif;base64," + base64.StdEncoding.EncodeToString(b) }
	for _, tc := range []struct {
		path, field, name, value string
		want                     int
		msg                      string
	}{
		{"/api/admin/emoji/upload", "data", "gifbomb", gifURL(imagehdrtest.GIF(65535, 65535)), 400, `"emoji must be at most 1024x1024 pixels, not 65535x65535"`},
		{"/api/admin/emoji/upload", "data", "framebomb", gifURL(imagehdrtest.GIFFrameBomb(65535, 65535)), 400, "not 65535x65535"},
		{"/api/admin/emoji/upload", "data", "pngbomb", pngURL(imagehdrtest.PNG(60000, 60000)), 400, `"emoji must be at most 1024x1024 pixels, not 60000x60000"`},
		{"/api/admin/emoji/upload", "data", "wide", pngURL(imagehdrtest.PNG(1025, 1)), 400, "not 1025x1"},
		{"/api/admin/emoji/upload", "data", "tall", gifURL(imagehdrtest.GIF(1, 1025)), 400, "not 1x1025"},
		{"/api/admin/emoji/upload", "data", "cut", pngURL(append(imagehdrtest.PNG(1, 1)[:20], 0xff)), 400, "emoji image is not readable"},
		{"/api/admin/emoji/upload", "data", "largest", pngURL(imagehdrtest.PNG(1024, 1024)), 200, `"success":true`},
		{"/api/admin/emoji/upload", "data", "small", gifURL(imagehdrtest.GIF(32, 32)), 200, `"success":true`},
		{"/api/admin/config/logo", "value", "", pngURL(imagehdrtest.PNG(60000, 60000)), 400, `"logo must be at most 4096x4096 pixels, not 60000x60000"`},
		{"/api/admin/config/logo", "value", "", gifURL(imagehdrtest.GIF(4097, 16)), 400, "not 4097x16"},
		{"/api/admin/config/logo", "value", "", pngURL(imagehdrtest.PNG(4096, 4096)), 200, `"success":true`},
		{"/api/admin/config/favicon", "value", "", pngURL(imagehdrtest.PNG(60000, 60000)), 400, `"favicon must be at most 4096x4096 pixels, not 60000x60000"`},
		{"/api/admin/config/favicon", "value", "", pngURL(imagehdrtest.PNG(256, 256)), 200, `"success":true`},
	} {
		r := n.do(t, "POST", tc.path, "admin", map[string]any{"name": tc.name, tc.field: tc.value})
		if r.status != tc.want || !strings.Contains(string(r.body), tc.msg) {
			t.Errorf("%s %s: %d %s, want %d %s", tc.path, tc.name, r.status, r.body, tc.want, tc.msg)
		}
	}
	var list []map[string]string
	n.do(t, "GET", "/api/emoji", "", nil).json(t, &list)
	if len(list) != 2 {
		t.Errorf("emoji stored: %v", list)
	}
	if r := n.do(t, "GET", "/logo", "", nil); string(r.body) != string(imagehdrtest.PNG(4096, 4096)) {
		t.Errorf("logo is not the last accepted one: %d bytes", len(r.body))
	}
}

// TestEmojiUploadRefusesTakenName: as Owncast, an upload under a name
// already taken is refused (400, "An emoji with the name … already
// exists") instead of replacing the image that messages already show.
// Shortcodes match without case, as chat does, so E1.gif is taken by e1.png.
// Once the emoji is deleted, the name is free again.
func TestEmojiUploadRefusesTakenName(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	first := imagehdrtest.PNG(8, 8)
	if r := n.do(t, "POST", "/api/admin/emoji/upload", "admin", map[string]any{"name": "e1", "data": pngURL(first)}); r.status != 200 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	for _, tc := range []struct{ name, data string }{
		{"e1", pngURL(imagehdrtest.PNG(16, 16))},
		{"e1.png", pngURL(imagehdrtest.PNG(16, 16))},
		{"E1.gif", "data:image/gif;base64," + base64.StdEncoding.EncodeToString(imagehdrtest.GIF(16, 16))},
	} {
		r := n.do(t, "POST", "/api/admin/emoji/upload", "admin", map[string]any{"name": tc.name, "data": tc.data})
		if r.status != 400 || string(r.body) != `{"message":"An emoji with the name \"e1.png\" already exists","success":false}`+"\n" {
			t.Errorf("upload over %q: %d %q", tc.name, r.status, r.body)
		}
	}
	if r := n.do(t, "GET", "/api/emoji", "", nil); r.status != 200 || string(r.body) != `[{"name":"e1","url":"/img/emoji/e1.png"}]`+"\n" {
		t.Errorf("emoji listed: %d %s", r.status, r.body)
	}
	if r := n.do(t, "GET", "/img/emoji/e1.png", "", nil); string(r.body) != string(first) {
		t.Errorf("the first image was replaced: %d bytes", len(r.body))
	}
	if r := n.do(t, "POST", "/api/admin/emoji/delete", "admin", map[string]any{"name": "e1"}); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := n.do(t, "POST", "/api/admin/emoji/upload", "admin", map[string]any{"name": "e1", "data": pngURL(imagehdrtest.PNG(16, 16))}); r.status != 200 {
		t.Fatalf("upload after delete: %d %s", r.status, r.body)
	}
}

// TestLogoWithoutImageData: a logo value that holds no image (an empty
// string, or a data URL with nothing after the comma) is 400 "unable to
// find image data", Owncast's message, not "logo must be at most 2 MiB".
func TestLogoWithoutImageData(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	for _, v := range []string{"", "data:image/png;base64,", "   "} {
		r := n.do(t, "POST", "/api/admin/config/logo", "admin", map[string]any{"value": v})
		if r.status != 400 || !strings.Contains(string(r.body), `"message":"unable to find image data"`) {
			t.Errorf("logo %q: %d %s", v, r.status, r.body)
		}
	}
}
