package media_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/egress"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/media"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

var clip, titled []byte

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "media-fixtures")
	if err != nil {
		os.Exit(1)
	}
	out := filepath.Join(dir, "clip.webm")
	cmd := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=duration=3:size=32x24:rate=5", "-c:v", "libvpx", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintln(os.Stderr, "ffmpeg:", err, string(b))
		os.Exit(1)
	}
	clip, _ = os.ReadFile(out)
	// 2.5 s, with a title in its metadata.
	out = filepath.Join(dir, "titled.webm")
	cmd = exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=duration=2.5:size=32x24:rate=10", "-c:v", "libvpx",
		"-metadata", "title=Foo: The Movie", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintln(os.Stderr, "ffmpeg:", err, string(b))
		os.Exit(1)
	}
	titled, _ = os.ReadFile(out)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nvariant/low.m3u8\n"
const mediaPl = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\na.ts\n#EXTINF:10.0,\nb.ts\n#EXTINF:4.5,\nc.ts\n#EXT-X-ENDLIST\n"
const livePl = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\na.ts\n"
const mpd = `<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT1M3.5S"><ProgramInformation><Title>Dash Film</Title></ProgramInformation></MPD>`

type fixture struct {
	srv      *httptest.Server
	svc      *media.Service
	ytCalls  atomic.Int64
	ytLists  atomic.Int64 // playlistItems and channels requests
	peerHost string
}

func newFixture(t testing.TB, ytKey string, cache media.Cache) *fixture {
	t.Helper()
	f := &fixture{}
	mux := http.NewServeMux()
	mux.HandleFunc("/clip.webm", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "clip.webm", time.Time{}, strings.NewReader(string(clip)))
	})
	mux.HandleFunc("/films/Foo%20Bar.webm", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "clip.webm", time.Time{}, strings.NewReader(string(clip)))
	})
	mux.HandleFunc("/titled.webm", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "titled.webm", time.Time{}, strings.NewReader(string(titled)))
	})
	mux.HandleFunc("/old.flv", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		fmt.Fprint(w, "FLV\x01")
	})
	mux.HandleFunc("/page.mp4", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html>not a video</html>")
	})
	mux.HandleFunc("/garbage.mp4", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		fmt.Fprint(w, strings.Repeat("\x00garbage", 100))
	})
	mux.HandleFunc("/missing.mp4", http.NotFound)
	mux.HandleFunc("/show/master.m3u8", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, master) })
	mux.HandleFunc("/show/variant/low.m3u8", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, mediaPl) })
	mux.HandleFunc("/live.m3u8", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, livePl) })
	mux.HandleFunc("/film.mpd", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, mpd) })
	mux.HandleFunc("/endless.mpd", func(w http.ResponseWriter, r *http.Request) {
		// 1e308 days: each part reads as a float64, their total does not.
		fmt.Fprintf(w, `<MPD type="static" mediaPresentationDuration="P%sD"></MPD>`, "1"+strings.Repeat("0", 308))
	})
	mux.HandleFunc("/rep.mpd", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT3S"><Period><AdaptationSet><Representation id="1"></Representation><Representation id="2"><Title>foo</Title></Representation></AdaptationSet></Period></MPD>`)
	})
	mux.HandleFunc("/crowded.mpd", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<MPD type="static" mediaPresentationDuration="PT3S"><Period><AdaptationSet>`+
			strings.Repeat(`<Representation/>`, 1001)+`</AdaptationSet></Period></MPD>`)
	})
	mux.HandleFunc("/yt/videos", func(w http.ResponseWriter, r *http.Request) {
		f.ytCalls.Add(1)
		if r.URL.Query().Get("key") != ytKey {
			w.WriteHeader(400)
			return
		}
		var items []string
		for _, id := range strings.Split(r.URL.Query().Get("id"), ",") {
			if id == "notavideo00" {
				continue
			}
			items = append(items, fmt.Sprintf(`{"id":%q,"snippet":{"title":"Title %s","description":"d","thumbnails":{"medium":{"url":"https://i.ytimg.com/%s.jpg"}}},"contentDetails":{"duration":"PT3M20S"}}`, id, id, id))
		}
		fmt.Fprintf(w, `{"items":[%s]}`, strings.Join(items, ","))
	})
	mux.HandleFunc("/yt/playlistItems", func(w http.ResponseWriter, r *http.Request) {
		f.ytLists.Add(1)
		if strings.HasPrefix(r.URL.Query().Get("playlistId"), "RD") { // a mix: the API does not list it
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":{"code":404,"errors":[{"reason":"playlistNotFound"}]}}`)
			return
		}
		fmt.Fprint(w, `{"items":[{"snippet":{"resourceId":{"videoId":"aaaaaaaaaaa"}}},{"snippet":{"resourceId":{"videoId":"bbbbbbbbbbb"}}}]}`)
	})
	mux.HandleFunc("/yt/channels", func(w http.ResponseWriter, r *http.Request) {
		f.ytLists.Add(1)
		fmt.Fprint(w, `{"items":[{"contentDetails":{"relatedPlaylists":{"uploads":"UUchannel"}}}]}`)
	})
	mux.HandleFunc("/yt/search", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("q") == "quota" {
			w.WriteHeader(403)
			fmt.Fprint(w, `{"error":{"code":403,"errors":[{"reason":"quotaExceeded"}]}}`)
			return
		}
		fmt.Fprint(w, `{"items":[{"id":{"videoId":"ccccccccccc"}}]}`)
	})
	mux.HandleFunc("/oembed", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Query().Get("url"), "/123456") {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"title":"Vimeo Film","description":"v","thumbnail_url":"https://i.vimeocdn.com/x.jpg","duration":95}`)
	})
	mux.HandleFunc("/api/v1/videos/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"name":"Peer Film","description":"p","duration":61,"thumbnailPath":"/static/t.jpg","files":[],"streamingPlaylists":[{"playlistUrl":"%s/show/master.m3u8"}]}`, "http://"+r.Host)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	ap := netip.MustParseAddrPort(strings.TrimPrefix(f.srv.URL, "http://"))
	f.peerHost = ap.Addr().String()
	fetch, err := egress.New(egress.Config{AllowAddr: func(a netip.AddrPort) bool { return a == ap }})
	if err != nil {
		t.Fatal(err)
	}
	f.svc, err = media.New(media.Config{YouTubeAPIKey: ytKey, YouTubeAPIBase: f.srv.URL + "/yt", VimeoOEmbedURL: f.srv.URL + "/oembed",
		PeerTubeInstances: []string{f.peerHost}, ProbeBytes: 1 << 20}, fetch, nil, cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func code(err error) media.Code {
	var e *media.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestResolveSources(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", nil)
	ctx := context.Background()
	u := f.srv.URL
	tests := []struct {
		name    string
		input   string
		service string
		id      string
		length  float64
		code    media.Code
	}{
		{"direct webm probed by ffprobe", u + "/clip.webm", "direct", u + "/clip.webm", 3, ""},
		{"direct that is html", u + "/page.mp4", "", "", 0, media.CodeUnsupportedMime},
		{"direct without metadata", u + "/garbage.mp4", "", "", 0, media.CodeMissingMetadata},
		{"direct 404", u + "/missing.mp4", "", "", 0, media.CodeVideoNotFound},
		{"hls master → variant", u + "/show/master.m3u8", "hls", u + "/show/master.m3u8", 24.5, ""},
		{"hls live has no length", u + "/live.m3u8", "hls", u + "/live.m3u8", 0, ""},
		{"dash", u + "/film.mpd", "dash", u + "/film.mpd", 63.5, ""},
		{"dash titled on a representation", u + "/rep.mpd", "dash", u + "/rep.mpd", 3, ""},
		{"dash with over 1,000 representations", u + "/crowded.mpd", "", "", 0, media.CodeMissingMetadata},
		{"dash lasting past any float64", u + "/endless.mpd", "", "", 0, media.CodeMissingMetadata},
		{"vimeo via oembed", "https://vimeo.com/123456", "vimeo", "123456", 95, ""},
		{"peertube as hls", "http://" + strings.TrimPrefix(u, "http://") + "/w/abc-123", "hls", u + "/show/master.m3u8", 61, ""},
		{"youtube without a key", "https://youtu.be/dQw4w9WgXcQ", "", "", 0, media.CodeFeatureDisabled},
		{"unknown site", "https://example.com/page", "", "", 0, media.CodeUnsupportedService},
		{"local file", "file:///etc/passwd", "", "", 0, media.CodeLocalFile},
		{"loopback refused by egress", "http://127.0.0.1:9/x.mp4", "", "", 0, media.CodeUnsupportedService},
		{"metadata address refused", "http://169.254.169.254/latest.m3u8", "", "", 0, media.CodeUnsupportedService},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vs, err := f.svc.ResolveURL(ctx, tc.input)
			if tc.code != "" {
				if code(err) != tc.code {
					t.Fatalf("got %v (%q), want code %q", err, code(err), tc.code)
				}
				return
			}
			if err != nil || len(vs) != 1 {
				t.Fatalf("got %v %v", vs, err)
			}
			v := vs[0]
			if v.Service != tc.service || v.ID != tc.id || v.Length < tc.length-0.2 || v.Length > tc.length+0.2 {
				t.Fatalf("got %+v", v)
			}
		})
	}
	// A DASH title: ProgramInformation's, else a representation's (as OTT).
	for path, want := range map[string]string{"/film.mpd": "Dash Film", "/rep.mpd": "foo"} {
		if vs, err := f.svc.ResolveURL(ctx, u+path); err != nil || vs[0].Title != want || vs[0].Description != "Full Link: "+u+path {
			t.Errorf("%s title: %+v %v, want %q", path, vs, err, want)
		}
	}
	// OTT's id rule: [A-Za-z0-9_-]+ (Hearth: at most 64); anything else
	// never reaches the API.
	for _, id := range []string{"bad id", "", "a,b", "a/b", "a%2Fb", "a?b", "a&b", strings.Repeat("a", 65)} {
		if _, err := f.svc.Info(ctx, "youtube", id); code(err) != media.CodeInvalidVideoID {
			t.Errorf("youtube id %q: %v, want InvalidVideoIdException", id, err)
		}
	}
	if _, err := f.svc.Info(ctx, "tubi", "x"); code(err) != media.CodeUnsupportedService || !errors.Is(err, fault.Invalid) {
		t.Fatalf("unknown service: %v", err)
	}
}

func TestYouTubeWithKeyAndCache(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			f := newFixture(t, "k3y", db.MediaCache())
			ctx := context.Background()
			v, err := f.svc.Info(ctx, "youtube", "dQw4w9WgXcQ")
			if err != nil || v.Title != "Title dQw4w9WgXcQ" || v.Length != 200 || v.Thumbnail == "" {
				t.Fatalf("info: %+v %v", v, err)
			}
			if _, err := f.svc.Info(ctx, "youtube", "dQw4w9WgXcQ"); err != nil || f.ytCalls.Load() != 1 {
				t.Fatalf("second lookup should come from the cache: calls=%d %v", f.ytCalls.Load(), err)
			}
			if _, err := f.svc.Info(ctx, "youtube", "notavideo00"); code(err) != media.CodeVideoNotFound {
				t.Fatalf("missing: %v", err)
			}
			pv, err := f.svc.Preview(ctx, "https://www.youtube.com/watch?v=bbbbbbbbbbb&list=PL1", "")
			if err != nil || len(pv.Result) != 2 || pv.Highlighted == nil || pv.Highlighted.ID != "bbbbbbbbbbb" {
				t.Fatalf("playlist: %+v %v", pv, err)
			}
			pv, err = f.svc.Preview(ctx, "some cat videos", "")
			if err != nil || len(pv.Result) != 1 || pv.Result[0].ID != "ccccccccccc" || pv.CacheSeconds != 7*24*3600 {
				t.Fatalf("search: %+v %v", pv, err)
			}
			if _, err := f.svc.Preview(ctx, "quota", ""); code(err) != media.CodeOutOfQuota {
				t.Fatalf("quota: %v", err)
			}
			pv, err = f.svc.Preview(ctx, "https://youtu.be/aaaaaaaaaaa\n"+f.srv.URL+"/film.mpd", "")
			if err != nil || len(pv.Result) != 2 {
				t.Fatalf("several URLs: %+v %v", pv, err)
			}
		})
	}
}

// TestDirectFiles: a direct file as OTT's direct adapter describes it
// (services/direct.spec.ts): its title from the file's metadata, else its
// name without the extension; its length in whole seconds, rounded up;
// links OTT takes as direct but browsers cannot play refused by type.
func TestDirectFiles(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", nil)
	ctx := context.Background()
	for _, tc := range []struct {
		path, title string
		length      float64
	}{
		{"/titled.webm", "Foo: The Movie", 3},
		{"/clip.webm", "clip", 3},
		{"/films/Foo%20Bar.webm", "Foo Bar", 3},
	} {
		vs, err := f.svc.ResolveURL(ctx, f.srv.URL+tc.path)
		if err != nil || len(vs) != 1 || vs[0].Title != tc.title || vs[0].Length != tc.length || vs[0].ID != f.srv.URL+tc.path {
			t.Errorf("%s: %+v %v, want title %q length %v", tc.path, vs, err, tc.title, tc.length)
		}
	}
	if _, err := f.svc.ResolveURL(ctx, f.srv.URL+"/old.flv"); code(err) != media.CodeUnsupportedMime {
		t.Errorf("flv: %v, want UnsupportedMimeTypeException", err)
	}
	for _, ext := range []string{"jpg", "png", "pdf", "zip", "mp3v"} {
		if _, err := f.svc.ResolveURL(ctx, "https://example.com/test."+ext); code(err) != media.CodeUnsupportedService {
			t.Errorf("%s: %v, want UnsupportedServiceException", ext, err)
		}
	}
}

// TestVimeoURLShapes: OTT's vimeo adapter handles links to a video on
// vimeo.com or its subdomains; any other is UnsupportedServiceException
// (services/vimeo.spec.ts).
func TestVimeoURLShapes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", nil)
	ctx := context.Background()
	for _, in := range []string{"https://vimeo.com/123456", "https://www.vimeo.com/123456", "https://player.vimeo.com/video/123456"} {
		if vs, err := f.svc.ResolveURL(ctx, in); err != nil || len(vs) != 1 || vs[0].ID != "123456" || vs[0].Service != "vimeo" {
			t.Errorf("%s: %+v %v", in, vs, err)
		}
	}
	for _, in := range []string{"https://example.com", "https://vimeo.com", "https://vimeo.com/lkjsads",
		"https://evilvimeo.com/283918572", "https://vimeo.com.evil.com/283918572"} {
		if _, err := f.svc.ResolveURL(ctx, in); code(err) != media.CodeUnsupportedService {
			t.Errorf("%s: %v, want UnsupportedServiceException", in, err)
		}
	}
}

// TestPeerTubeURLShapes: a PeerTube link names a video on an allowed
// instance; OTT's "<host>:<id>" ids are read too (services/peertube.spec.ts).
func TestPeerTubeURLShapes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", nil)
	ctx := context.Background()
	host := strings.TrimPrefix(f.srv.URL, "http://")
	for _, in := range []string{"http://" + host + "/", "http://" + host + "/w/", "https://example.com/w/abc"} {
		if _, err := f.svc.ResolveURL(ctx, in); code(err) != media.CodeUnsupportedService {
			t.Errorf("%s: %v, want UnsupportedServiceException", in, err)
		}
	}
	if _, err := f.svc.Info(ctx, "peertube", ""); code(err) != media.CodeInvalidVideoID {
		t.Errorf("empty id: %v, want InvalidVideoIdException", err)
	}
	// OTT's id form reaches the instance (over https, which the fixture
	// does not speak: an upstream error, not a refused id).
	if _, err := f.svc.Info(ctx, "peertube", host+":abc-123"); code(err) != media.CodeUpstream {
		t.Errorf("host:id: %v (%q), want the instance asked", err, code(err))
	}
	if _, err := f.svc.Info(ctx, "peertube", "example.com:abc-123"); code(err) != media.CodeUnsupportedService {
		t.Errorf("host:id of an instance not allowed: %v", err)
	}
}

// TestYouTubeURLShapes: which YouTube links are a video, a list or none,
// as OTT's YouTube adapter reads them (services/youtube.spec.ts).
func TestYouTubeURLShapes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "k3y", nil)
	ctx := context.Background()
	for _, in := range []string{
		"https://example.com", "https://youtube.com", "https://youtube.com/lkjsads", "https://youtu.be",
		"https://www.youtube.com/c/", "https://www.youtube.com/channel/", "https://www.youtube.com/watch",
		"https://www.youtube.com/playlist", "https://youtube.com/@",
	} {
		if _, err := f.svc.Preview(ctx, in, ""); code(err) != media.CodeUnsupportedService {
			t.Errorf("%s: %v, want UnsupportedServiceException", in, err)
		}
	}
	if n := f.ytCalls.Load() + f.ytLists.Load(); n != 0 {
		t.Errorf("links of no supported shape asked YouTube %d times", n)
	}
	for _, tc := range []struct{ in, id string }{
		{"https://youtube.com/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ"},
		{"https://youtu.be/dQw4w9WgXcQ", "dQw4w9WgXcQ"},
		// OTT's own test ids: any length of [A-Za-z0-9_-] is an id there.
		{"https://youtube.com/watch?v=3kw2_89ym31W", "3kw2_89ym31W"},
		{"https://www.youtube.com/watch?v=3kw2_89ym31W", "3kw2_89ym31W"},
		{"https://youtu.be/3kw2_89ym31W", "3kw2_89ym31W"},
		{"https://www.youtube.com/watch?v=%203kw2_89ym31W%20", "3kw2_89ym31W"},
		{"https://youtube.com/shorts/R5i-cktCTb4?feature=share", "R5i-cktCTb4"},
		{"https://studio.youtube.com/video/DMfu0KiqWnk/edit", "DMfu0KiqWnk"},
		{"https://www.youtube.com/live/l3XUssSglXk", "l3XUssSglXk"},
		// Lists only their owner sees: the video alone.
		{"https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=WL", "dQw4w9WgXcQ"},
		{"https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=LL", "dQw4w9WgXcQ"},
		// A mix the API cannot list: the video alone, not an error.
		{"https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=RDdQw4w9WgXcQ", "dQw4w9WgXcQ"},
	} {
		pv, err := f.svc.Preview(ctx, tc.in, "")
		if err != nil || len(pv.Result) != 1 || pv.Result[0].ID != tc.id {
			t.Errorf("%s: %+v %v, want the video %s", tc.in, pv, err, tc.id)
		}
	}
	for _, tc := range []struct{ in, hl string }{
		{"https://youtu.be/bbbbbbbbbbb?list=PL4d83g68ij3l45kj6345hFaEHvzLovtb", "bbbbbbbbbbb"},
		{"https://www.youtube.com/watch?v=aaaaaaaaaaa&list=PL1", "aaaaaaaaaaa"},
		// Not among the items read: still highlighted, fetched on its own.
		{"https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PL1", "dQw4w9WgXcQ"},
		{"https://www.youtube.com/playlist?list=PL1", ""},
		{"https://youtube.com/@handle", ""},
		{"https://youtube.com/@handle.foo", ""},
		{"https://www.youtube.com/channel/UC981g23981g298", ""},
	} {
		pv, err := f.svc.Preview(ctx, tc.in, "")
		if err != nil || len(pv.Result) != 2 || (tc.hl == "") != (pv.Highlighted == nil) || (pv.Highlighted != nil && pv.Highlighted.ID != tc.hl) {
			t.Errorf("%s: %+v %v, want the list, highlighted %q", tc.in, pv, err, tc.hl)
		}
	}
}

// FuzzPreviewInput feeds arbitrary previewAdd input; it must never panic
// and never reach the network beyond the fixture.
func FuzzPreviewInput(f *testing.F) {
	for _, s := range []string{"https://youtu.be/x", "file:///x", "a\nb\nc", "https://vimeo.com/1/2", "http://[::1]:80/x.m3u8", "%zz", "https://www.youtube.com/@handle"} {
		f.Add(s)
	}
	fx := newFixture(f, "", nil)
	f.Fuzz(func(t *testing.T, in string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = fx.svc.Preview(ctx, in, "")
	})
}
