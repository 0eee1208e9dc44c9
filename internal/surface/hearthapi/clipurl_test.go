package hearthapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/recording"
)

// losingGate is gate, where an account in lost may no longer see the stage
// (kicked, or the channel hidden from it).
// TestClipFileURL: GET /api/clips/{id}/file-url hands a viewer a URL of the
// clip's MP4 with no token in it, which serves range requests (206) and a
// download (Content-Disposition) until it expires; an expired, forged or
// re-aimed URL (another clip, the nodes' route, another account) is refused
// with 403 in the API's error shape; a member who lost the stage gets no new
// URL, and the one already handed out stops serving them.
func TestClipFileURL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	api := newSignedURLAPI(t, dir, "false")
	srv, rs, g, clock, now := api.srv, api.rs, api.gate, api.clock, &api.now

	// Two clips of a recording, their MP4s where the service keeps them.
	rec := record(t, rs)
	mp4 := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	clips := make([]string, 2)
	for i := range clips {
		c := &recording.Clip{ID: []string{"0197a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "0197a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"}[i], StageID: "stage-main",
			RecordingID: rec, Title: `The "drop": a/b`, Duration: 10 * time.Second, Size: int64(len(mp4)), CreatedBy: "acc-user", CreatedAt: clock()}
		if err := api.db.Recordings().CreateClip(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "clips"), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "clips", c.ID+".mp4"), mp4, 0o600); err != nil {
			t.Fatal(err)
		}
		clips[i] = c.ID
	}
	get := specGetter(t, srv)
	urlOf := func(id, token string) fileURL {
		t.Helper()
		return signedURLOf(t, get, "/api/clips/"+id+"/file-url", token)
	}
	refused := func(what, path string, want int) {
		t.Helper()
		res, b := get(path, "", "Range", "bytes=0-99")
		var e struct{ Message string }
		if res.StatusCode != want || json.Unmarshal(b, &e) != nil || e.Message == "" {
			t.Errorf("%s: %d %s, want %d with a message", what, res.StatusCode, b, want)
		}
	}

	u := urlOf(clips[0], "user")
	if !strings.HasPrefix(u.URL, "/api/clips/"+clips[0]+"/file?") || strings.Contains(u.URL, "Bearer") || strings.Contains(u.URL, "token") ||
		!u.ExpiresAt.Equal(clock().Add(recording.ClipURLTTL)) {
		t.Fatalf("url: %+v", u)
	}
	// It plays with range requests, and downloads, with no token.
	res, b := get(u.URL, "", "Range", "bytes=100-199")
	if res.StatusCode != 206 || !bytes.Equal(b, mp4[100:200]) || res.Header.Get("Content-Type") != "video/mp4" ||
		res.Header.Get("Content-Range") != "bytes 100-199/65536" {
		t.Fatalf("range: %d %v %d bytes", res.StatusCode, res.Header, len(b))
	}
	if res, b := get(u.URL, ""); res.StatusCode != 200 || !bytes.Equal(b, mp4) || res.Header.Get("Content-Disposition") != "" {
		t.Fatalf("whole: %d %v", res.StatusCode, res.Header)
	}
	if res, _ := get(u.URL+"&download=1", ""); res.StatusCode != 200 || res.Header.Get("Content-Disposition") != `attachment; filename="The drop a b.mp4"` {
		t.Fatalf("download: %d %q", res.StatusCode, res.Header.Get("Content-Disposition"))
	}
	// The token still works as before.
	if res, _ := get("/api/clips/"+clips[0]+"/file", "user", "Range", "bytes=0-9"); res.StatusCode != 206 {
		t.Fatalf("with the token: %d", res.StatusCode)
	}

	other := urlOf(clips[1], "user")
	_, q, _ := strings.Cut(u.URL, "?")
	_, otherQ, _ := strings.Cut(other.URL, "?")
	refused("another clip's URL", "/api/clips/"+clips[1]+"/file?"+q, 403)
	refused("a URL aimed at another clip", "/api/clips/"+clips[0]+"/file?"+otherQ, 403)
	refused("forged", "/api/clips/"+clips[0]+"/file?"+strings.Replace(q, "sig=", "sig=0", 1), 403)
	refused("another account", "/api/clips/"+clips[0]+"/file?"+strings.Replace(q, "acc-user", "acc-admin", 1), 403)
	refused("made admin", "/api/clips/"+clips[0]+"/file?"+q+"&admin=1", 403)
	refused("no sig", "/api/clips/"+clips[0]+"/file?"+strings.Split(q, "&sig=")[0], 403)
	refused("on the nodes' route", "/api/clips/"+clips[0]+"/peer?"+q, 403)

	// A member who lost the stage gets no URL, and theirs stops serving.
	k := urlOf(clips[0], "kicked")
	if res, _ := get(k.URL, "", "Range", "bytes=0-9"); res.StatusCode != 206 {
		t.Fatalf("before the kick: %d", res.StatusCode)
	}
	g.lost.Store("acc-kicked", true)
	if res, _ := get("/api/clips/"+clips[0]+"/file-url", "kicked"); res.StatusCode != 404 {
		t.Fatalf("a new URL after the kick: %d", res.StatusCode)
	}
	refused("the kicked member's URL", k.URL, 404)
	if res, _ := get(k.URL+"&download=1", ""); res.StatusCode != 404 || res.Header.Get("Content-Disposition") != "" {
		t.Fatalf("the kicked member's download: %d %q", res.StatusCode, res.Header.Get("Content-Disposition"))
	}
	// A clip whose file is gone: 404, not an attachment.
	if err := os.Remove(filepath.Join(dir, "clips", clips[1]+".mp4")); err != nil {
		t.Fatal(err)
	}
	if res, _ := get(other.URL+"&download=1", ""); res.StatusCode != 404 || res.Header.Get("Content-Disposition") != "" {
		t.Fatalf("a missing file's download: %d %q", res.StatusCode, res.Header.Get("Content-Disposition"))
	}

	// Expired: refused; a new one works.
	now.Add(int64(recording.ClipURLTTL + time.Second))
	refused("expired", u.URL, 403)
	if res, _ := get(urlOf(clips[0], "user").URL, "", "Range", "bytes=0-9"); res.StatusCode != 206 {
		t.Fatalf("a fresh URL: %d", res.StatusCode)
	}
	// Unknown clip, bad token.
	if res, _ := get("/api/clips/0190c4e0-0000-7000-8000-000000000000/file-url", "user"); res.StatusCode != 404 {
		t.Fatalf("unknown clip: %d", res.StatusCode)
	}
}
