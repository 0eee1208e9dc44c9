package hearthapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/hls"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/openapitest"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/hearthapi"
)

// gate: one public stage "main" (id "stage-main"); the token "admin"
// manages it, "user" views it.
type gate struct{}

func (gate) Stage(_ context.Context, ref string) (string, error) {
	if ref != "main" {
		return "", fault.New(fault.NotFound, "stage not found")
	}
	return "stage-main", nil
}

func (gate) Access(_ context.Context, id string, admin bool, stage string) (hearthapi.Access, error) {
	return hearthapi.Access{View: true, Manage: admin}, nil
}

func (gate) BoundStage(_ context.Context, ref string) (string, bool, error) { return ref, false, nil }

func (gate) PostClip(context.Context, string, *recording.Clip, string) error { return nil }

func (gate) UnpostClip(context.Context, *recording.Clip, string) error { return nil }

func (gate) Chat(_ context.Context, _ string, from, _ time.Time, _ int) ([]hearthapi.ChatMessage, error) {
	return []hearthapi.ChatMessage{{ID: "m1", AuthorName: "alice", Body: "hi", At: from.Add(time.Second)}}, nil
}

func newAPI(t *testing.T) (*httptest.Server, *recording.Service) {
	t.Helper()
	db := storetest.OpenSQLite(t)
	rs, err := recording.New(recording.Config{Dir: t.TempDir(), DefaultEnabled: true, FFmpeg: func() string { return "false" }}, db.Recordings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	api, err := hearthapi.New(hearthapi.Deps{Recordings: rs, Gate: gate{}, Auth: func(_ context.Context, tok string) (string, bool, error) {
		switch tok {
		case "admin":
			return "acc-admin", true, nil
		case "user":
			return "acc-user", false, nil
		}
		return "", false, fault.New(fault.Unauthorized, "bad token")
	}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, rs
}

// record makes a finished two-segment recording on stage-main through the
// recorder interface live uses.
func record(t *testing.T, rs *recording.Service) string {
	t.Helper()
	sink := rs.BroadcastStarted("stage-main", "b1", "Night", time.Now())
	if sink == nil {
		t.Fatal("not recording")
	}
	src := filepath.Join(t.TempDir(), "live.ts")
	for i := range 2 {
		pkt := bytes.Repeat([]byte{0x47, 0, 0, 0x10}, 47) // 188 bytes
		if err := os.WriteFile(src, bytes.Repeat(pkt, 10+i), 0o600); err != nil {
			t.Fatal(err)
		}
		sink.Segment(src, hls.Segment{Duration: 2 * time.Second})
	}
	sink.End(time.Now())
	list, _ := rs.List(context.Background(), "stage-main")
	if len(list) == 0 {
		t.Fatal("no recording")
	}
	return list[0].ID
}

// TestOpenAPI: the routes registered and api/hearth.yaml agree, and a flow
// through every operation that needs no ffmpeg is valid against the spec.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	doc := openapitest.Load(t, "hearth.yaml")
	notInSpec, notServed := openapitest.Diff(openapitest.SourceRoutes(t, nil), openapitest.Operations(doc))
	for _, r := range notInSpec {
		t.Errorf("route %s is registered but not in api/hearth.yaml", r)
	}
	for _, r := range notServed {
		t.Errorf("api/hearth.yaml has %s but the surface does not register it", r)
	}
	srv, rs := newAPI(t)
	second := record(t, rs)
	id := record(t, rs)
	client := openapitest.NewTransport(t, doc, http.DefaultTransport).Client()
	do := func(method, path, token string, body any, want int) []byte {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if want == 400 || want == 401 { // deliberately bad requests: check only the answer
			req.Header.Set(openapitest.SkipRequestHeader, "1")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Errorf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, b)
		}
		return b
	}
	do("GET", "/api/recordings?stage=main", "", nil, 200)
	do("GET", "/api/recordings?stage=other", "", nil, 404)
	do("GET", "/api/recordings/"+id, "user", nil, 200)
	var chat []struct{ OffsetSeconds float64 }
	if err := json.Unmarshal(do("GET", "/api/recordings/"+id+"/chat", "", nil, 200), &chat); err != nil || len(chat) != 1 || chat[0].OffsetSeconds != 1 {
		t.Errorf("chat: %+v %v", chat, err)
	}
	do("GET", "/api/recordings/0190c4e0-0000-7000-8000-000000000000", "", nil, 404)
	do("PATCH", "/api/recordings/"+id, "user", map[string]any{"title": "x"}, 403)
	do("PATCH", "/api/recordings/"+id, "", map[string]any{"title": "x"}, 401)
	var got struct{ Title string }
	if err := json.Unmarshal(do("PATCH", "/api/recordings/"+id, "admin", map[string]any{"title": "Renamed", "pinned": true}, 200), &got); err != nil || got.Title != "Renamed" {
		t.Errorf("rename: %+v %v", got, err)
	}
	pl := do("GET", "/api/recordings/"+id+"/hls/index.m3u8", "", nil, 200)
	if !bytes.Contains(pl, []byte("#EXT-X-PLAYLIST-TYPE:VOD")) || !bytes.HasSuffix(pl, []byte("#EXT-X-ENDLIST\n")) {
		t.Errorf("playlist: %s", pl)
	}
	do("GET", "/api/recordings/"+id+"/hls/seg-00001.ts", "", nil, 200)
	do("GET", "/api/recordings/"+id+"/hls/seg-00009.ts", "", nil, 404)
	do("GET", "/api/recordings/"+id+"/hls/stream.m3u8", "", nil, 404)
	do("GET", "/api/recordings/"+id+"/peer/index.m3u8?exp=1&sig=00", "", nil, 403) // the nodes' route, unsigned
	do("POST", "/api/recordings/"+id+"/clips", "", map[string]any{"start": 0, "end": 1}, 401)
	do("GET", "/api/clips?stage=main", "", nil, 200)
	do("POST", "/api/clips", "user", map[string]any{"stage": "main", "seconds": 5}, 400) // not live
	do("POST", "/api/clips", "", map[string]any{"stage": "main", "seconds": 5}, 401)
	do("POST", "/api/clips", "user", map[string]any{"stage": "nope", "seconds": 5}, 404)
	do("GET", "/api/clips/0190c4e0-0000-7000-8000-000000000000", "", nil, 404)
	do("DELETE", "/api/clips/0190c4e0-0000-7000-8000-000000000000", "admin", nil, 404)
	do("GET", "/api/recording-settings/main", "user", nil, 403)
	do("GET", "/api/recording-usage", "user", nil, 403)
	do("GET", "/api/recording-usage", "", nil, 401)
	var use struct {
		Recordings int
		UsedBytes  int64
	}
	if err := json.Unmarshal(do("GET", "/api/recording-usage", "admin", nil, 200), &use); err != nil || use.Recordings != 2 || use.UsedBytes == 0 {
		t.Errorf("usage: %+v %v", use, err)
	}
	do("PUT", "/api/recording-settings/main", "admin", map[string]any{"enabled": false, "maxCount": 3}, 200)
	do("PUT", "/api/recording-settings/main", "admin", map[string]any{"maxCount": -1}, 400)
	var set struct {
		Recording bool
		MaxCount  int
	}
	if err := json.Unmarshal(do("GET", "/api/recording-settings/main", "admin", nil, 200), &set); err != nil || set.Recording || set.MaxCount != 3 {
		t.Errorf("settings: %+v %v", set, err)
	}
	do("DELETE", "/api/recordings/"+id, "user", nil, 403)
	do("DELETE", "/api/recordings/"+id, "admin", nil, 204)
	do("GET", "/api/recordings/"+id, "", nil, 404)
	// Range requests on segments (not validated: 206 bodies are binary).
	id = second
	req, _ := http.NewRequest("GET", srv.URL+"/api/recordings/"+id+"/hls/seg-00000.ts", nil)
	req.Header.Set("Range", "bytes=188-375")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 206 || len(b) != 188 || b[0] != 0x47 {
		t.Fatalf("range: %d %d bytes", res.StatusCode, len(b))
	}
}

// fakeLive answers WHIP/WHEP offers without a media plane.
type fakeLive struct{}

func (fakeLive) WHIP(_ context.Context, stage, key, offer, _ string) (*live.Session, error) {
	switch {
	case key != "key":
		return nil, fault.New(fault.Unauthorized, "invalid stream key")
	case offer == "busy":
		return nil, fault.New(fault.Conflict, "a stream is already live on this stage")
	}
	return &live.Session{ID: "s1", Answer: "v=0\r\n"}, nil
}

func (fakeLive) WHEP(_ context.Context, stage, offer, _, _, _, _ string) (*live.Session, error) {
	if offer == "offline" {
		return nil, fault.New(fault.NotFound, "this stage is not live")
	}
	return &live.Session{ID: "s2", Answer: "v=0\r\n"}, nil
}

func (fakeLive) RefuseKey(string) error { return fault.New(fault.Unauthorized, "invalid stream key") }

func (fakeLive) EndSession(stage, id string) error {
	if id != "s1" && id != "s2" {
		return fault.New(fault.NotFound, "no such session")
	}
	return nil
}

// TestOpenAPIWebRTC: the WHIP/WHEP routes answer as api/hearth.yaml says
// (status codes, Location, application/sdp bodies, the error shape).
func TestOpenAPIWebRTC(t *testing.T) {
	t.Parallel()
	doc := openapitest.Load(t, "hearth.yaml")
	api, err := hearthapi.NewLive(hearthapi.LiveDeps{Live: fakeLive{}, Gate: gate{}, Auth: func(context.Context, string) (string, bool, error) {
		return "", false, fault.New(fault.Unauthorized, "bad token")
	}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := openapitest.NewTransport(t, doc, http.DefaultTransport).Client()
	for _, c := range []struct {
		method, path, token, ctype, body string
		want                             int
		location                         string
	}{
		{"OPTIONS", "/api/whip/main", "", "", "", 204, ""},
		{"POST", "/api/whip/main", "key", "application/sdp", "v=0", 201, "/api/whip/main/s1"},
		{"POST", "/api/whip/main", "bad", "application/sdp", "v=0", 401, ""},
		{"POST", "/api/whip/main", "key", "application/sdp", "busy", 409, ""},
		{"POST", "/api/whip/nope", "key", "application/sdp", "v=0", 401, ""}, // a key for no stage is a wrong key
		{"POST", "/api/whip/main", "key", "text/plain", "v=0", 415, ""},
		{"PATCH", "/api/whip/main/s1", "", "application/trickle-ice-sdpfrag", "a=x", 405, ""},
		{"DELETE", "/api/whip/main/s1", "", "", "", 200, ""},
		{"DELETE", "/api/whip/main/s9", "", "", "", 404, ""},
		{"POST", "/api/whep/main", "", "application/sdp", "v=0", 201, "/api/whep/main/s2"},
		{"POST", "/api/whep/main", "", "application/sdp", "offline", 404, ""},
		{"POST", "/api/whep/main", "garbage", "application/sdp", "v=0", 401, ""},
		{"DELETE", "/api/whep/main/s2", "", "", "", 200, ""},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		if c.want == 401 || c.want == 415 {
			req.Header.Set(openapitest.SkipRequestHeader, "1")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.want || res.Header.Get("Location") != c.location {
			t.Errorf("%s %s: %d %q %s, want %d %q", c.method, c.path, res.StatusCode, res.Header.Get("Location"), b, c.want, c.location)
		}
	}
}
