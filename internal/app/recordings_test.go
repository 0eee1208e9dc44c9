package app_test

import (
	"context"
	"maps"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/live"
)

// TestRecordingsAPI: a broadcast on a stage channel of an instance that
// records becomes a recording its viewers list and play (playlist, range
// requests on segments, MP4 download) and outsiders cannot see; a member
// clips it and the clip is posted in the channel (deleting the clip
// edits that message); only its manager edits and deletes it.
func TestRecordingsAPI(t *testing.T) {
	t.Parallel()
	for _, b := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skip(b + " not installed (.ci/run installs it)")
		}
	}
	cfg := testConfig(t)
	cfg.RTMPAddr = "127.0.0.1:0" // the advertised RTMP URL names the bound port
	cfg.FFmpegPath = "ffmpeg"
	cfg.Recording = true
	cfg.RecordingMaxClip = 30 * time.Second
	a, _ := start(t, cfg, nil)
	base := a.HTTP.URL()
	alice, bob, eve := register(t, base, "alice"), register(t, base, "bob"), register(t, base, "eve")
	sid := newServer(t, base, alice.AccessToken)
	if code := call(t, "POST", base+"/servers/"+sid+"/join", bob.AccessToken, nil, nil); code != 200 && code != 201 {
		t.Fatalf("join: %d", code)
	}
	var ch struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", alice.AccessToken, map[string]string{"name": "Concerts", "type": "stage"}, &ch); code != 201 {
		t.Fatalf("create stage channel: %d", code)
	}
	var key struct{ RTMPURL, StreamKey string }
	if code := call(t, "GET", base+"/api/stages/"+ch.ID+"/key", alice.AccessToken, nil, &key); code != 200 {
		t.Fatalf("key: %d", code)
	}
	ctx := context.Background()
	if err := a.Live.SetVariants(ctx, ch.ID, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}); err != nil {
		t.Fatal(err)
	}
	if err := a.Live.SetLatencyLevel(ctx, ch.ID, 0); err != nil {
		t.Fatal(err)
	}
	const secs = 8
	pub := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=160x90:rate=25", "-f", "lavfi", "-i", "sine=frequency=400:sample_rate=44100",
		"-t", strconv.Itoa(secs), "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "32k", "-f", "flv", key.RTMPURL+"/"+key.StreamKey)
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	// A message during the broadcast is replayed with the recording.
	var st stageStatus
	poll(t, "the stage online", 30*time.Second, func() bool {
		return call(t, "GET", base+"/api/stages/"+ch.ID+"/status", bob.AccessToken, nil, &st) == 200 && st.Online
	})
	if code := call(t, "POST", base+"/channels/"+ch.ID+"/messages", bob.AccessToken, map[string]string{"content": "what a riff"}, nil); code != 201 && code != 200 {
		t.Fatalf("message: %d", code)
	}
	if err := pub.Wait(); err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	type rec struct {
		ID              string
		Title           string
		Recording       bool
		DurationSeconds float64
		PlaylistURL     string
		DownloadURL     string
	}
	var list []rec
	poll(t, "the recording", 60*time.Second, func() bool {
		return call(t, "GET", base+"/api/recordings?stage="+ch.ID, bob.AccessToken, nil, &list) == 200 && len(list) == 1 && !list[0].Recording
	})
	r := list[0]
	if math.Abs(r.DurationSeconds-secs) > 1.5 {
		t.Fatalf("recording: %+v", r)
	}
	for _, c := range []struct {
		name, method, url, token string
		body                     any
		want                     int
	}{
		{"anonymous list", "GET", "/api/recordings?stage=" + ch.ID, "", nil, 404},
		{"outsider list", "GET", "/api/recordings?stage=" + ch.ID, eve.AccessToken, nil, 404},
		{"outsider get", "GET", "/api/recordings/" + r.ID, eve.AccessToken, nil, 404},
		{"no stage", "GET", "/api/recordings", bob.AccessToken, nil, 400},
		{"unknown stage", "GET", "/api/recordings?stage=nope", bob.AccessToken, nil, 404},
		{"not a uuid", "GET", "/api/recordings/..%2f..", bob.AccessToken, nil, 404},
		{"garbage token", "GET", "/api/recordings/" + r.ID, "nope", nil, 401},
		{"member renames", "PATCH", "/api/recordings/" + r.ID, bob.AccessToken, map[string]any{"title": "x"}, 403},
		{"bad body", "PATCH", "/api/recordings/" + r.ID, alice.AccessToken, map[string]any{"nope": 1}, 400},
		{"owner renames", "PATCH", "/api/recordings/" + r.ID, alice.AccessToken, map[string]any{"title": "Night one", "pinned": true}, 200},
		{"bad file", "GET", "/api/recordings/" + r.ID + "/hls/..%2fhearth.db", bob.AccessToken, nil, 404},
		{"clip too long", "POST", "/api/recordings/" + r.ID + "/clips", bob.AccessToken, map[string]any{"start": 0, "end": 31}, 400},
		{"clip without end", "POST", "/api/recordings/" + r.ID + "/clips", bob.AccessToken, map[string]any{"start": 0}, 400},
		{"member settings", "PUT", "/api/recording-settings/" + ch.ID, bob.AccessToken, map[string]any{"maxCount": 1}, 403},
		{"owner settings", "PUT", "/api/recording-settings/" + ch.ID, alice.AccessToken, map[string]any{"maxCount": 5, "enabled": true}, 200},
		{"default stage list", "GET", "/api/recordings?stage=default", "", nil, 200},
		{"default settings by a user", "GET", "/api/recording-settings/default", bob.AccessToken, nil, 403},
	} {
		if code := call(t, c.method, base+c.url, c.token, c.body, nil); code != c.want {
			t.Errorf("%s: %d, want %d", c.name, code, c.want)
		}
	}
	// The playlist and a segment, with a range request.
	fetch := func(url string, hdr map[string]string) (*http.Response, []byte) {
		h := map[string]string{"Authorization": "Bearer " + bob.AccessToken}
		maps.Copy(h, hdr)
		return getWith(t, base+url, h)
	}
	res, pl := fetch(r.PlaylistURL, nil)
	if res.StatusCode != 200 || !strings.Contains(string(pl), "#EXT-X-PLAYLIST-TYPE:VOD") || !strings.Contains(string(pl), "#EXT-X-ENDLIST") {
		t.Fatalf("playlist: %d %s", res.StatusCode, pl)
	}
	seg := "/api/recordings/" + r.ID + "/hls/seg-00000.ts"
	if res, b := fetch(seg, map[string]string{"Range": "bytes=0-187"}); res.StatusCode != 206 || len(b) != 188 || b[0] != 0x47 {
		t.Fatalf("range: %d %d bytes", res.StatusCode, len(b))
	}
	res, mp4 := fetch(r.DownloadURL, nil)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("download: %d %v", res.StatusCode, res.Header)
	}
	f := filepath.Join(t.TempDir(), "d.mp4")
	if err := os.WriteFile(f, mp4, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", f).Output()
	if d, _ := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err != nil || math.Abs(d-secs) > 1.5 {
		t.Fatalf("download duration %q %v", out, err)
	}
	var chat []struct {
		AuthorName    string
		Body          string
		OffsetSeconds float64
	}
	if code := call(t, "GET", base+"/api/recordings/"+r.ID+"/chat", bob.AccessToken, nil, &chat); code != 200 || len(chat) != 1 ||
		chat[0].Body != "what a riff" || chat[0].AuthorName != "bob" || chat[0].OffsetSeconds < 0 || chat[0].OffsetSeconds > secs+1 {
		t.Fatalf("replayed chat: %d %+v", code, chat)
	}
	if code := call(t, "GET", base+"/api/recordings/"+r.ID+"/chat", eve.AccessToken, nil, nil); code != 404 {
		t.Fatalf("outsider chat: %d", code)
	}
	// A member's clip is posted in the channel.
	var clip struct{ ID, URL string }
	if code := call(t, "POST", base+"/api/recordings/"+r.ID+"/clips", bob.AccessToken, map[string]any{"start": 2, "end": 5, "title": "the drop"}, &clip); code != 201 {
		t.Fatalf("clip: %d", code)
	}
	if res, b := fetch(clip.URL, nil); res.StatusCode != 200 || len(b) == 0 {
		t.Fatalf("clip file: %d", res.StatusCode)
	}
	var msgs []struct{ ID, Content string }
	var announced, body string
	poll(t, "the clip message", 10*time.Second, func() bool {
		call(t, "GET", base+"/channels/"+ch.ID+"/messages", bob.AccessToken, nil, &msgs)
		for _, m := range msgs {
			if strings.Contains(m.Content, clip.URL) && strings.Contains(m.Content, "the drop") {
				announced, body = m.ID, m.Content
				return true
			}
		}
		return false
	})
	// The clip keeps the message that announced it: deleting the clip
	// edits that one, not bob's message pasting the same link.
	if c, err := a.Recordings.GetClip(ctx, clip.ID); err != nil || c.MessageID != announced {
		t.Fatalf("the clip's message: %+v %v, want %s", c, err, announced)
	}
	var pasted struct{ ID string }
	if code := call(t, "POST", base+"/channels/"+ch.ID+"/messages", bob.AccessToken, map[string]string{"content": "again: " + clip.URL}, &pasted); code != 201 {
		t.Fatalf("post: %d", code)
	}
	if code := call(t, "DELETE", base+"/api/clips/"+clip.ID, bob.AccessToken, nil, nil); code != 204 {
		t.Fatalf("delete clip: %d", code)
	}
	for id, want := range map[string]string{announced: strings.ReplaceAll(body, clip.URL, "(clip deleted)"), pasted.ID: "again: " + clip.URL} {
		var m struct{ Content string }
		if code := call(t, "GET", base+"/channels/"+ch.ID+"/messages/"+id, bob.AccessToken, nil, &m); code != 200 || m.Content != want {
			t.Fatalf("message %s after the clip's delete: %d %q, want %q", id, code, m.Content, want)
		}
	}
	if code := call(t, "DELETE", base+"/api/recordings/"+r.ID, bob.AccessToken, nil, nil); code != 403 {
		t.Fatalf("member delete: %d", code)
	}
	if code := call(t, "DELETE", base+"/api/recordings/"+r.ID, alice.AccessToken, nil, nil); code != 204 {
		t.Fatalf("owner delete: %d", code)
	}
	if code := call(t, "GET", base+"/api/recordings/"+r.ID, alice.AccessToken, nil, nil); code != 404 {
		t.Fatalf("after delete: %d", code)
	}
}
