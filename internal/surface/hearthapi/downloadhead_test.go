package hearthapi_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/hls"
)

// TestDownloadHeadRunsNoRemux: a HEAD of a recording's MP4 download (a
// download manager's or a link preview's first request) answered with the
// download's headers after remuxing the whole recording with ffmpeg, its
// output thrown away, holding one of the node's ffmpeg slots all along.
// The MP4 is now made once and kept: a HEAD answers its length from the
// file, and the GET after it runs no second remux.
func TestDownloadHeadRunsNoRemux(t *testing.T) {
	t.Parallel()
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("no ffmpeg")
	}
	tmp := t.TempDir()
	// ffmpeg, noting each remux (the thumbnail's runs are not remuxes).
	log := filepath.Join(tmp, "remuxes")
	wrapper := filepath.Join(tmp, "ffmpeg")
	script := "#!/bin/sh\ncase \"$*\" in *allowed_extensions*) echo remux >> '" + log + "';; esac\nexec '" + ff + "' \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	api := newSignedURLAPI(t, t.TempDir(), wrapper)
	seg := filepath.Join(tmp, "seg.ts")
	if out, err := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10",
		"-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "10", "-f", "mpegts", seg).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	sink := api.rs.BroadcastStarted("stage-main", "b1", "", api.clock())
	if sink == nil {
		t.Fatal("not recording")
	}
	sink.Segment(seg, hls.Segment{Duration: time.Second})
	sink.End(api.clock())
	list, _ := api.rs.List(t.Context(), "stage-main")
	if len(list) != 1 {
		t.Fatalf("recordings: %d", len(list))
	}
	remuxes := func() int {
		b, _ := os.ReadFile(log)
		return strings.Count(string(b), "remux")
	}
	for _, method := range []string{"HEAD", "GET"} {
		req, _ := http.NewRequest(method, api.srv.URL+"/api/recordings/"+list[0].ID+"/download", nil)
		req.Header.Set("Authorization", "Bearer user")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "video/mp4" || !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("%s: %d %v", method, res.StatusCode, res.Header)
		}
		if res.Header.Get("Content-Length") == "" || res.Header.Get("Content-Length") == "0" {
			t.Fatalf("%s: no length: %v", method, res.Header)
		}
		if n := remuxes(); n != 1 {
			t.Fatalf("after the %s: %d remuxes, want 1 (made once, then kept)", method, n)
		}
	}
}
