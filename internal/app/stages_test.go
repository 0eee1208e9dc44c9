package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/live"
)

type login struct {
	AccessToken string `json:"access_token"`
	User        struct{ ID string }
}

func register(t *testing.T, base, name string) login {
	t.Helper()
	var l login
	if code := call(t, "POST", base+"/auth/register", "", map[string]string{"username": name, "password": "password1"}, &l); code != 201 {
		t.Fatalf("register %s: %d", name, code)
	}
	return l
}

func adminLogin(t *testing.T, base string) login {
	t.Helper()
	var l login
	if code := call(t, "POST", base+"/auth/login", "", map[string]string{"username": "admin", "password": "adminpassword"}, &l); code != 200 {
		t.Fatalf("admin login: %d", code)
	}
	return l
}

// newServer creates a public server and a channel of kind in it.
func newServer(t *testing.T, base, token string) string {
	t.Helper()
	var srv struct{ ID string }
	if code := call(t, "POST", base+"/servers", token, map[string]any{"name": "Stages", "is_public": true}, &srv); code != 201 {
		t.Fatalf("create server: %d", code)
	}
	return srv.ID
}

func get(t *testing.T, url string) (int, http.Header, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// getWith GETs url with the request headers hdr and returns the answer
// (its body read).
func getWith(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// poll retries an external process's state (ffmpeg, the transcoder) until
// ok or the deadline.
func poll(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(max(d, hangGuard)) // d is the usual time; only a hang fails
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type stageStatus struct {
	StageID string `json:"stageId"`
	Default bool   `json:"default"`
	Online  bool   `json:"online"`
	HLSURL  string `json:"hlsUrl"`
}

// TestStageChannelHasItsOwnStage: a community stage channel is backed by a
// stage of its id. Its manager reads and rotates its stream key; ffmpeg
// publishing with that key makes that stage live (not the default one); a
// member plays its HLS through the signed URL; outsiders and bad tokens
// are refused; deleting the channel ends the stream and removes the stage.
func TestStageChannelHasItsOwnStage(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed (.ci/run installs it)")
	}
	cfg := testConfig(t)
	cfg.RTMPAddr = "127.0.0.1:0"
	cfg.FFmpegPath = "ffmpeg"
	a, _ := start(t, cfg, nil)
	port := a.RTMPAddr().(*net.TCPAddr).Port
	base := a.HTTP.URL()
	alice, bob, eve := register(t, base, "alice"), register(t, base, "bob"), register(t, base, "eve")
	sid := newServer(t, base, alice.AccessToken)
	if code := call(t, "POST", base+"/servers/"+sid+"/join", bob.AccessToken, nil, nil); code != 200 && code != 201 {
		t.Fatalf("join: %d", code)
	}
	var ch, text struct{ ID, Type string }
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", alice.AccessToken, map[string]string{"name": "Concerts", "type": "stage"}, &ch); code != 201 || ch.Type != "stage" {
		t.Fatalf("create stage channel: %d %+v", code, ch)
	}
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", alice.AccessToken, map[string]string{"name": "general", "type": "text"}, &text); code != 201 {
		t.Fatalf("create text channel: %d", code)
	}
	// A non-admin cannot bind a channel to the default stage.
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", alice.AccessToken, map[string]string{"name": "x", "type": "stage", "stage_id": "default"}, nil); code != 403 {
		t.Fatalf("stage_id by a non-admin: %d", code)
	}

	api := base + "/api/stages/" + ch.ID
	for _, c := range []struct {
		name, method, url, token string
		want                     int
	}{
		{"no token", "GET", api + "/status", "", 401},
		{"garbage token", "GET", api + "/status", "nope", 401},
		{"outsider status", "GET", api + "/status", eve.AccessToken, 404},
		{"outsider key", "GET", api + "/key", eve.AccessToken, 404},
		{"member key", "GET", api + "/key", bob.AccessToken, 403},
		{"member rotates", "POST", api + "/key", bob.AccessToken, 403},
		{"text channel", "GET", base + "/api/stages/" + text.ID + "/status", alice.AccessToken, 404},
		{"not a uuid", "GET", base + "/api/stages/..%2f/status", alice.AccessToken, 404},
		{"member status", "GET", api + "/status", bob.AccessToken, 200},
	} {
		if code := call(t, c.method, c.url, c.token, nil, nil); code != c.want {
			t.Errorf("%s: %d, want %d", c.name, code, c.want)
		}
	}

	var key, rotated struct{ StageID, RTMPURL, StreamKey string }
	if code := call(t, "GET", api+"/key", alice.AccessToken, nil, &key); code != 200 || key.StageID != ch.ID || len(key.StreamKey) < 20 {
		t.Fatalf("key: %d %+v", code, key)
	}
	if key.RTMPURL != "rtmp://127.0.0.1:"+strconv.Itoa(port)+"/live" {
		t.Fatalf("rtmp url %q", key.RTMPURL)
	}
	if code := call(t, "POST", api+"/key", alice.AccessToken, nil, &rotated); code != 200 || rotated.StreamKey == key.StreamKey || rotated.StreamKey == "" {
		t.Fatalf("rotate: %d %+v", code, rotated)
	}
	ctx := context.Background()
	if err := a.Live.SetVariants(ctx, ch.ID, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}); err != nil {
		t.Fatal(err)
	}
	// The old key no longer publishes; the new one reaches this stage.
	old := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "quiet", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "1",
		"-c:v", "libx264", "-preset", "ultrafast", "-f", "flv", key.RTMPURL+"/"+key.StreamKey)
	if err := old.Run(); err == nil {
		t.Fatal("publishing with the rotated-out key succeeded")
	}
	pub := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=400:sample_rate=44100",
		"-t", "60", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "64k", "-f", "flv", rotated.RTMPURL+"/"+rotated.StreamKey)
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = pub.Wait(); close(exited) }()
	t.Cleanup(func() { _ = pub.Process.Kill(); <-exited })

	var st stageStatus
	poll(t, "the stage channel online", 30*time.Second, func() bool {
		return call(t, "GET", api+"/status", bob.AccessToken, nil, &st) == 200 && st.Online
	})
	if st.StageID != ch.ID || st.Default || !strings.HasPrefix(st.HLSURL, "/stages/"+ch.ID+"/hls/") {
		t.Fatalf("status: %+v", st)
	}
	var def struct{ Online bool }
	if call(t, "GET", base+"/api/status", "", nil, &def); def.Online {
		t.Fatal("the default stage went online")
	}
	// A member plays the stage through the signed URL (no header).
	var media string
	poll(t, "a segment in the playlist", 30*time.Second, func() bool {
		code, _, body := get(t, base+strings.TrimSuffix(st.HLSURL, "stream.m3u8")+"0/stream.m3u8")
		if code != 200 {
			return false
		}
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasSuffix(l, ".ts") && !strings.Contains(l, "offline") {
				media = l
				return true
			}
		}
		return false
	})
	if code, _, body := get(t, base+st.HLSURL); code != 200 || !strings.HasPrefix(string(body), "#EXTM3U") {
		t.Fatalf("master: %d %s", code, body)
	}
	if code, hdr, body := get(t, base+strings.TrimSuffix(st.HLSURL, "stream.m3u8")+"0/"+media); code != 200 || hdr.Get("Content-Type") != "video/mp2t" || len(body) == 0 {
		t.Fatalf("segment %s: %d %v", media, code, hdr)
	}
	token := strings.Split(st.HLSURL, "/")[4]
	for _, bad := range []string{
		base + "/stages/" + ch.ID + "/hls/" + token[:len(token)-2] + "AA/stream.m3u8", // forged
		base + "/stages/" + text.ID + "/hls/" + token + "/stream.m3u8",                // another channel
		base + "/stages/" + ch.ID + "/hls/not-a-token/stream.m3u8",                    // garbage
	} {
		if code, _, _ := get(t, bad); code != 403 && code != 400 {
			t.Errorf("%s: %d", bad, code)
		}
	}
	// The default stage's HLS stays offline.
	if _, _, body := get(t, base+"/hls/0/stream.m3u8"); !strings.Contains(string(body), "offline") {
		t.Fatalf("default stage playlist: %s", body)
	}

	// Deleting the channel ends the broadcast and removes the stage.
	if code := call(t, "DELETE", base+"/servers/"+sid+"/channels/"+ch.ID, alice.AccessToken, nil, nil); code != 204 {
		t.Fatalf("delete channel: %d", code)
	}
	select {
	case <-exited:
	case <-time.After(hangGuard):
		t.Fatal("the publisher was not disconnected")
	}
	poll(t, "the stage gone", 10*time.Second, func() bool {
		_, err := a.Live.StageSettings(ctx, ch.ID)
		return err != nil
	})
	if code, _, _ := get(t, base+st.HLSURL); code != 404 {
		t.Fatalf("HLS of a deleted stage: %d", code)
	}
}

// socket reads JSON frames from a WebSocket (Together's gateway or
// Owncast's chat, which may batch events on lines).
type socket struct {
	t      *testing.T
	ws     *websocket.Conn
	frames chan map[string]any
}

func dialSocket(t *testing.T, url string) *socket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	ws.SetReadLimit(1 << 20)
	s := &socket{t: t, ws: ws, frames: make(chan map[string]any, 256)}
	go func() {
		defer close(s.frames)
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			for _, line := range strings.Split(string(data), "\n") {
				var f map[string]any
				if json.Unmarshal([]byte(line), &f) == nil {
					s.frames <- f
				}
			}
		}
	}()
	t.Cleanup(func() { ws.CloseNow() })
	return s
}

func (s *socket) send(v any) {
	s.t.Helper()
	b, _ := json.Marshal(v)
	if err := s.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		s.t.Fatal(err)
	}
}

// await returns the first frame that matches, failing when the socket
// closes or nothing matches in time.
func (s *socket) await(what string, match func(map[string]any) bool) map[string]any {
	s.t.Helper()
	timeout := time.After(hangGuard)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				s.t.Fatalf("socket closed waiting for %s", what)
			}
			if match(f) {
				return f
			}
		case <-timeout:
			s.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestStageChannelBoundToDefaultStage: an instance admin binds a stage
// channel to the default stage (stage_id "default"). A message posted
// through Together reaches Owncast's chat socket as CHAT; a message sent
// on Owncast's chat socket reaches the Together gateway as MESSAGE_CREATE
// in that channel; both list in the channel's history; the channel shows
// the default stage. Unbinding gives the channel its own stage and chat.
func TestStageChannelBoundToDefaultStage(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	admin, alice := adminLogin(t, base), register(t, base, "alice")
	sid := newServer(t, base, admin.AccessToken)
	aliceSid := newServer(t, base, alice.AccessToken)
	var ch struct{ ID, Type string }
	for _, c := range []struct {
		name, token, server string
		body                map[string]any
		want                int
	}{
		{"non-admin owner", alice.AccessToken, aliceSid, map[string]any{"name": "s", "type": "stage", "stage_id": "default"}, 403},
		{"unknown stage", admin.AccessToken, sid, map[string]any{"name": "s", "type": "stage", "stage_id": "other"}, 400},
		{"not a string", admin.AccessToken, sid, map[string]any{"name": "s", "type": "stage", "stage_id": 5}, 400},
		{"text channel", admin.AccessToken, sid, map[string]any{"name": "s", "type": "text", "stage_id": "default"}, 400},
		{"stage channel", admin.AccessToken, sid, map[string]any{"name": "Main stage", "type": "stage", "stage_id": "default"}, 201},
	} {
		if code := call(t, "POST", base+"/servers/"+c.server+"/channels", c.token, c.body, &ch); code != c.want {
			t.Fatalf("%s: %d, want %d", c.name, code, c.want)
		}
	}
	var st stageStatus
	if code := call(t, "GET", base+"/api/stages/"+ch.ID+"/status", admin.AccessToken, nil, &st); code != 200 || !st.Default || st.StageID != a.Live.DefaultStageID() {
		t.Fatalf("bound channel status: %d %+v", code, st)
	}

	gw := dialSocket(t, "ws"+strings.TrimPrefix(base, "http")+"/ws?token="+admin.AccessToken)
	gw.await("READY", func(f map[string]any) bool { return f["t"] == "READY" })
	var reg struct{ AccessToken string }
	if code := call(t, "POST", base+"/api/chat/register", "", map[string]string{"displayName": "viewer"}, &reg); code != 200 || reg.AccessToken == "" {
		t.Fatalf("owncast register: %d", code)
	}
	chat := dialSocket(t, "ws"+strings.TrimPrefix(base, "http")+"/ws?accessToken="+reg.AccessToken)

	// Together → Owncast.
	var posted struct {
		ID        string `json:"id"`
		ChannelID string `json:"channel_id"`
	}
	if code := call(t, "POST", base+"/channels/"+ch.ID+"/messages", admin.AccessToken, map[string]string{"content": "hello from **together**"}, &posted); code != 201 || posted.ChannelID != ch.ID {
		t.Fatalf("post: %d %+v", code, posted)
	}
	got := chat.await("CHAT from Together", func(f map[string]any) bool { return f["type"] == "CHAT" && f["id"] == posted.ID })
	if got["body"] != "<p>hello from <strong>together</strong></p>" {
		t.Fatalf("owncast CHAT: %v", got)
	}
	// Owncast → Together.
	chat.send(map[string]any{"type": "CHAT", "body": "hi from owncast"})
	mc := gw.await("MESSAGE_CREATE from Owncast", func(f map[string]any) bool {
		d, _ := f["d"].(map[string]any)
		return f["t"] == "MESSAGE_CREATE" && d["content"] == "hi from owncast"
	})
	if d := mc["d"].(map[string]any); d["channel_id"] != ch.ID {
		t.Fatalf("MESSAGE_CREATE: %v", mc)
	}
	var history []struct {
		ID        string `json:"id"`
		ChannelID string `json:"channel_id"`
		Content   string `json:"content"`
	}
	if code := call(t, "GET", base+"/channels/"+ch.ID+"/messages", admin.AccessToken, nil, &history); code != 200 || len(history) != 2 {
		t.Fatalf("history: %d %+v", code, history)
	}
	for _, m := range history {
		if m.ChannelID != ch.ID {
			t.Fatalf("history message in %q", m.ChannelID)
		}
	}
	if code := call(t, "GET", base+"/channels/"+ch.ID+"/messages/"+posted.ID, admin.AccessToken, nil, nil); code != 200 {
		t.Fatalf("get one message: %d", code)
	}

	// Unbinding: the channel has its own stage and its own (empty) chat.
	if code := call(t, "PATCH", base+"/servers/"+sid+"/channels/"+ch.ID, admin.AccessToken, map[string]any{"stage_id": nil}, nil); code != 200 {
		t.Fatalf("unbind: %d", code)
	}
	if code := call(t, "GET", base+"/api/stages/"+ch.ID+"/status", admin.AccessToken, nil, &st); code != 200 || st.Default || st.StageID != ch.ID {
		t.Fatalf("unbound status: %d %+v", code, st)
	}
	history = nil
	if code := call(t, "GET", base+"/channels/"+ch.ID+"/messages", admin.AccessToken, nil, &history); code != 200 || len(history) != 0 {
		t.Fatalf("unbound history: %d %+v", code, history)
	}
	// And back, by PATCH.
	if code := call(t, "PATCH", base+"/servers/"+sid+"/channels/"+ch.ID, admin.AccessToken, map[string]any{"stage_id": "default"}, nil); code != 200 {
		t.Fatalf("bind: %d", code)
	}
	if code := call(t, "GET", base+"/channels/"+ch.ID+"/messages", admin.AccessToken, nil, &history); code != 200 || len(history) != 2 {
		t.Fatalf("rebound history: %d %+v", code, history)
	}
}

// TestStageIDRefusals: stage_id's refusals keep Together's words, and a
// refused PATCH writes nothing: an admin renaming a text channel with
// stage_id set was told 400 after the rename was stored (the channel's kind
// was looked at only once the update was done).
func TestStageIDRefusals(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	admin, alice := adminLogin(t, base), register(t, base, "refalice")
	sid, aliceSid := newServer(t, base, admin.AccessToken), newServer(t, base, alice.AccessToken)
	var text struct{ ID, Name string }
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", admin.AccessToken, map[string]any{"name": "chat", "type": "text"}, &text); code != 201 {
		t.Fatalf("text channel: %d", code)
	}
	for _, c := range []struct {
		name, method, path, token string
		body                      map[string]any
		code                      int
		msg                       string
	}{
		{"non-admin", "POST", "/servers/" + aliceSid + "/channels", alice.AccessToken, map[string]any{"name": "s", "type": "stage", "stage_id": "default"},
			403, "Only an instance admin can set stage_id"},
		{"text channel", "POST", "/servers/" + sid + "/channels", admin.AccessToken, map[string]any{"name": "s", "type": "text", "stage_id": "default"},
			400, "stage_id is only for stage channels"},
		{"unknown stage", "POST", "/servers/" + sid + "/channels", admin.AccessToken, map[string]any{"name": "s", "type": "stage", "stage_id": "other"},
			400, `stage_id must be "default" or null`},
		{"not a string", "POST", "/servers/" + sid + "/channels", admin.AccessToken, map[string]any{"name": "s", "type": "stage", "stage_id": 5},
			400, `stage_id must be "default" or null`},
		{"renaming a text channel", "PATCH", "/servers/" + sid + "/channels/" + text.ID, admin.AccessToken, map[string]any{"name": "renamed", "stage_id": "default"},
			400, "stage_id is only for stage channels"},
	} {
		var e struct{ Error string }
		if code := call(t, c.method, base+c.path, c.token, c.body, &e); code != c.code || e.Error != c.msg {
			t.Fatalf("%s: %d %q, want %d %q", c.name, code, e.Error, c.code, c.msg)
		}
	}
	var got struct{ Name string }
	if code := call(t, "GET", base+"/servers/"+sid+"/channels/"+text.ID, admin.AccessToken, nil, &got); code != 200 || got.Name != "chat" {
		t.Fatalf("the text channel after the refused PATCH: %d %q, want its name unchanged", code, got.Name)
	}
}

// TestStageChannelOnTwoNodes: two nodes on one PostgreSQL and one NATS. A
// stage channel made through node A has the same stage, key and signed
// playlist URL on node B; a message posted on A into a channel bound to
// the default stage reaches Owncast's chat socket on B; deleting the
// channel on A removes the stage for B.
func TestStageChannelOnTwoNodes(t *testing.T) {
	t.Parallel()
	a, b := clusterPair(t, nil)
	urlA, urlB := a.HTTP.URL(), b.HTTP.URL()
	admin := adminLogin(t, urlA)
	sid := newServer(t, urlA, admin.AccessToken)
	var ch, bound struct{ ID string }
	if code := call(t, "POST", urlA+"/servers/"+sid+"/channels", admin.AccessToken, map[string]any{"name": "Own", "type": "stage"}, &ch); code != 201 {
		t.Fatalf("create on A: %d", code)
	}
	if code := call(t, "POST", urlA+"/servers/"+sid+"/channels", admin.AccessToken, map[string]any{"name": "Main", "type": "stage", "stage_id": "default"}, &bound); code != 201 {
		t.Fatalf("create bound on A: %d", code)
	}
	var stA, stB stageStatus
	var keyA, keyB struct{ StreamKey string }
	if call(t, "GET", urlA+"/api/stages/"+ch.ID+"/status", admin.AccessToken, nil, &stA) != 200 ||
		call(t, "GET", urlB+"/api/stages/"+ch.ID+"/status", admin.AccessToken, nil, &stB) != 200 || stB.StageID != ch.ID {
		t.Fatalf("status: %+v %+v", stA, stB)
	}
	if call(t, "GET", urlA+"/api/stages/"+ch.ID+"/key", admin.AccessToken, nil, &keyA) != 200 ||
		call(t, "GET", urlB+"/api/stages/"+ch.ID+"/key", admin.AccessToken, nil, &keyB) != 200 || keyA.StreamKey == "" || keyA.StreamKey != keyB.StreamKey {
		t.Fatalf("keys differ between nodes: %q %q", keyA.StreamKey, keyB.StreamKey)
	}
	if code, _, body := get(t, urlB+stA.HLSURL); code != 200 || !strings.HasPrefix(string(body), "#EXTM3U") {
		t.Fatalf("A's signed playlist URL on B: %d %s", code, body)
	}

	var reg struct{ AccessToken string }
	if code := call(t, "POST", urlB+"/api/chat/register", "", map[string]string{"displayName": "far"}, &reg); code != 200 {
		t.Fatalf("owncast register on B: %d", code)
	}
	chat := dialSocket(t, "ws"+strings.TrimPrefix(urlB, "http")+"/ws?accessToken="+reg.AccessToken)
	var posted struct{ ID string }
	if code := call(t, "POST", urlA+"/channels/"+bound.ID+"/messages", admin.AccessToken, map[string]string{"content": "across nodes"}, &posted); code != 201 {
		t.Fatalf("post on A: %d", code)
	}
	chat.await("CHAT on B", func(f map[string]any) bool { return f["type"] == "CHAT" && f["id"] == posted.ID })

	if code := call(t, "DELETE", urlA+"/servers/"+sid+"/channels/"+ch.ID, admin.AccessToken, nil, nil); code != 204 {
		t.Fatalf("delete on A: %d", code)
	}
	if code := call(t, "GET", urlB+"/api/stages/"+ch.ID+"/status", admin.AccessToken, nil, nil); code != 404 {
		t.Fatalf("status of a deleted stage channel on B: %d", code)
	}
	poll(t, "the stage deleted", 10*time.Second, func() bool {
		_, err := b.Live.StageSettings(context.Background(), ch.ID)
		return err != nil
	})
}

// TestStageHLSFollowsTheCommunity: a stage channel's signed HLS URL is the
// member's own; once the member is banned it plays no more (the ban reaches
// the gate through the community's events), although the URL has not
// expired, and the status route refuses them.
func TestStageHLSFollowsTheCommunity(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	alice, bob := register(t, base, "stageowner"), register(t, base, "stagemember")
	sid := newServer(t, base, alice.AccessToken)
	if code := call(t, "POST", base+"/servers/"+sid+"/join", bob.AccessToken, nil, nil); code != 200 && code != 201 {
		t.Fatalf("join: %d", code)
	}
	var ch struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", alice.AccessToken, map[string]string{"name": "Concerts", "type": "stage"}, &ch); code != 201 {
		t.Fatalf("create stage channel: %d", code)
	}
	api := base + "/api/stages/" + ch.ID + "/status"
	var st stageStatus
	if code := call(t, "GET", api, bob.AccessToken, nil, &st); code != 200 || st.HLSURL == "" {
		t.Fatalf("member status: %d %+v", code, st)
	}
	if code, _, body := get(t, base+st.HLSURL); code != 200 || !strings.HasPrefix(string(body), "#EXTM3U") {
		t.Fatalf("member plays the stage: %d %s", code, body)
	}
	if code := call(t, "POST", base+"/servers/"+sid+"/members/"+bob.User.ID+"/ban", alice.AccessToken, map[string]any{}, nil); code != 204 && code != 200 {
		t.Fatalf("ban: %d", code)
	}
	poll(t, "the banned member's HLS refused", 10*time.Second, func() bool {
		code, _, _ := get(t, base+st.HLSURL)
		return code == 404
	})
	if code := call(t, "GET", api, bob.AccessToken, nil, nil); code != 404 {
		t.Fatalf("banned member status: %d, want 404", code)
	}
}

// TestStageHLSStopsForADisabledAccount: the instance admin disabling an
// account (no community event) ends its stage channel playback: the signed
// HLS URL it got before plays no more although it has not expired (it did,
// for up to 12 hours), and the status route refuses it.
func TestStageHLSStopsForADisabledAccount(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	admin := adminLogin(t, base)
	alice, bob := register(t, base, "stageowner"), register(t, base, "stageviewer")
	sid := newServer(t, base, alice.AccessToken)
	if code := call(t, "POST", base+"/servers/"+sid+"/join", bob.AccessToken, nil, nil); code != 200 && code != 201 {
		t.Fatalf("join: %d", code)
	}
	var ch struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", alice.AccessToken, map[string]string{"name": "Concerts", "type": "stage"}, &ch); code != 201 {
		t.Fatalf("create stage channel: %d", code)
	}
	var st stageStatus
	if code := call(t, "GET", base+"/api/stages/"+ch.ID+"/status", bob.AccessToken, nil, &st); code != 200 || st.HLSURL == "" {
		t.Fatalf("member status: %d %+v", code, st)
	}
	if code, _, body := get(t, base+st.HLSURL); code != 200 || !strings.HasPrefix(string(body), "#EXTM3U") {
		t.Fatalf("member plays the stage: %d %s", code, body)
	}
	if code := call(t, "PATCH", base+"/api/admin/users/"+bob.User.ID, admin.AccessToken, map[string]any{"disabled": true}, nil); code != 200 {
		t.Fatalf("disable: %d", code)
	}
	poll(t, "the disabled account's HLS refused", 10*time.Second, func() bool {
		code, _, _ := get(t, base+st.HLSURL)
		return code == 404
	})
	// The owner, still enabled, plays on.
	var own stageStatus
	if code := call(t, "GET", base+"/api/stages/"+ch.ID+"/status", alice.AccessToken, nil, &own); code != 200 {
		t.Fatalf("owner status: %d", code)
	}
	if code, _, _ := get(t, base+own.HLSURL); code != 200 {
		t.Fatalf("owner plays the stage: %d", code)
	}
}

// TestStageHLSStopsForARevokedOrOrphanedBot: a bot member plays a stage
// channel as any member does, and stops as a disabled account does when
// it may no longer act: while its maker is disabled (it plays again once
// the maker is back), and once its maker revokes it. Before, the signed
// HLS URL a bot got played on after either, since the bot's own account
// stayed enabled.
func TestStageHLSStopsForARevokedOrOrphanedBot(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	admin := adminLogin(t, base)
	alice, carol := register(t, base, "botstageowner"), register(t, base, "botmaker")
	sid := newServer(t, base, alice.AccessToken)
	var ch struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", alice.AccessToken, map[string]string{"name": "Concerts", "type": "stage"}, &ch); code != 201 {
		t.Fatalf("create stage channel: %d", code)
	}
	var made struct {
		Bot   struct{ ID string }
		Token string
	}
	if code := call(t, "POST", base+"/bots", carol.AccessToken, map[string]string{"name": "stagebot"}, &made); code != 201 {
		t.Fatalf("create bot: %d", code)
	}
	connect := func() (string, int) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/bots/connect", nil)
		req.Header.Set("Authorization", "Bot "+made.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.NewDecoder(res.Body).Decode(&out)
		return out.AccessToken, res.StatusCode
	}
	bot, code := connect()
	if code != 200 {
		t.Fatalf("bot connect: %d", code)
	}
	if code := call(t, "POST", base+"/servers/"+sid+"/join", bot, nil, nil); code != 200 && code != 201 {
		t.Fatalf("bot join: %d", code)
	}
	var st stageStatus
	if code := call(t, "GET", base+"/api/stages/"+ch.ID+"/status", bot, nil, &st); code != 200 || st.HLSURL == "" {
		t.Fatalf("bot status: %d %+v", code, st)
	}
	plays := func() int {
		t.Helper()
		code, _, _ := get(t, base+st.HLSURL)
		return code
	}
	if code := plays(); code != 200 {
		t.Fatalf("the bot plays the stage: %d", code)
	}
	if code := call(t, "PATCH", base+"/api/admin/users/"+carol.User.ID, admin.AccessToken, map[string]any{"disabled": true}, nil); code != 200 {
		t.Fatalf("disable the maker: %d", code)
	}
	poll(t, "a disabled maker's bot's HLS refused", 10*time.Second, func() bool { return plays() == 404 })
	if code := call(t, "PATCH", base+"/api/admin/users/"+carol.User.ID, admin.AccessToken, map[string]any{"disabled": false}, nil); code != 200 {
		t.Fatalf("enable the maker: %d", code)
	}
	if code := plays(); code != 200 {
		t.Fatalf("the bot of a re-enabled maker plays: %d", code)
	}
	var carolAgain login
	if code := call(t, "POST", base+"/auth/login", "", map[string]string{"username": "botmaker", "password": "password1"}, &carolAgain); code != 200 {
		t.Fatalf("the maker signs in again: %d", code)
	}
	if code := call(t, "DELETE", base+"/bots/"+made.Bot.ID, carolAgain.AccessToken, nil, nil); code != 200 && code != 204 {
		t.Fatalf("revoke the bot: %d", code)
	}
	poll(t, "a revoked bot's HLS refused", 10*time.Second, func() bool { return plays() == 404 })
}
