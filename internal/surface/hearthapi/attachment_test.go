package hearthapi

import (
	"mime"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/recording"
)

// TestAttachment: a clip's download is named after its title, with nothing
// that splits the header or names a path, and parses back as that name.
func TestAttachment(t *testing.T) {
	t.Parallel()
	const id = "0197a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	for _, c := range []struct{ title, want string }{
		{"Encore", "Encore.mp4"},
		{`The "drop": a/b`, "The drop a b.mp4"},
		{"..\\../x\"; filename=evil.html\r\nX-Inj: 1", ".. .. x ; filename=evil.html X-Inj 1.mp4"},
		{"Café ☕", "Café ☕.mp4"},
		{"  \t ", "clip-0197a1b2.mp4"},
		{strings.Repeat("é", 100), strings.Repeat("é", 80) + ".mp4"},
	} {
		v := attachment(&recording.Clip{ID: id, Title: c.title})
		disp, params, err := mime.ParseMediaType(v)
		if err != nil || disp != "attachment" || params["filename"] != c.want || strings.ContainsAny(v, "\r\n") {
			t.Errorf("%q: %q (%q %v), want filename %q", c.title, v, params["filename"], err, c.want)
		}
	}
}
