package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestPrivateStageAnswersAsUnknown: a stage channel's recording, clip and
// stage answer whoever may not see them (no token, a stranger, a banned
// member, a member an override hides the channel from) exactly as an id
// that does not exist: the same status and body, on every recordings, clips,
// settings, WHEP, WHIP and stage status and key route. A member who may see them gets them, so the
// comparison is not between two refusals of everyone.
func TestPrivateStageAnswersAsUnknown(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		rtc  bool
	}{{"sqlite+local", false}, {"sqlite+local+rtc", true}, {"postgres+nats", true}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			if c.name == "postgres+nats" {
				cfg.Database = storetest.PostgresDSN(t)
				if u := natsURL(); u != "" {
					cfg.Bus = u
				}
			}
			if c.rtc {
				cfg.RTCUDPAddr = "127.0.0.1:0"
			}
			privateStageAnswersAsUnknown(t, cfg)
		})
	}
}

func privateStageAnswersAsUnknown(t *testing.T, cfg config.Config) {
	a, _ := start(t, cfg, nil)
	base := a.HTTP.URL()
	ann, bob, eve, hid, ban := register(t, base, "ann"), register(t, base, "bob"), register(t, base, "eve"),
		register(t, base, "hid"), register(t, base, "ban")
	sid := newServer(t, base, ann.AccessToken)
	for _, u := range []login{bob, hid, ban} {
		if code := call(t, "POST", base+"/servers/"+sid+"/join", u.AccessToken, nil, nil); code != 200 && code != 201 {
			t.Fatalf("join: %d", code)
		}
	}
	var stage struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", ann.AccessToken, map[string]string{"name": "Stage", "type": "stage"}, &stage); code != 201 {
		t.Fatalf("stage channel: %d", code)
	}
	if code := call(t, "PUT", base+"/channels/"+stage.ID+"/overrides", ann.AccessToken, map[string]any{"user_id": hid.User.ID, "allow": 0, "deny": 1}, nil); code != 200 {
		t.Fatalf("override: %d", code)
	}
	if code := call(t, "POST", base+"/servers/"+sid+"/members/"+ban.User.ID+"/ban", ann.AccessToken, map[string]any{}, nil); code != 204 {
		t.Fatalf("ban: %d", code)
	}

	// A recording and a clip of the stage, as the recorder leaves them.
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	end := now.Add(10 * time.Second)
	rec := &recording.Recording{ID: identity.NewID(), StageID: stage.ID, Title: "r", StartedAt: now, EndedAt: &end,
		Duration: 10 * time.Second, NodeID: "gone"}
	if err := a.DB.Recordings().CreateRecording(ctx, rec); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cfg.DataDir, "recordings", rec.ID)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, recording.PlaylistName), []byte("#EXTM3U\n#EXT-X-ENDLIST\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	clip := &recording.Clip{ID: identity.NewID(), StageID: stage.ID, RecordingID: rec.ID, Title: "c", Duration: 2 * time.Second,
		Size: 4, CreatedBy: ann.User.ID, CreatedAt: now}
	if err := a.DB.Recordings().CreateClip(ctx, clip); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "recordings", "clips", clip.ID+".mp4"), []byte("mp4!"), 0o640); err != nil {
		t.Fatal(err)
	}

	do := func(method, path, auth, ct string, body []byte) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	js := func(v any) []byte { b, _ := json.Marshal(v); return b }
	type route struct {
		name, method, path, ct string
		body                   []byte
	}
	routes := func(recID, clipID, stageID string) []route {
		r, c := "/api/recordings/"+recID, "/api/clips/"+clipID
		const j = "application/json"
		return []route{
			{"get recording", "GET", r, "", nil},
			{"playlist", "GET", r + "/hls/" + recording.PlaylistName, "", nil},
			{"download", "GET", r + "/download", "", nil},
			{"download url", "GET", r + "/download-url", "", nil},
			{"chat", "GET", r + "/chat", "", nil},
			{"rename", "PATCH", r, j, js(map[string]any{"title": "x"})},
			{"delete recording", "DELETE", r, "", nil},
			{"clip a recording", "POST", r + "/clips", j, js(map[string]any{"start": 0, "end": 1})},
			{"get clip", "GET", c, "", nil},
			{"clip file", "GET", c + "/file", "", nil},
			{"clip file url", "GET", c + "/file-url", "", nil},
			{"delete clip", "DELETE", c, "", nil},
			{"list recordings", "GET", "/api/recordings?stage=" + stageID, "", nil},
			{"list clips", "GET", "/api/clips?stage=" + stageID, "", nil},
			{"settings", "GET", "/api/recording-settings/" + stageID, "", nil},
			{"put settings", "PUT", "/api/recording-settings/" + stageID, j, js(map[string]any{"maxCount": 1})},
			{"live clip", "POST", "/api/clips", j, js(map[string]any{"stage": stageID, "seconds": 5})},
			{"whep", "POST", "/api/whep/" + stageID, "application/sdp", []byte("v=0\r\n")},
			{"stage status", "GET", "/api/stages/" + stageID + "/status", "", nil},
			{"stage key", "GET", "/api/stages/" + stageID + "/key", "", nil},
			{"new stage key", "POST", "/api/stages/" + stageID + "/key", "", nil},
		}
	}
	real, unknown := routes(rec.ID, clip.ID, stage.ID), routes(identity.NewID(), identity.NewID(), identity.NewID())
	principals := []struct{ name, auth string }{
		{"no token", ""}, {"forged token", "Bearer forged"}, {"stranger", "Bearer " + eve.AccessToken},
		{"banned member", "Bearer " + ban.AccessToken}, {"member the channel is hidden from", "Bearer " + hid.AccessToken},
	}
	for i := range real {
		for _, p := range principals {
			rc, rb := do(real[i].method, real[i].path, p.auth, real[i].ct, real[i].body)
			uc, ub := do(unknown[i].method, unknown[i].path, p.auth, unknown[i].ct, unknown[i].body)
			if rc != uc || rb != ub {
				t.Errorf("%s, %s: existing %d %s, unknown %d %s", real[i].name, p.name, rc, rb, uc, ub)
			}
			if rc < 400 || rc >= 500 {
				t.Errorf("%s, %s: %d %s", real[i].name, p.name, rc, rb)
			}
		}
	}
	// WHIP: a wrong key for the stage and a key for a stage that is not
	// there get one answer.
	for _, auth := range []string{"", "Bearer wrong-key"} {
		rc, rb := do("POST", "/api/whip/"+stage.ID, auth, "application/sdp", []byte("v=0\r\n"))
		uc, ub := do("POST", "/api/whip/"+identity.NewID(), auth, "application/sdp", []byte("v=0\r\n"))
		if rc != uc || rb != ub || (rc != 401 && rc != 503) {
			t.Errorf("whip %q: existing %d %s, unknown %d %s", auth, rc, rb, uc, ub)
		}
	}
	// A viewer sees them.
	for _, path := range []string{"/api/recordings/" + rec.ID, "/api/clips/" + clip.ID, "/api/recordings?stage=" + stage.ID} {
		if code, body := do("GET", path, "Bearer "+bob.AccessToken, "", nil); code != 200 {
			t.Errorf("viewer %s: %d %s", path, code, body)
		}
	}
}
