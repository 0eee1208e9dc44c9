package hearthapi_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/hls"
	"github.com/hearth-community/hearth/internal/recording"
)

// TestRecordingDownloadURL: GET /api/recordings/{id}/download-url hands a
// viewer a URL of the recording's MP4 download with no token in it, which
// sends it as an attachment named after the recording (a Range request
// gets its part: 206) until it expires; an expired, forged or re-aimed URL (another recording,
// account or admin flag, a clip's route) is refused with 403 in the API's
// error shape; a member who lost the stage gets no new URL, and the one
// already handed out stops serving them. The token still downloads as
// before, at the recording's downloadUrl, and a recording being made has
// no URL and a null downloadUrl.
func TestRecordingDownloadURL(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("no ffmpeg")
	}
	api := newSignedURLAPI(t, t.TempDir(), "ffmpeg")
	srv, rs, g, clock, now := api.srv, api.rs, api.gate, api.clock, &api.now

	// A second of real video, one segment of two finished recordings and
	// of one being made.
	seg := testSegment(t)
	recordOne := func(broadcast, title string, end bool) string {
		t.Helper()
		sink := rs.BroadcastStarted("stage-main", broadcast, title, clock())
		if sink == nil {
			t.Fatal("not recording")
		}
		sink.Segment(seg, hls.Segment{Duration: time.Second})
		if end {
			sink.End(clock())
		}
		list, _ := rs.List(context.Background(), "stage-main")
		for _, r := range list {
			if r.Title == title {
				return r.ID
			}
		}
		t.Fatalf("no recording %q", title)
		return ""
	}
	recs := []string{recordOne("b1", `Night: "live"/2`, true), recordOne("b2", "", true)}

	get := specGetter(t, srv)
	urlOf := func(id, token string) fileURL {
		t.Helper()
		return signedURLOf(t, get, "/api/recordings/"+id+"/download-url", token)
	}
	isMP4 := func(b []byte) bool { return len(b) > 8 && string(b[4:8]) == "ftyp" }
	refused := func(what, path string, want int) {
		t.Helper()
		res, b := get(path, "")
		var e struct{ Message string }
		if res.StatusCode != want || json.Unmarshal(b, &e) != nil || e.Message == "" || res.Header.Get("Content-Disposition") != "" {
			t.Errorf("%s: %d %v %s, want %d with a message", what, res.StatusCode, res.Header, b, want)
		}
	}

	u := urlOf(recs[0], "user")
	if !strings.HasPrefix(u.URL, "/api/recordings/"+recs[0]+"/download?") || strings.Contains(u.URL, "Bearer") || strings.Contains(u.URL, "token") ||
		!u.ExpiresAt.Equal(clock().Add(recording.ClipURLTTL)) {
		t.Fatalf("url: %+v", u)
	}
	// It downloads with no token, named after the recording, and a Range
	// request gets its part.
	res, b := get(u.URL, "")
	if res.StatusCode != 200 || !isMP4(b) || res.Header.Get("Content-Type") != "video/mp4" || res.Header.Get("Accept-Ranges") != "bytes" ||
		res.Header.Get("Content-Disposition") != `attachment; filename="Night live 2.mp4"` {
		t.Fatalf("download: %d %v %d bytes", res.StatusCode, res.Header, len(b))
	}
	if res, part := get(u.URL, "", "Range", "bytes=100-199"); res.StatusCode != 206 || string(part) != string(b[100:200]) ||
		res.Header.Get("Content-Disposition") != `attachment; filename="Night live 2.mp4"` {
		t.Fatalf("a range of the download: %d %v %d bytes", res.StatusCode, res.Header, len(part))
	}
	// Untitled: named after its id.
	if res, b := get(urlOf(recs[1], "user").URL, ""); res.StatusCode != 200 || !isMP4(b) ||
		res.Header.Get("Content-Disposition") != "attachment; filename=recording-"+recs[1]+".mp4" {
		t.Fatalf("untitled: %d %v", res.StatusCode, res.Header)
	}
	// The token still downloads as before, at the recording's downloadUrl.
	var finished struct{ DownloadURL *string }
	if res, b := get("/api/recordings/"+recs[0], "user"); res.StatusCode != 200 || json.Unmarshal(b, &finished) != nil ||
		finished.DownloadURL == nil || *finished.DownloadURL != "/api/recordings/"+recs[0]+"/download" {
		t.Fatalf("a finished recording's downloadUrl: %d %s", res.StatusCode, b)
	}
	if res, b := get(*finished.DownloadURL, "user"); res.StatusCode != 200 || !isMP4(b) ||
		res.Header.Get("Content-Disposition") != `attachment; filename="recording-`+recs[0]+`.mp4"` {
		t.Fatalf("with the token: %d %v", res.StatusCode, res.Header)
	}

	other := urlOf(recs[1], "user")
	_, q, _ := strings.Cut(u.URL, "?")
	_, otherQ, _ := strings.Cut(other.URL, "?")
	refused("another recording's URL", "/api/recordings/"+recs[1]+"/download?"+q, 403)
	refused("a URL aimed at another recording", "/api/recordings/"+recs[0]+"/download?"+otherQ, 403)
	refused("forged", "/api/recordings/"+recs[0]+"/download?"+strings.Replace(q, "sig=", "sig=0", 1), 403)
	refused("another account", "/api/recordings/"+recs[0]+"/download?"+strings.Replace(q, "acc-user", "acc-admin", 1), 403)
	refused("made admin", "/api/recordings/"+recs[0]+"/download?"+q+"&admin=1", 403)
	refused("no sig", "/api/recordings/"+recs[0]+"/download?"+strings.Split(q, "&sig=")[0], 403)
	refused("on the nodes' route", "/api/recordings/"+recs[0]+"/peer/"+recording.DownloadName+"?"+q, 403)
	// A clip's file URL and a recording's download URL open nothing of
	// each other (their labels differ).
	refused("on a clip's route", "/api/clips/"+recs[0]+"/file?"+q, 403)

	// A member who lost the stage gets no URL, and theirs stops serving.
	k := urlOf(recs[0], "kicked")
	if res, b := get(k.URL, ""); res.StatusCode != 200 || !isMP4(b) {
		t.Fatalf("before the kick: %d", res.StatusCode)
	}
	g.lost.Store("acc-kicked", true)
	if res, _ := get("/api/recordings/"+recs[0]+"/download-url", "kicked"); res.StatusCode != 404 {
		t.Fatalf("a new URL after the kick: %d", res.StatusCode)
	}
	refused("the kicked member's URL", k.URL, 404)

	// Expired: refused; a new one works.
	now.Add(int64(recording.ClipURLTTL + time.Second))
	refused("expired", u.URL, 403)
	if res, b := get(urlOf(recs[0], "user").URL, ""); res.StatusCode != 200 || !isMP4(b) {
		t.Fatalf("a fresh URL: %d", res.StatusCode)
	}
	// A recording being made has no download yet; unknown, no URL.
	live := recordOne("b3", "Still on", false)
	if res, _ := get("/api/recordings/"+live+"/download-url", "user"); res.StatusCode != 409 {
		t.Fatalf("a recording being made: %d", res.StatusCode)
	}
	// Nor a downloadUrl (its route answers 409 too).
	var making map[string]any
	if res, b := get("/api/recordings/"+live, "user"); res.StatusCode != 200 || json.Unmarshal(b, &making) != nil ||
		making["downloadUrl"] != nil || making["recording"] != true {
		t.Fatalf("a recording being made: %d %s, want downloadUrl null", res.StatusCode, b)
	}
	if res, _ := get("/api/recordings/"+live+"/download", "user"); res.StatusCode != 409 {
		t.Fatalf("the download of a recording being made: %d", res.StatusCode)
	}
	if res, _ := get("/api/recordings/0190c4e0-0000-7000-8000-000000000000/download-url", "user"); res.StatusCode != 404 {
		t.Fatalf("unknown recording: %d", res.StatusCode)
	}
}
