package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store"
)

// TestRoomLoadsAfterCrash: a node killed while it ran a watch room leaves
// the room's lease in the database, still valid for its 10 s. The node
// restarted on the same data directory must take the room at once, not
// proxy to its dead predecessor (before: every request waited 5 s and
// answered 500 until the lease ran out). The crash is simulated by
// writing the lease the killed process held.
func TestRoomLoadsAfterCrash(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	do := func(base, method, path, tok, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	grant := func(base string) string {
		t.Helper()
		code, b := do(base, http.MethodGet, "/api/auth/grant", "", "")
		var g struct{ Token string }
		if code != 200 || json.Unmarshal(b, &g) != nil || g.Token == "" {
			t.Fatalf("grant: %d %s", code, b)
		}
		return g.Token
	}

	a, stop := start(t, cfg, nil)
	base := a.HTTP.URL()
	tok := grant(base)
	if code, b := do(base, http.MethodPost, "/api/room/create", tok, `{"name":"crashroom","title":"before","isTemporary":false}`); code != 201 {
		t.Fatalf("create: %d %s", code, b)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// What kill -9 leaves: the room's lease, held by the dead process.
	node, err := os.ReadFile(filepath.Join(cfg.DataDir, "node-id"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, cfg.Database, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	owner, err := db.Watch().ClaimRoomLease(ctx, "crashroom", strings.TrimSpace(string(node)), now, now.Add(time.Minute))
	if err != nil || owner != strings.TrimSpace(string(node)) {
		t.Fatalf("lease: %q %v", owner, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	a, _ = start(t, cfg, nil)
	base = a.HTTP.URL()
	tok = grant(base)
	code, b := do(base, http.MethodGet, "/api/room/crashroom", tok, "")
	if code != 200 || !strings.Contains(string(b), `"title":"before"`) {
		t.Fatalf("room after the crash: %d %s", code, b)
	}
	if code, b := do(base, http.MethodPatch, "/api/room/crashroom", tok, `{"title":"after"}`); code != 200 {
		t.Fatalf("patch after the crash: %d %s", code, b)
	}
}

// TestRecordingWithoutSegmentsAfterCrash: a node killed after a recording
// started but before its first segment leaves an open recording with an
// empty playlist. After the restart it is closed (not "recording" for
// good), its playlist is a finished VOD, and its MP4 download answers 404
// with the error shape (before: ffmpeg failed on the empty playlist and the
// response was cut off with nothing sent). The crash state is written
// directly.
func TestRecordingWithoutSegmentsAfterCrash(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.FFmpegPath = "ffmpeg"
	a, stop := start(t, cfg, nil)
	stage := a.Live.DefaultStageID()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	node, err := os.ReadFile(filepath.Join(cfg.DataDir, "node-id"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, cfg.Database, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	id := identity.NewID()
	r := &recording.Recording{ID: id, StageID: stage, Title: "cut short", StartedAt: now, NodeID: strings.TrimSpace(string(node)),
		LeaseUntil: now.Add(time.Minute)}
	if err := db.Recordings().CreateRecording(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cfg.DataDir, "recordings", id)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, recording.PlaylistName), []byte("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:EVENT\n"), 0o640); err != nil {
		t.Fatal(err)
	}

	a, _ = start(t, cfg, nil)
	base := a.HTTP.URL()
	var got struct{ Recording bool }
	poll(t, "the lost recording closed", 30*time.Second, func() bool {
		return call(t, "GET", base+"/api/recordings/"+id, "", nil, &got) == 200 && !got.Recording
	})
	res, err := http.Get(base + "/api/recordings/" + id + "/hls/" + recording.PlaylistName)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), "#EXT-X-ENDLIST") {
		t.Fatalf("playlist: %d %s", res.StatusCode, b)
	}
	res, err = http.Get(base + "/api/recordings/" + id + "/download")
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 404 || !strings.Contains(string(b), "no video") {
		t.Fatalf("download: %d %s", res.StatusCode, b)
	}
}
