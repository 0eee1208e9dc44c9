package media_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/media"
)

// TestLargeMasterPlaylistReadOnce: an HLS master playlist (any guest may
// preview one) is read in one pass. grafov/m3u8's Decode, used before,
// walked every variant read so far again for each line, appending the
// renditions to each again: 5 MiB of variants took 40 s of CPU, and 3,000
// variants sharing one audio rendition allocated about 150 MB. Bytes
// allocated are counted (not time, which the machine decides); the test is
// not parallel so that no other test's allocations are counted.
func TestLargeMasterPlaylistReadOnce(t *testing.T) {
	var master strings.Builder
	master.WriteString("#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"audio.m3u8\"\n")
	for i := range 3000 {
		fmt.Fprintf(&master, "#EXT-X-STREAM-INF:BANDWIDTH=%d,AUDIO=\"a\"\nv%d.m3u8\n", 1000+i, i)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/master.m3u8", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, master.String()) })
	mux.HandleFunc("/v0.m3u8", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\na.ts\n#EXTINF:2.5,\nb.ts\n#EXT-X-ENDLIST\n")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ap := netip.MustParseAddrPort(strings.TrimPrefix(srv.URL, "http://"))
	fetch, err := egress.New(egress.Config{AllowAddr: func(a netip.AddrPort) bool { return a == ap }})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := media.New(media.Config{}, fetch, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	vs, err := svc.ResolveURL(context.Background(), srv.URL+"/master.m3u8")
	runtime.ReadMemStats(&after)
	if err != nil || len(vs) != 1 || vs[0].Length != 12.5 {
		t.Fatalf("got %+v, %v; want the first variant's 12.5 s", vs, err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
		t.Fatalf("a %d KiB master playlist allocated %d MiB, want at most 16", master.Len()>>10, n>>20)
	}
}
