package owncast_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/live"
)

// TestLiveLowLatencyHLS: level 5 publishes 200 ms parts with a preload
// hint; blocking playlist reloads and the hinted part wait for the media
// instead of polling; requests too far ahead are refused.
func TestLiveLowLatencyHLS(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	n := newLiveNode(t, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}, 5)
	publish(t, "rtmp://"+n.rtmp+"/live/abc123", 10)
	var pl string
	eventually(t, 20*time.Second, "parts in the playlist", func() bool {
		_, _, b := n.get(t, "/hls/0/stream.m3u8", false)
		pl = string(b)
		return strings.Contains(pl, "#EXTINF") && strings.Contains(pl, "#EXT-X-PART:")
	})
	for _, want := range []string{"#EXT-X-VERSION:9", "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600",
		"#EXT-X-PART-INF:PART-TARGET=0.200", "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"stream-", ",INDEPENDENT=YES"} {
		if !strings.Contains(pl, want) {
			t.Fatalf("playlist lacks %q:\n%s", want, pl)
		}
	}
	for _, m := range regexp.MustCompile(`#EXT-X-PART:DURATION=([0-9.]+)`).FindAllStringSubmatch(pl, -1) {
		if d, _ := strconv.ParseFloat(m[1], 64); d <= 0 || d > 0.2001 {
			t.Fatalf("part of %s s exceeds PART-TARGET:\n%s", m[1], pl)
		}
	}
	// A listed part is served as MPEG-TS.
	part := regexp.MustCompile(`#EXT-X-PART:[^\n]*URI="([^"]+)"`).FindAllStringSubmatch(pl, -1)
	last := part[len(part)-1][1]
	code, hdr, body := n.get(t, "/hls/0/"+last, false)
	if code != 200 || hdr.Get("Content-Type") != "video/mp2t" || len(body) == 0 || len(body)%188 != 0 {
		t.Fatalf("part %s: %d %v %d bytes", last, code, hdr, len(body))
	}
	// The hinted part is awaited, then served. A hint may name a part that
	// never comes (the segment closed first, at a keyframe); the server
	// then answers 404, and the hint of a later playlist is tried. One that
	// the playlist then lists must have been served.
	var hint string
	for try := 0; ; try++ {
		hint = regexp.MustCompile(`PRELOAD-HINT:TYPE=PART,URI="([^"]+)"`).FindStringSubmatch(pl)[1]
		start := time.Now()
		code, _, body = n.get(t, "/hls/0/"+hint, false)
		// How long it took is logged, not judged: a loaded machine is slow.
		t.Logf("hinted part %s: %d after %s", hint, code, time.Since(start))
		if code == 200 && len(body) > 0 {
			break
		}
		_, _, b := n.get(t, "/hls/0/stream.m3u8", false)
		if code != 404 || strings.Contains(string(b), `URI="`+hint+`"`) || try == 5 {
			t.Fatalf("hinted part %s: %d, %d bytes; playlist now:\n%s", hint, code, len(body), b)
		}
		pl = string(b)
	}
	// A blocking reload for the next segment returns once it is listed.
	seq := regexp.MustCompile(`#EXT-X-MEDIA-SEQUENCE:(\d+)`).FindStringSubmatch(pl)[1]
	msn, _ := strconv.Atoi(seq)
	next := msn + strings.Count(pl, "#EXTINF")
	start := time.Now()
	code, _, body = n.get(t, "/hls/0/stream.m3u8?_HLS_msn="+strconv.Itoa(next)+"&_HLS_part=0", false)
	t.Logf("blocking reload answered after %s", time.Since(start))
	if code != 200 || !strings.Contains(string(body), "-"+strconv.Itoa(next)+".0.ts") {
		t.Fatalf("blocking reload for %d.0: %d after %s\n%s", next, code, time.Since(start), body)
	}
	for _, q := range []string{"?_HLS_msn=" + strconv.Itoa(next+10), "?_HLS_msn=x", "?_HLS_msn=1&_HLS_part=-5"} {
		if code, _, _ := n.get(t, "/hls/0/stream.m3u8"+q, false); code != http.StatusBadRequest {
			t.Fatalf("%s: %d, want 400", q, code)
		}
	}
	for _, bad := range []string{"stream-zz-1.0.ts", "stream-" + strings.Split(hint, "-")[1] + "-999.0.ts"} {
		if code, _, _ := n.get(t, "/hls/0/"+bad, false); code != 404 {
			t.Fatalf("%s: %d, want 404", bad, code)
		}
	}
}
