package media

import (
	"math"
	"testing"
)

// FuzzParsePlaylist: any bytes a remote host serves as an HLS playlist are
// read without a panic, and what is read is usable: a length that is a
// finite non-negative number (durations adding up past float64 are refused:
// an infinite length cannot be encoded as JSON), and a variant only in a master playlist.
func FuzzParsePlaylist(f *testing.F) {
	for _, s := range []string{
		"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n",
		"#EXTM3U\n#EXTINF:10.0,\na.ts\n#EXTINF:2.5,title\nb.ts\n#EXT-X-ENDLIST\n",
		"#EXTM3U\r\n#EXTINF:1e308,\r\na\r\n#EXTINF:1e308,\r\nb\r\n",
		"#EXTM3U\n#EXTINF:NaN,\na\n", "#EXTM3U\n#EXTINF:-1,\na\n", "", "\n\n#EXTM3U", "x",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePlaylist(b)
		if err != nil {
			return
		}
		if p.length < 0 || math.IsNaN(p.length) || math.IsInf(p.length, 0) {
			t.Fatalf("length %v", p.length)
		}
		if p.variant != "" && !p.master {
			t.Fatalf("a variant %q in a media playlist", p.variant)
		}
	})
}
