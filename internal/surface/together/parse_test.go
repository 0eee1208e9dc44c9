package together

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSafeName(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"../../etc/passwd": "passwd", `..\..\win.ini`: "win.ini", "héllo wörld.png": "h_llo_w_rld.png",
		"": "file", "...": "file", ".hidden": "hidden", strings.Repeat("a", 300) + ".txt": strings.Repeat("a", 96) + ".txt",
	}
	for in, want := range cases {
		if got := safeName(in); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzSafeName: a stored name never leaves the message's directory.
func FuzzSafeName(f *testing.F) {
	for _, s := range []string{"../x", "a/b/c", `C:\x`, "\x00", ".."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := safeName(name)
		if got == "" || !filepath.IsLocal(got) || strings.ContainsAny(got, `/\`) || len(got) > 100 {
			t.Fatalf("safeName(%q) = %q", name, got)
		}
	})
}

// FuzzParsePreview: any page parses without panicking and only http(s)
// images survive.
func FuzzParsePreview(f *testing.F) {
	f.Add([]byte(`<title>x</title><meta property="og:image" content="javascript:alert(1)">`))
	f.Add([]byte(`<meta property="og:title" content="`))
	f.Fuzz(func(t *testing.T, page []byte) {
		p := parsePreview("https://example.org/", page)
		if p.Image != nil && !strings.HasPrefix(*p.Image, "http") {
			t.Fatalf("image %q", *p.Image)
		}
	})
}

// FuzzDecode: any request body gets a decision, never a panic.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"content":"x"}`, `{"content":5}`, `[`, `{"a":1}{"b":2}`, ``, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequestWithContext(context.Background(), "POST", "/", bytes.NewReader(body))
		var in struct {
			Content *string `json:"content"`
		}
		_ = decode(r, &in, true)
	})
}

// TestFrameRate: a connection may send 20 frames per second; the 21st in
// the same instant is dropped, and the budget refills at 20/s.
func TestFrameRate(t *testing.T) {
	t.Parallel()
	c := &client{}
	t0 := time.Unix(1000, 0)
	for i := range 20 {
		if !c.allow(t0) {
			t.Fatalf("frame %d refused", i+1)
		}
	}
	if c.allow(t0) {
		t.Fatal("21st frame in the same instant allowed")
	}
	if !c.allow(t0.Add(50 * time.Millisecond)) {
		t.Fatal("no refill after 50 ms")
	}
	if c.allow(t0.Add(50 * time.Millisecond)) {
		t.Fatal("refilled more than one frame in 50 ms")
	}
}
