package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// node is a hearth process and the addresses it logged.
type node struct {
	cmd        *exec.Cmd
	http, rtmp string
	mu         sync.Mutex
	log        strings.Builder
}

func (n *node) logged() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.log.String()
}

// startNode runs hearth in dir with args and waits until it has logged the
// addresses of its HTTP and RTMP listeners.
func startNode(t *testing.T, dir string, args ...string) *node {
	t.Helper()
	n := &node{cmd: exec.Command(hearthBin, args...)}
	n.cmd.Dir = dir
	pr, err := n.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.cmd.Process.Kill(); _ = n.cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		seen := false
		for sc.Scan() {
			line := sc.Text()
			n.mu.Lock()
			n.log.WriteString(line + "\n")
			if m := listenAddr.FindStringSubmatch(line); m != nil {
				switch {
				case strings.Contains(line, "hearth listening"):
					n.http = m[2]
				case strings.Contains(line, "rtmp listening"):
					n.rtmp = m[2]
				}
			}
			done := n.http != "" && n.rtmp != ""
			n.mu.Unlock()
			if done && !seen {
				seen = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(hangGuard):
		t.Fatalf("hearth did not start; its log:\n%s", n.logged())
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n
}

var extinf = regexp.MustCompile(`(?m)^#EXTINF:([0-9.]+),`)

// TestKill9LeavesAPlayableRecording: hearth records a broadcast that ffmpeg
// publishes over RTMP; the process is killed with SIGKILL mid-broadcast;
// restarted on the same data, it closes the recording at its last complete
// segment, and the recording plays: a finished VOD playlist of the
// segments written before the kill, which ffprobe reads with the duration
// the playlist lists, and an MP4 download ffprobe reads too.
func TestKill9LeavesAPlayableRecording(t *testing.T) {
	t.Parallel()
	for _, b := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skip(b + " not installed (.ci/run installs it)")
		}
	}
	dir := t.TempDir()
	const key = "kill-nine-stream-key"
	args := []string{"--addr", "127.0.0.1:0", "--rtmp-addr", "127.0.0.1:0", "--admin-password", "adminpassword",
		"--recording", "--stream-key", key, "--ffmpeg-path", "ffmpeg", "--recording-min-free-bytes", "0"}
	args = append(args, noFixedPorts...)
	first := startNode(t, dir, args...)
	base := "http://" + first.http
	admin := func(path string, value any) {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"value": value})
		req, _ := http.NewRequest("POST", base+"/api/admin/config/video/"+path, bytes.NewReader(b))
		req.SetBasicAuth("admin", "adminpassword")
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", path, res.StatusCode)
		}
	}
	// The source as it comes (no transcode), in 1 s segments.
	admin("streamoutputvariants", []map[string]any{{"videoPassthrough": true, "audioPassthrough": true}})
	admin("streamlatencylevel", 0)

	// ffmpeg publishes until it is stopped: the broadcast is cut by the kill.
	pub := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=160x90:rate=25", "-f", "lavfi", "-i", "sine=frequency=400:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "32k", "-f", "flv", "rtmp://"+first.rtmp+"/live/"+key)
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Process.Kill(); _ = pub.Wait() })

	get := func(url string) (int, []byte) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			return 0, nil
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	type rec struct {
		ID              string
		Recording       bool
		DurationSeconds float64
		PlaylistURL     string
		DownloadURL     string
	}
	list := func(base string) []rec {
		var out []rec
		if code, b := get(base + "/api/recordings?stage=default"); code == 200 {
			_ = json.Unmarshal(b, &out)
		}
		return out
	}
	// Wait for the open recording to list three complete segments.
	var open rec
	before := 0
	waitUntil(t, "three segments recorded", first, func() bool {
		l := list(base)
		if len(l) != 1 || !l[0].Recording {
			return false
		}
		open = l[0]
		_, pl := get(base + open.PlaylistURL)
		before = len(extinf.FindAllSubmatch(pl, -1))
		return before >= 3 && !strings.Contains(string(pl), "#EXT-X-ENDLIST")
	})

	if err := first.cmd.Process.Kill(); err != nil { // SIGKILL: no shutdown, no End
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	_ = pub.Process.Kill()
	_ = pub.Wait()

	second := startNode(t, dir, args...)
	base = "http://" + second.http
	var r rec
	waitUntil(t, "the recording closed after the restart", second, func() bool {
		l := list(base)
		if len(l) == 1 && !l[0].Recording {
			r = l[0]
			return true
		}
		return false
	})
	if r.ID != open.ID {
		t.Fatalf("a different recording after the restart: %s, was %s", r.ID, open.ID)
	}
	code, pl := get(base + r.PlaylistURL)
	segs := extinf.FindAllSubmatch(pl, -1)
	if code != 200 || !strings.Contains(string(pl), "#EXT-X-PLAYLIST-TYPE:VOD") || !strings.Contains(string(pl), "#EXT-X-ENDLIST") ||
		len(segs) < before {
		t.Fatalf("playlist after the restart (%d segments before the kill): %d\n%s", before, code, pl)
	}
	var listed float64
	for _, m := range segs {
		d, _ := strconv.ParseFloat(string(m[1]), 64)
		listed += d
	}
	if math.Abs(listed-r.DurationSeconds) > 0.5 {
		t.Fatalf("the recording's duration %.2f s, its playlist lists %.2f s", r.DurationSeconds, listed)
	}
	probe := func(what, input string) float64 {
		t.Helper()
		out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", input).CombinedOutput()
		d, perr := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		if err != nil || perr != nil {
			t.Fatalf("ffprobe %s: %v %s", what, err, out)
		}
		return d
	}
	// The last listed segment is complete: ffprobe reads the whole list.
	if d := probe("the playlist", base+r.PlaylistURL); math.Abs(d-listed) > 1.5 {
		t.Fatalf("ffprobe reads %.2f s of the playlist, which lists %.2f s", d, listed)
	}
	code, mp4 := get(base + r.DownloadURL)
	f := filepath.Join(t.TempDir(), "killed.mp4")
	if err := os.WriteFile(f, mp4, 0o600); err != nil {
		t.Fatal(err)
	}
	if d := probe("the download", f); code != 200 || math.Abs(d-listed) > 1.5 {
		t.Fatalf("download: %d, %.2f s (the playlist lists %.2f s)", code, d, listed)
	}
}

// waitUntil polls ok until it holds; only a hang (hangGuard) fails it.
func waitUntil(t *testing.T, what string, n *node, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; hearth's log:\n%s", what, n.logged())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestKill9LeavesNoFFmpegBehind: an ffmpeg that reads files (here a
// recording's MP4 remux for a download; a clip's cut and a thumbnail
// alike) dies with the hearth process that started it. Before, a kill -9
// left it running to its end (up to the remux's 30 minutes), beside the
// restarted node's own and outside its bound on ffmpegs, its MP4 left for
// the sweep. The remux is a stand-in that sleeps, so the kill finds it
// running.
func TestKill9LeavesNoFFmpegBehind(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("the kernel's parent-death signal is Linux's")
	}
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed (.ci/run installs it)")
	}
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "remux.pid")
	wrapper := filepath.Join(dir, "ffmpeg")
	script := "#!/bin/sh\ncase \"$*\" in *faststart*) echo $$ > " + pidFile + "; exec sleep 300;; esac\nexec " + ffmpeg + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	const key = "no-ffmpeg-behind-key"
	args := []string{"--addr", "127.0.0.1:0", "--rtmp-addr", "127.0.0.1:0", "--admin-password", "adminpassword",
		"--recording", "--stream-key", key, "--ffmpeg-path", wrapper, "--recording-min-free-bytes", "0"}
	args = append(args, noFixedPorts...)
	n := startNode(t, dir, args...)
	base := "http://" + n.http
	b, _ := json.Marshal(map[string]any{"value": []map[string]any{{"videoPassthrough": true, "audioPassthrough": true}}})
	req, _ := http.NewRequest("POST", base+"/api/admin/config/video/streamoutputvariants", bytes.NewReader(b))
	req.SetBasicAuth("admin", "adminpassword")
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("variants: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	pub := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=160x90:rate=25", "-f", "lavfi", "-i", "sine=frequency=400:sample_rate=44100",
		"-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "32k", "-f", "flv", "rtmp://"+n.rtmp+"/live/"+key)
	if out, err := pub.CombinedOutput(); err != nil {
		t.Fatalf("publish: %v %s", err, out)
	}
	var download string
	waitUntil(t, "the recording finished", n, func() bool {
		res, err := http.Get(base + "/api/recordings?stage=default")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var l []struct {
			Recording   bool
			DownloadURL string
		}
		if json.NewDecoder(res.Body).Decode(&l) != nil || len(l) != 1 || l[0].Recording || l[0].DownloadURL == "" {
			return false
		}
		download = l[0].DownloadURL
		return true
	})
	go func() {
		if res, err := http.Get(base + download); err == nil {
			res.Body.Close()
		}
	}()
	var pid int
	waitUntil(t, "the remux started", n, func() bool {
		b, err := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if err := n.cmd.Process.Kill(); err != nil { // SIGKILL: no shutdown
		t.Fatal(err)
	}
	_ = n.cmd.Wait()
	// Gone, or a zombie its new parent has not reaped yet.
	gone := func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		return len(f) > 0 && f[0] == "Z"
	}
	deadline := time.Now().Add(5 * time.Second)
	for !gone() {
		if time.Now().After(deadline) {
			t.Fatalf("the remux's ffmpeg (pid %d) still runs after hearth was killed", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
