package files

import (
	"bytes"
	"errors"
	"image"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/fault"
)

// FuzzImageHeader feeds arbitrary file heads to the attachment sniffer and
// the image header reader used for width and height: only allow-listed
// types come out, markup never passes as text, and a header that declares
// a size is read without decoding pixels.
func FuzzImageHeader(f *testing.F) {
	for _, s := range [][]byte{
		[]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x7f\xff\xff\xff\x7f\xff\xff\xff\x08\x06\x00\x00\x00"),
		[]byte("GIF89a\xff\xff\xff\xff\x00\x00\x00"),
		[]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xc0\x00\x11\x08\xff\xff\xff\xff\x03\x01\x22\x00"),
		[]byte("RIFF\x24\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff"),
		[]byte("<svg onload=alert(1)>"), []byte("hello <script>x</script>"), []byte("%PDF-1.4"), {},
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		if len(head) > 512 {
			head = head[:512]
		}
		mime := sniff(head)
		if mime != "" && !allowedMIME[mime] {
			t.Fatalf("%q sniffed as %q, not allow-listed", head, mime)
		}
		if mime == "text/plain" && bytes.Contains(bytes.ToLower(head), []byte("<svg")) {
			t.Fatalf("%q: SVG passed as text", head)
		}
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(head)); err == nil && (cfg.Width < 0 || cfg.Height < 0) {
			t.Fatalf("%q: negative size %dx%d", head, cfg.Width, cfg.Height)
		}
	})
}

// FuzzAttachmentUpload feeds arbitrary multipart bodies through the
// attachment upload path (multipart reader, sniffer, header reader, file
// store): every part is stored under its message's directory with a safe
// name and an allow-listed type, or refused as invalid, never anything else.
func FuzzAttachmentUpload(f *testing.F) {
	const boundary = "X-BOUNDARY"
	part := func(field, name, body string) string {
		return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + field + "\"; filename=\"" + name +
			"\"\r\nContent-Type: image/png\r\n\r\n" + body + "\r\n"
	}
	for _, s := range []string{
		part("files", "a.png", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00") + "--" + boundary + "--\r\n",
		part("files", "../../etc/passwd", "hello") + "--" + boundary + "--\r\n",
		part("files", "x.svg", "<svg onload=alert(1)>") + "--" + boundary + "--\r\n",
		part("files", "empty", "") + "--" + boundary + "--\r\n",
		"--" + boundary + "\r\nContent-Disposition: form-data; name=\"files\"\r\n\r\nno end",
		"garbage", "",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { root.Close() })
	s := &API{uploads: root}
	f.Fuzz(func(t *testing.T, body []byte) {
		defer func() { _ = root.RemoveAll("m1") }()
		mr := multipart.NewReader(bytes.NewReader(body), boundary)
		for range MaxFilesPerMessage + 1 {
			p, err := mr.NextPart()
			if err != nil {
				return
			}
			if p.FormName() != "files" {
				return // the handler refuses the request here
			}
			a, err := s.saveUpload("m1", p, MaxFileBytes)
			if err != nil {
				if !errors.Is(err, fault.Invalid) {
					t.Fatalf("upload %q: %v, want an invalid-input error", body, err)
				}
				continue
			}
			if !allowedMIME[a.MimeType] || !filepath.IsLocal(a.StoredName) || strings.ContainsAny(a.StoredName, `/\`) {
				t.Fatalf("upload %q stored as %+v", body, a)
			}
			fi, err := root.Stat("m1/" + a.StoredName)
			if err != nil || fi.Size() != a.FileSize || a.FileSize == 0 {
				t.Fatalf("upload %q: stored file %v %v, want %d bytes", body, fi, err, a.FileSize)
			}
			if (a.Width == nil) != (a.Height == nil) || (a.Width != nil && (*a.Width < 0 || *a.Height < 0)) {
				t.Fatalf("upload %q: size %v x %v", body, a.Width, a.Height)
			}
		}
	})
}
