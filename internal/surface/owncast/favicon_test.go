package owncast_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/multipart"
	"net/http"
	"testing"
)

// TestFavicon follows Owncast's favicon suite, in both of its forms (a
// multipart field, and the current JSON data URL): PNG and ICO uploads are
// served at /favicon.ico, JPEG, oversized and missing files are 400, no
// credentials 401; before any upload and after a reset /favicon.ico is the
// default PNG, not the web app's HTML.
func TestFavicon(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde")
	ico := append([]byte{0, 0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 0x18, 0}, bytes.Repeat([]byte{0}, 40)...)
	jpeg := []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
	upload := func(auth bool, data []byte) (int, map[string]any) {
		t.Helper()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		if data != nil {
			fw, _ := mw.CreateFormFile("favicon", "f.bin")
			_, _ = fw.Write(data)
		}
		_ = mw.Close()
		req, _ := http.NewRequest("POST", n.url+"/api/admin/config/favicon", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		if auth {
			req.SetBasicAuth("admin", "abc123")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 401 {
			reply{body: b}.json(t, &out)
		}
		return resp.StatusCode, out
	}
	isDefault := func(when string) {
		t.Helper()
		r := n.do(t, "GET", "/favicon.ico", "", nil)
		if r.status != 200 || r.header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(r.body, []byte("\x89PNG")) {
			t.Fatalf("favicon %s: %d %s", when, r.status, r.header.Get("Content-Type"))
		}
	}
	isDefault("before upload")
	for _, tc := range []struct {
		name string
		auth bool
		data []byte
		code int
		msg  string
		ct   string
	}{
		{"png", true, png, 200, "favicon updated", "image/png"},
		{"ico", true, ico, 200, "favicon updated", "image/x-icon"},
		{"jpeg", true, jpeg, 400, "favicon must be PNG or ICO format", ""},
		{"oversized", true, make([]byte, 250<<10), 400, "file too large, max 200KB", ""},
		{"no file", true, nil, 400, "no file provided", ""},
		{"no credentials", false, png, 401, "", ""},
	} {
		code, out := upload(tc.auth, tc.data)
		if code != tc.code || (tc.msg != "" && out["message"] != tc.msg) {
			t.Fatalf("%s: %d %v", tc.name, code, out)
		}
		if tc.ct != "" {
			r := n.do(t, "GET", "/favicon.ico", "", nil)
			if r.status != 200 || r.header.Get("Content-Type") != tc.ct || !bytes.Equal(r.body, tc.data) {
				t.Fatalf("%s: GET /favicon.ico %d %s", tc.name, r.status, r.header.Get("Content-Type"))
			}
		}
	}
	if r := n.do(t, "DELETE", "/api/admin/config/favicon", "admin", nil); r.status != 200 || !bytes.Contains(r.body, []byte(`"favicon reset to default"`)) {
		t.Fatalf("reset: %d %s", r.status, r.body)
	}
	isDefault("after reset")

	// Owncast's current form: {"value": a data URL}, typed by the URL.
	dataURL := func(mime string, b []byte) map[string]any {
		return map[string]any{"value": "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b)}
	}
	for _, tc := range []struct {
		name string
		body any
		code int
		msg  string
		ct   string
		data []byte
	}{
		{"png", dataURL("image/png", png), 200, "favicon updated", "image/png", png},
		{"ico", dataURL("image/x-icon", ico), 200, "favicon updated", "image/x-icon", ico},
		{"png named a jpeg", dataURL("image/jpeg", png), 400, "favicon must be PNG or ICO format", "", nil},
		{"jpeg named a png", dataURL("image/png", jpeg), 400, "favicon must be PNG or ICO format", "", nil},
		{"oversized", dataURL("image/png", bytes.Repeat([]byte{0x42}, 210<<10)), 400, "file too large, max 200KB", "", nil},
		{"no value", map[string]any{}, 400, "unable to find image data", "", nil},
		{"not a data URL", map[string]any{"value": "iVBORw0KGgo="}, 400, "image data must be a base64 data URL", "", nil},
	} {
		r := n.do(t, "POST", "/api/admin/config/favicon", "admin", tc.body)
		var out map[string]any
		r.json(t, &out)
		if r.status != tc.code || out["message"] != tc.msg || out["success"] != (tc.code == 200) {
			t.Fatalf("JSON %s: %d %s", tc.name, r.status, r.body)
		}
		if tc.ct != "" {
			g := n.do(t, "GET", "/favicon.ico", "", nil)
			if g.status != 200 || g.header.Get("Content-Type") != tc.ct || !bytes.Equal(g.body, tc.data) {
				t.Fatalf("JSON %s: GET /favicon.ico %d %s", tc.name, g.status, g.header.Get("Content-Type"))
			}
		}
	}
}
