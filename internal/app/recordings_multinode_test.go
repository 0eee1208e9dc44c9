package app_test

import (
	"bytes"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/recording"
)

// TestRecordingPlaysOnAnotherNode: on PostgreSQL + NATS without S3, a
// recording made on node A lists on node B, and B serves its playlist,
// a segment and the MP4 download (each with a range request) by proxying to A,
// which holds the files, and the ended stream's thumbnail A made (not an
// older one of its own); a clip asked of B is cut by A (B checks the
// caller and forwards the cut) and plays through both, with the viewer's
// token or a signed URL A handed out; A's peer routes refuse requests
// that are not signed with the cluster's key.
func TestRecordingPlaysOnAnotherNode(t *testing.T) {
	t.Parallel()
	a, b, streamKey := twoLiveNodes(t, func(cfg *config.Config) { cfg.Recording = true }, "ffprobe")
	ctx := t.Context()
	def := a.Live.DefaultStageID()
	if err := a.Live.SetLatencyLevel(ctx, def, 0); err != nil {
		t.Fatal(err)
	}
	const secs = 6
	pub := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=160x90:rate=25", "-f", "lavfi", "-i", "sine=frequency=400:sample_rate=44100",
		"-t", strconv.Itoa(secs), "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "32k", "-f", "flv", "rtmp://"+a.RTMPAddr().String()+"/live/"+streamKey)
	if out, err := pub.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	baseA, baseB := a.HTTP.URL(), b.HTTP.URL()
	var list []struct {
		ID              string
		Recording       bool
		DurationSeconds float64
		PlaylistURL     string
		DownloadURL     string
	}
	poll(t, "the recording, listed on node B", 60*time.Second, func() bool {
		return call(t, "GET", baseB+"/api/recordings?stage=default", "", nil, &list) == 200 && len(list) == 1 && !list[0].Recording
	})
	r := list[0]
	// The stream has ended: node B shows the thumbnail node A made of it,
	// not one of its own from an older stream.
	stale := []byte("node B's thumbnail of an older stream")
	if err := os.MkdirAll(filepath.Join(b.Config.DataDir, "hls", def), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.Config.DataDir, "hls", def, "thumbnail.jpg"), stale, 0o600); err != nil {
		t.Fatal(err)
	}
	poll(t, "node A's thumbnail of the ended stream through node B", 30*time.Second, func() bool {
		p, ok := a.Live.Thumbnail(def, "thumbnail.jpg")
		if !ok {
			return false
		}
		onA, err := os.ReadFile(p)
		code, hdr, body := get(t, baseB+"/thumbnail.jpg")
		return err == nil && code == 200 && hdr.Get("Content-Type") == "image/jpeg" && bytes.Equal(body, onA)
	})
	get := func(url string, hdr map[string]string) (*http.Response, []byte) { return getWith(t, url, hdr) }
	_, plA := get(baseA+r.PlaylistURL, nil)
	res, plB := get(baseB+r.PlaylistURL, nil)
	if res.StatusCode != 200 || !bytes.Equal(plA, plB) || !strings.Contains(string(plB), "#EXT-X-ENDLIST") ||
		res.Header.Get("Content-Type") != "application/x-mpegURL" {
		t.Fatalf("playlist through node B: %d %q (node A: %q)", res.StatusCode, plB, plA)
	}
	seg := baseB + "/api/recordings/" + r.ID + "/hls/seg-00000.ts"
	if res, body := get(seg, map[string]string{"Range": "bytes=188-375"}); res.StatusCode != 206 || len(body) != 188 || body[0] != 0x47 ||
		!strings.HasPrefix(res.Header.Get("Content-Range"), "bytes 188-375/") {
		t.Fatalf("range through node B: %d %d bytes %v", res.StatusCode, len(body), res.Header)
	}
	if res, _ := get(baseB+"/api/recordings/"+r.ID+"/hls/seg-99999.ts", nil); res.StatusCode != 404 {
		t.Fatalf("missing segment through node B: %d", res.StatusCode)
	}
	res, mp4 := get(baseB+r.DownloadURL, nil)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "video/mp4" || res.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("download through node B: %d %v", res.StatusCode, res.Header)
	}
	// A player seeking in it, or a download resumed, gets its part.
	if res, part := get(baseB+r.DownloadURL, map[string]string{"Range": "bytes=16-31"}); res.StatusCode != 206 || !bytes.Equal(part, mp4[16:32]) ||
		res.Header.Get("Content-Range") != "bytes 16-31/"+strconv.Itoa(len(mp4)) {
		t.Fatalf("a range of the download through node B: %d %v", res.StatusCode, res.Header)
	}
	f := filepath.Join(t.TempDir(), "b.mp4")
	if err := os.WriteFile(f, mp4, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", f).Output()
	if d, _ := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err != nil || math.Abs(d-r.DurationSeconds) > 1.5 {
		t.Fatalf("download through node B: duration %q (recording %.1f s) %v", out, r.DurationSeconds, err)
	}
	// A signed download URL node A hands out downloads through node B,
	// named after the recording there (not the owning node's name).
	title := "Night set"
	if _, err := a.Recordings.Update(ctx, r.ID, &title, nil); err != nil {
		t.Fatal(err)
	}
	var signedDL struct{ URL string }
	if code := call(t, "GET", baseA+"/api/recordings/"+r.ID+"/download-url", "", nil, &signedDL); code != 200 || signedDL.URL == "" {
		t.Fatalf("download-url on node A: %d %+v", code, signedDL)
	}
	if res, body := get(baseB+signedDL.URL, nil); res.StatusCode != 200 || len(body) == 0 ||
		res.Header.Get("Content-Disposition") != `attachment; filename="Night set.mp4"` {
		t.Fatalf("the signed download through node B: %d %v, %d bytes", res.StatusCode, res.Header, len(body))
	}
	// The peer route is the nodes' own: unsigned, forged or expired
	// requests are refused.
	for _, q := range []string{"", "?exp=9999999999&sig=00", "?exp=1&sig=00"} {
		if res, _ := get(baseA+"/api/recordings/"+r.ID+"/peer/"+"index.m3u8"+q, nil); res.StatusCode != 403 {
			t.Fatalf("peer route %q: %d", q, res.StatusCode)
		}
	}

	// A clip is cut where the files are (node A) and kept there; node B
	// serves its MP4 to a viewer by fetching it from A.
	var viewer struct {
		AccessToken string `json:"access_token"`
	}
	if code := call(t, "POST", baseA+"/auth/register", "", map[string]string{"username": "clipper", "password": "password1"}, &viewer); code != 201 {
		t.Fatalf("register: %d", code)
	}
	var clip struct{ ID, URL string }
	if code := call(t, "POST", baseA+"/api/recordings/"+r.ID+"/clips", viewer.AccessToken, map[string]any{"start": 0, "end": 3, "title": "first seconds"}, &clip); code != 201 || clip.URL == "" {
		t.Fatalf("clip on node A: %d %+v", code, clip)
	}
	auth := map[string]string{"Authorization": "Bearer " + viewer.AccessToken}
	_, onA := get(baseA+clip.URL, auth)
	res, onB := get(baseB+clip.URL, auth)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "video/mp4" || len(onB) == 0 || !bytes.Equal(onA, onB) {
		t.Fatalf("the clip through node B: %d %v, %d bytes (node A: %d)", res.StatusCode, res.Header, len(onB), len(onA))
	}
	if res, body := get(baseB+clip.URL, map[string]string{"Authorization": "Bearer " + viewer.AccessToken, "Range": "bytes=0-7"}); res.StatusCode != 206 || !bytes.Equal(body, onA[:8]) {
		t.Fatalf("a range of the clip through node B: %d %q", res.StatusCode, body)
	}
	// A signed URL node A hands out plays (ranges) and downloads on node B
	// with no token.
	var signed struct{ URL string }
	if code := call(t, "GET", baseA+"/api/clips/"+clip.ID+"/file-url", viewer.AccessToken, nil, &signed); code != 200 || signed.URL == "" {
		t.Fatalf("file-url on node A: %d %+v", code, signed)
	}
	if res, body := get(baseB+signed.URL, map[string]string{"Range": "bytes=8-15"}); res.StatusCode != 206 || !bytes.Equal(body, onA[8:16]) {
		t.Fatalf("a range of the clip through node B with node A's signed URL: %d %q", res.StatusCode, body)
	}
	if res, body := get(baseB+signed.URL+"&download=1", nil); res.StatusCode != 200 || !bytes.Equal(body, onA) ||
		res.Header.Get("Content-Disposition") != `attachment; filename="first seconds.mp4"` {
		t.Fatalf("the clip's download through node B with node A's signed URL: %d %v", res.StatusCode, res.Header)
	}
	for _, q := range []string{"", "?exp=9999999999&sig=00", "?exp=1&sig=00"} {
		if res, _ := get(baseA+"/api/clips/"+clip.ID+"/peer"+q, nil); res.StatusCode != 403 {
			t.Fatalf("clip peer route %q: %d", q, res.StatusCode)
		}
	}

	// A clip asked of node B is cut by node A, which holds the files (it
	// was 503 on B); both serve it, and its chat post is B's to make.
	var fromB struct{ ID, URL string }
	if code := call(t, "POST", baseB+"/api/recordings/"+r.ID+"/clips", viewer.AccessToken, map[string]any{"start": 1, "end": 4, "title": "via B"}, &fromB); code != 201 || fromB.URL == "" {
		t.Fatalf("clip asked of node B: %d %+v", code, fromB)
	}
	if !a.Recordings.HasLocalClip(fromB.ID) || b.Recordings.HasLocalClip(fromB.ID) {
		t.Fatalf("the clip asked of node B is not on node A alone")
	}
	_, onA = get(baseA+fromB.URL, auth)
	res, onB = get(baseB+fromB.URL, auth)
	if res.StatusCode != 200 || len(onA) == 0 || !bytes.Equal(onA, onB) {
		t.Fatalf("the clip asked of node B: %d, %d bytes (node A: %d)", res.StatusCode, len(onB), len(onA))
	}
	// The caller is checked on B: no token, no cut.
	if code := call(t, "POST", baseB+"/api/recordings/"+r.ID+"/clips", "", map[string]any{"start": 0, "end": 1}, nil); code != 401 {
		t.Fatalf("anonymous clip on node B: %d", code)
	}
	// A's refusal comes back through B as A made it.
	var refusal struct{ Message string }
	if code := call(t, "POST", baseB+"/api/recordings/"+r.ID+"/clips", viewer.AccessToken, map[string]any{"start": 500, "end": 510}, &refusal); code != 400 ||
		!strings.Contains(refusal.Message, "past the recording's end") {
		t.Fatalf("a clip past the end asked of node B: %d %+v", code, refusal)
	}
	// The cut route is the nodes' own: a signed cut runs once (a replay is
	// 409), a body it was not signed for and an unsigned one are 403.
	rec, err := a.Recordings.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	post := func(u string, body []byte) int {
		res, err := http.Post(u, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	u, body, err := b.Recordings.CutPeer(ctx, rec.NodeID, recording.CutRequest{ID: fromB.ID, RecordingID: r.ID, Start: 0, End: time.Second, By: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if code := post(u, body); code != 409 {
		t.Fatalf("a replayed cut: %d", code)
	}
	forged := bytes.Replace(body, []byte(fromB.ID), []byte(identity.NewID()), 1)
	if code := post(u, forged); code != 403 {
		t.Fatalf("a cut with a body it was not signed for: %d", code)
	}
	if code := post(baseA+"/api/clips/peer", body); code != 403 {
		t.Fatalf("an unsigned cut: %d", code)
	}
}
