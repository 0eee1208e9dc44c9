package files

import (
	"path/filepath"
	"strings"
	"testing"
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
