package recording

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// PlaylistName is a recording's playlist file.
const PlaylistName = "index.m3u8"

// segName matches the segment files a recording's playlist may name.
var segName = regexp.MustCompile(`^seg-[0-9]{5,9}\.ts$`)

type entry struct {
	name string
	dur  time.Duration
	disc bool
}

// render writes a playlist of entries: EVENT while recording (players can
// watch it grow), VOD with ENDLIST once finished.
func render(entries []entry, final bool) []byte {
	var b bytes.Buffer
	target := 1
	for _, e := range entries {
		target = max(target, int(math.Ceil(e.dur.Seconds()-0.001)))
	}
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:6\n")
	if final {
		b.WriteString("#EXT-X-PLAYLIST-TYPE:VOD\n")
	} else {
		b.WriteString("#EXT-X-PLAYLIST-TYPE:EVENT\n")
	}
	fmt.Fprintf(&b, "#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n", target)
	for _, e := range entries {
		if e.disc {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		fmt.Fprintf(&b, "#EXTINF:%.3f,\n%s\n", e.dur.Seconds(), e.name)
	}
	if final {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return b.Bytes()
}

// parse reads a playlist this package wrote; unknown lines are skipped,
// and names that are not segment names are dropped.
func parse(data []byte) []entry {
	var out []entry
	var dur time.Duration
	disc := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "#EXT-X-DISCONTINUITY":
			disc = true
		case strings.HasPrefix(l, "#EXTINF:"):
			v, _, _ := strings.Cut(strings.TrimPrefix(l, "#EXTINF:"), ",")
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 3600 {
				f = 0
			}
			dur = time.Duration(f * float64(time.Second))
		case l == "" || strings.HasPrefix(l, "#"):
		default:
			if segName.MatchString(l) {
				out = append(out, entry{name: l, dur: dur, disc: disc})
			}
			dur, disc = 0, false
		}
	}
	return out
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
