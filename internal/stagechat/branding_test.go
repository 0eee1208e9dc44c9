package stagechat_test

import (
	"testing"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/imagehdr/imagehdrtest"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// TestLogoAndFaviconRules: the logo's and favicon's rules are the
// settings' (Owncast 0.2's limits and words, plus the declared size every
// visitor's browser would decode).
func TestLogoAndFaviconRules(t *testing.T) {
	t.Parallel()
	pad := func(b []byte, n int) []byte { return append(b, make([]byte, n)...) }
	ico := []byte{0, 0, 1, 0, 1, 0, 16, 16}
	for _, c := range []struct {
		name    string
		check   func([]byte) (string, error)
		data    []byte
		wantExt string
		wantErr string
	}{
		{"logo png", stagechat.CheckLogo, imagehdrtest.PNG(512, 512), ".png", ""},
		{"logo gif", stagechat.CheckLogo, imagehdrtest.GIF(64, 64), ".gif", ""},
		{"logo empty", stagechat.CheckLogo, nil, "", "unable to find image data"},
		{"logo past 2 MiB", stagechat.CheckLogo, pad(imagehdrtest.PNG(1, 1), stagechat.MaxLogoBytes), "", "logo must be at most 2 MiB"},
		{"logo svg", stagechat.CheckLogo, []byte("<svg/>"), "", "logo must be a PNG, JPEG, GIF or WebP image"},
		{"logo bomb", stagechat.CheckLogo, imagehdrtest.PNG(60000, 60000), "", "logo"},
		{"favicon png", stagechat.CheckFavicon, imagehdrtest.PNG(32, 32), ".png", ""},
		{"favicon ico", stagechat.CheckFavicon, ico, ".ico", ""},
		{"favicon gif", stagechat.CheckFavicon, imagehdrtest.GIF(32, 32), "", "favicon must be PNG or ICO format"},
		{"favicon past 200 KB", stagechat.CheckFavicon, pad(imagehdrtest.PNG(1, 1), stagechat.MaxFaviconBytes), "", "file too large, max 200KB"},
		{"favicon bomb", stagechat.CheckFavicon, imagehdrtest.PNG(60000, 60000), "", "favicon"},
	} {
		ext, err := c.check(c.data)
		switch {
		case c.wantErr == "" && (err != nil || ext != c.wantExt):
			t.Errorf("%s: %q %v, want %q", c.name, ext, err, c.wantExt)
		case c.wantErr != "" && (fault.KindOf(err) != fault.Invalid || len(fault.Message(err)) < len(c.wantErr) || fault.Message(err)[:len(c.wantErr)] != c.wantErr):
			t.Errorf("%s: %v, want Invalid %q…", c.name, err, c.wantErr)
		}
	}
}
