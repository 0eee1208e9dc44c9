package hearthapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/hls"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// nodeURLs is recording.Peers for nodes in one test process.
type nodeURLs struct{ m sync.Map }

func (n *nodeURLs) NodeURL(_ context.Context, node string) (string, error) {
	if u, ok := n.m.Load(node); ok {
		return u.(string), nil
	}
	return "", fault.New(fault.NotFound, "no such node")
}

// testSegment is a second of real video as an MPEG-TS segment.
func testSegment(t *testing.T) string {
	t.Helper()
	seg := filepath.Join(t.TempDir(), "seg.ts")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10",
		"-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "10", "-f", "mpegts", seg).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	return seg
}

// TestRecordingDownloadRanges: a recording's MP4 download is a file with a
// length that answers range requests (206 with Content-Range, 416 in the
// API's error shape for a range past its end, If-Range, HEAD), on the node
// holding the recording and through another node of the cluster, which
// passes the range to it and its 206 back, for the token and for a signed
// URL. A node whose key the holding node does not take answers 502 in the
// API's error shape rather than the holding node's 403, while a caller who
// may not see the recording still gets the 404 of an unknown id. On every
// engine (the nodes share the database).
func TestRecordingDownloadRanges(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("no ffmpeg")
	}
	seg := testSegment(t)
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			downloadRanges(t, eng.Open(t), seg)
		})
	}
}

// recordOn records one finished broadcast of seg on node n.
func recordOn(t *testing.T, n *signedURLAPI, seg, title string) string {
	t.Helper()
	sink := n.rs.BroadcastStarted("stage-main", "b-"+title, title, n.clock())
	if sink == nil {
		t.Fatal("not recording")
	}
	sink.Segment(seg, hls.Segment{Duration: time.Second})
	sink.End(n.clock())
	list, err := n.rs.List(t.Context(), "stage-main")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range list {
		if r.Title == title {
			return r.ID
		}
	}
	t.Fatalf("no recording %q", title)
	return ""
}

func downloadRanges(t *testing.T, db *store.DB, seg string) {
	peers := &nodeURLs{}
	key := []byte("cluster key")
	node := func(id string, key []byte) *signedURLAPI {
		n := newSignedURLNode(t, db, t.TempDir(), "ffmpeg", recording.Config{NodeID: id, PeerKey: key, Peers: peers})
		peers.m.Store(id, n.srv.URL)
		return n
	}
	a, b := node("node-a", key), node("node-b", key)
	stray := node("node-c", []byte("a key of its own"))

	// A finished recording, made on node A.
	id := recordOn(t, a, seg, "Night set")
	path := "/api/recordings/" + id + "/download"
	if b.rs.HasLocal(id) || !a.rs.HasLocal(id) {
		t.Fatal("the recording's files are not on node A alone")
	}

	var whole []byte
	for _, n := range []struct {
		name string
		api  *signedURLAPI
	}{{"node A (holding the files)", a}, {"node B (proxying)", b}} {
		get := specGetter(t, n.api.srv)
		res, body := get(path, "user")
		size := strconv.Itoa(len(body))
		if res.StatusCode != 200 || len(body) < 300 || string(body[4:8]) != "ftyp" || res.Header.Get("Accept-Ranges") != "bytes" ||
			res.Header.Get("Content-Length") != size || res.Header.Get("ETag") == "" {
			t.Fatalf("%s: the whole MP4: %d %v, %d bytes", n.name, res.StatusCode, res.Header, len(body))
		}
		if whole == nil {
			whole = body
		} else if !bytes.Equal(body, whole) {
			t.Fatalf("%s: not node A's MP4", n.name)
		}
		if res, part := get(path, "user", "Range", "bytes=100-199"); res.StatusCode != 206 || !bytes.Equal(part, whole[100:200]) ||
			res.Header.Get("Content-Range") != "bytes 100-199/"+size {
			t.Fatalf("%s: a range: %d %v %d bytes", n.name, res.StatusCode, res.Header, len(part))
		}
		// A download resumed where it stopped, if the file is the same.
		from := strconv.Itoa(len(whole) - 10)
		if res, part := get(path, "user", "Range", "bytes="+from+"-", "If-Range", res.Header.Get("ETag")); res.StatusCode != 206 ||
			!bytes.Equal(part, whole[len(whole)-10:]) {
			t.Fatalf("%s: a resumed download: %d %v", n.name, res.StatusCode, res.Header)
		}
		if res, part := get(path, "user", "Range", "bytes="+from+"-", "If-Range", `"another file"`); res.StatusCode != 200 || !bytes.Equal(part, whole) {
			t.Fatalf("%s: a resume of another file: %d, %d bytes", n.name, res.StatusCode, len(part))
		}
		res, b := get(path, "user", "Range", "bytes="+size+"-")
		var e struct{ Message string }
		if res.StatusCode != 416 || res.Header.Get("Content-Range") != "bytes */"+size || json.Unmarshal(b, &e) != nil || e.Message == "" ||
			res.Header.Get("Content-Disposition") != "" {
			t.Fatalf("%s: a range past the end: %d %v %s", n.name, res.StatusCode, res.Header, b)
		}
		req, _ := http.NewRequest("HEAD", n.api.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer user")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		hb, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Length") != size || res.Header.Get("Accept-Ranges") != "bytes" ||
			res.Header.Get("Content-Type") != "video/mp4" || len(hb) != 0 {
			t.Fatalf("%s: HEAD: %d %v", n.name, res.StatusCode, res.Header)
		}
		// A signed URL (a browser's link or <video>) seeks the same way.
		u := signedURLOf(t, get, "/api/recordings/"+id+"/download-url", "user")
		if res, part := get(u.URL, "", "Range", "bytes=0-7"); res.StatusCode != 206 || !bytes.Equal(part, whole[:8]) ||
			res.Header.Get("Content-Disposition") != `attachment; filename="Night set.mp4"` {
			t.Fatalf("%s: a range of the signed URL: %d %v", n.name, res.StatusCode, res.Header)
		}
	}

	// Node C's signature is refused by node A: the caller gets a 502 that
	// says the nodes disagree, not node A's 403 (they may see it).
	get := specGetter(t, stray.srv)
	for _, hdr := range [][]string{nil, {"Range", "bytes=0-7"}} {
		res, body := get(path, "user", hdr...)
		var e struct{ Message string }
		if res.StatusCode != 502 || json.Unmarshal(body, &e) != nil || e.Message == "" || res.Header.Get("Content-Disposition") != "" {
			t.Fatalf("through a node whose key is refused (%v): %d %v %s", hdr, res.StatusCode, res.Header, body)
		}
	}
	if res, _ := get("/api/recordings/"+id+"/hls/"+recording.PlaylistName, "user"); res.StatusCode != 502 {
		t.Fatalf("the playlist through a node whose key is refused: %d", res.StatusCode)
	}
	// A caller who may not see the recording: the 404 of an unknown id,
	// before any node is asked.
	stray.gate.lost.Store("acc-kicked", true)
	resK, hidden := get(path, "kicked")
	resU, unknown := get("/api/recordings/0190c4e0-0000-7000-8000-000000000000/download", "kicked")
	if resK.StatusCode != 404 || resU.StatusCode != 404 || !bytes.Equal(hidden, unknown) {
		t.Fatalf("a caller who may not see it: %d %s, an unknown id: %d %s", resK.StatusCode, hidden, resU.StatusCode, unknown)
	}
}

// TestRecordingPeerFailures: what the node holding a recording answers
// another node's proxied download with, when it is not the file, reaches
// the caller as the proxying node's own error: its failure (ffmpeg fails)
// a 502, its refusal for lack of an ffmpeg slot a 503 with Retry-After,
// both in the API's error shape. The busy node's one slot is held by a
// stand-in ffmpeg the test releases, so no timing decides it.
func TestRecordingPeerFailures(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("no ffmpeg")
	}
	seg := testSegment(t)
	db := storetest.OpenSQLite(t)
	peers := &nodeURLs{}
	key := []byte("cluster key")
	scratch := t.TempDir()
	blocking := filepath.Join(scratch, "ffmpeg")
	// A remux (its output is download.mp4.tmp-…) waits to be released; a
	// thumbnail fails at once.
	if err := os.WriteFile(blocking, []byte("#!/bin/sh\ncase \"$*\" in *download.mp4.tmp*) ;; *) exit 1 ;; esac\n"+
		"touch "+scratch+"/started\nwhile [ ! -e "+scratch+"/release ]; do sleep 0.02; done\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	release := func() { _ = os.WriteFile(filepath.Join(scratch, "release"), nil, 0o600) }
	t.Cleanup(release) // no stand-in ffmpeg outlives the test
	node := func(id, ffmpeg string, jobs int) *signedURLAPI {
		n := newSignedURLNode(t, db, t.TempDir(), ffmpeg, recording.Config{NodeID: id, PeerKey: key, Peers: peers,
			MaxJobs: jobs, JobWait: 50 * time.Millisecond})
		peers.m.Store(id, n.srv.URL)
		return n
	}
	failing, busy, asked := node("node-f", "false", 0), node("node-b", blocking, 1), node("node-p", "ffmpeg", 0)
	broken := recordOn(t, failing, seg, "broken")
	held, waiting := recordOn(t, busy, seg, "held"), recordOn(t, busy, seg, "waiting")

	get := specGetter(t, asked.srv)
	message := func(b []byte) string {
		var e struct{ Message string }
		_ = json.Unmarshal(b, &e)
		return e.Message
	}
	if res, b := get("/api/recordings/"+broken+"/download", "user"); res.StatusCode != 502 || message(b) == "" {
		t.Fatalf("a download the holding node fails: %d %s", res.StatusCode, b)
	}
	// The busy node's one slot is taken by a remux of another recording.
	done := make(chan struct{})
	go func() {
		defer close(done)
		if f, err := busy.rs.DownloadFile(context.Background(), held); err == nil {
			f.Close()
		}
	}()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(scratch, "started")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the busy node's remux did not start")
		}
	}
	res, b := get("/api/recordings/"+waiting+"/download", "user")
	if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" || message(b) == "" {
		t.Fatalf("a download the holding node is too busy for: %d %v %s", res.StatusCode, res.Header, b)
	}
	release()
	<-done
}

// TestRecordingDownloadMadeAgain: a recording's MP4 nobody downloaded for
// a day is removed (recording.Service.SweepDownloads) and the next
// download makes it again from the same playlist: the same mtime and,
// most likely, the same size, but not surely the same bytes. Its ETag and
// Last-Modified name the new file, so a download resumed with If-Range
// across it starts over (200, the whole new file) rather than splicing
// the new file's tail onto the old one's head; a resume of the new file
// is a 206. On every engine.
func TestRecordingDownloadMadeAgain(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("no ffmpeg")
	}
	seg := testSegment(t)
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			a := newSignedURLNode(t, eng.Open(t), t.TempDir(), "ffmpeg", recording.Config{NodeID: "node-a", PeerKey: []byte("cluster key")})
			id := recordOn(t, a, seg, "Night set")
			path := "/api/recordings/" + id + "/download"
			get := specGetter(t, a.srv)
			res, first := get(path, "user")
			etag, modified := res.Header.Get("ETag"), res.Header.Get("Last-Modified")
			if res.StatusCode != 200 || len(first) < 300 || etag == "" {
				t.Fatalf("the first download: %d %v", res.StatusCode, res.Header)
			}
			a.now.Add(int64(25 * time.Hour))
			if n := a.rs.SweepDownloads(t.Context()); n != 1 {
				t.Fatalf("the sweep a day on removed %d MP4s, want 1", n)
			}
			from := strconv.Itoa(len(first) - 10)
			res, again := get(path, "user", "Range", "bytes="+from+"-", "If-Range", etag)
			if res.StatusCode != 200 || len(again) < 300 || string(again[4:8]) != "ftyp" || res.Header.Get("ETag") == etag {
				t.Fatalf("a download resumed across the MP4 made again: %d %v, %d bytes; want 200, the whole file, a new ETag",
					res.StatusCode, res.Header, len(again))
			}
			if res, part := get(path, "user", "Range", "bytes=0-7", "If-Range", res.Header.Get("ETag")); res.StatusCode != 206 ||
				!bytes.Equal(part, again[:8]) {
				t.Fatalf("a resume of the new MP4: %d %v", res.StatusCode, res.Header)
			}
			// A Last-Modified is sent once the MP4 is a second old (a
			// date names a whole second): resumed by it, across the MP4
			// made again, it starts over too.
			if modified != "" {
				if res, _ := get(path, "user", "Range", "bytes=0-7", "If-Range", modified); res.StatusCode != 200 {
					t.Fatalf("a resume across it by the old Last-Modified (%s): %d %v", modified, res.StatusCode, res.Header)
				}
			}
		})
	}
}
