package owncast_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"testing"
)

// TestFavicon follows Owncast 0.2's favicon suite: PNG and ICO uploads
// are served at /favicon.ico, JPEG, oversized and missing files are 400,
// no credentials 401; before any upload and after a reset /favicon.ico is
// a 404, not the web app's HTML.
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
	if r := n.do(t, "GET", "/favicon.ico", "", nil); r.status != 404 || r.header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("favicon before upload: %d %s", r.status, r.header.Get("Content-Type"))
	}
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
	if r := n.do(t, "DELETE", "/api/admin/config/favicon", "admin", nil); r.status != 200 {
		t.Fatalf("reset: %d %s", r.status, r.body)
	}
	if r := n.do(t, "GET", "/favicon.ico", "", nil); r.status != 404 {
		t.Fatalf("favicon after reset: %d", r.status)
	}
}
