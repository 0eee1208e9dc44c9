package embeds

import (
	"strings"
	"testing"
)

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
