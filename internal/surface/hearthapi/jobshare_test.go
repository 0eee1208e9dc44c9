package hearthapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/hearthapi"
)

// TestDownloadJobsPerAddress: the recordings API names a download's
// client address as the caller of its remux (recording.JobsPerCaller):
// with two remuxes of one address's downloads running, its third download
// is answered 503 at once, starting no ffmpeg, while another address's
// starts. The ffmpeg is a stand-in that runs until the test ends.
func TestDownloadJobsPerAddress(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := filepath.Join(dir, "ffmpeg")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nmktemp "+dir+"/started.XXXXXX >/dev/null\n"+
		"while [ ! -e "+dir+"/release ]; do sleep 0.02; done\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	started := func() int {
		m, _ := filepath.Glob(filepath.Join(dir, "started.*"))
		return len(m)
	}
	db := storetest.OpenSQLite(t)
	rs, err := recording.New(recording.Config{Dir: filepath.Join(dir, "recordings"), DefaultEnabled: true, MaxJobs: 4,
		JobWait: time.Hour, FFmpeg: func() string { return script }}, db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	api, err := hearthapi.New(hearthapi.Deps{Recordings: rs, Gate: &losingGate{}, TrustProxy: true,
		Auth: func(context.Context, string) (string, bool, error) { return "acc-user", false, nil }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	var pending []<-chan int
	t.Cleanup(func() { // before srv closes: every stand-in ends, and every download is answered
		_ = os.WriteFile(filepath.Join(dir, "release"), nil, 0o600)
		for _, p := range pending {
			<-p
		}
	})

	now := time.Now().UTC()
	newRecording := func() string {
		rec := &recording.Recording{ID: identity.NewID(), StageID: "stage-main", StartedAt: now.Add(-time.Minute), EndedAt: &now}
		if err := db.Recordings().CreateRecording(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
		recDir := filepath.Join(dir, "recordings", rec.ID)
		if err := os.MkdirAll(recDir, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(recDir, recording.PlaylistName), []byte("#EXTM3U\n#EXTINF:2.0,\nseg-00000.ts\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(recDir, "seg-00000.ts"), []byte("not really a segment"), 0o600); err != nil {
			t.Fatal(err)
		}
		return rec.ID
	}
	download := func(addr, id string) <-chan int {
		out := make(chan int, 1)
		go func() {
			req, _ := http.NewRequest("GET", srv.URL+"/api/recordings/"+id+"/download", nil)
			req.Header.Set("Authorization", "Bearer user")
			req.Header.Set("X-Forwarded-For", addr)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				out <- 0
				return
			}
			res.Body.Close()
			out <- res.StatusCode
		}()
		pending = append(pending, out)
		return out
	}
	waitUntil := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if t.Context().Err() != nil {
				t.Fatalf("gave up waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	const attacker = "203.0.113.7"
	download(attacker, newRecording())
	download(attacker, newRecording())
	waitUntil("the address's two remuxes to start", func() bool { return started() == 2 })
	third := download(attacker, newRecording())
	pending = pending[:len(pending)-1] // read here
	code := 0
	waitUntil("the third download to be answered or start an ffmpeg", func() bool {
		select {
		case code = <-third:
			return true
		default:
			return started() > 2
		}
	})
	if started() > 2 {
		pending = append(pending, third)
	}
	if code != http.StatusServiceUnavailable || started() != 2 {
		t.Fatalf("the address's third download: %d, %d ffmpeg processes; want 503 and 2", code, started())
	}
	download("198.51.100.9", newRecording())
	waitUntil("another address's remux to start", func() bool { return started() == 3 })
}
