package owncast_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/imagehdr/imagehdrtest"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/openapitest"
)

// ocClient sends requests through a spec-validating transport.
type ocClient struct {
	t    *testing.T
	base string
	http *http.Client
}

// do sends body (a string is sent raw, anything else as JSON) with auth
// "admin" (Basic), "bearer:<token>" or "" and checks the status.
func (c *ocClient) do(want int, method, path, auth string, body any) []byte {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if strings.HasPrefix(path, "/federation/") {
		req.Header.Set("Accept", "application/activity+json") // else a 307 to the web page
	}
	if want >= 400 {
		// A deliberately bad request: only its answer is checked.
		req.Header.Set(openapitest.SkipRequestHeader, "1")
	}
	switch {
	case auth == "admin":
		req.SetBasicAuth("admin", "abc123")
	case strings.HasPrefix(auth, "bearer:"):
		req.Header.Set("Authorization", "Bearer "+strings.TrimPrefix(auth, "bearer:"))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if os.Getenv("OPENAPI_DUMP") != "" {
		c.t.Logf("%s %s -> %d %s", method, path, resp.StatusCode, raw)
	}
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d (%s)", method, path, resp.StatusCode, want, raw)
	}
	return raw
}

func (c *ocClient) obj(want int, method, path, auth string, body any) map[string]any {
	c.t.Helper()
	out := map[string]any{}
	if err := json.Unmarshal(c.do(want, method, path, auth, body), &out); err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return out
}

func (c *ocClient) list(want int, method, path, auth string, body any) []map[string]any {
	c.t.Helper()
	var out []map[string]any
	if err := json.Unmarshal(c.do(want, method, path, auth, body), &out); err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return out
}

// TestOpenAPIResponses walks chat registration, history, the public config,
// admin config and chat moderation, access tokens, integrations and
// webhooks (a chat node), then the stream status and stream admin (a live
// node), validating every request and response against api/owncast.yaml.
func TestOpenAPIResponses(t *testing.T) {
	t.Parallel()
	doc := openapitest.Load(t, "owncast.yaml")
	tr := openapitest.NewTransport(t, doc, nil)

	n := newNode(t, nodeOpts{webPort: 8080})
	c := &ocClient{t: t, base: n.url, http: tr.Client()}
	c.do(200, "GET", "/api/config", "", nil)
	c.do(200, "GET", "/api/emoji", "", nil)
	c.do(200, "GET", "/api/socialplatforms", "", nil)
	c.do(200, "GET", "/robots.txt", "", nil)
	c.do(200, "GET", "/customjavascript", "", nil)
	c.do(204, "OPTIONS", "/api/chat/register", "", nil)
	ann := c.obj(200, "POST", "/api/chat/register", "", map[string]string{"displayName": "ann"})
	bob := c.obj(200, "POST", "/api/chat/register", "", nil)
	annTok, bobTok := ann["accessToken"].(string), bob["accessToken"].(string)
	c.do(200, "GET", "/api/chat?accessToken="+url.QueryEscape(annTok), "", nil)
	c.do(401, "GET", "/api/chat?accessToken=nope", "", nil)
	c.do(200, "POST", "/api/notifications/register?accessToken="+url.QueryEscape(annTok), "",
		map[string]string{"channel": "BROWSER_PUSH_NOTIFICATION", "destination": `{"endpoint":"https://push.example.org/x","keys":{"p256dh":"BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM","auth":"tBHItJI5svbpez7KI4CCXg"}}`})

	c.do(401, "GET", "/api/admin/serverconfig", "", nil)
	c.do(200, "GET", "/api/admin/serverconfig", "admin", nil)
	c.do(200, "POST", "/api/admin/config/webserverport", "admin", map[string]any{"value": 8080})
	c.do(400, "POST", "/api/admin/config/webserverport", "admin", map[string]any{"value": 8081})
	openAPIFederation(c, n)
	for _, s := range []struct {
		name  string
		value any
	}{
		{"name", "Quokka TV"}, {"serversummary", "All quokkas"}, {"welcomemessage", "Hi **there**"},
		{"offlinemessage", "Back soon"}, {"pagecontent", "# About"}, {"streamtitle", "Live quokkas"},
		{"tags", []string{"animals", "nature"}}, {"nsfw", false}, {"customstyles", "body{}"},
		{"customjavascript", "console.log(1)"}, {"hideviewercount", false}, {"disablesearchindexing", true}, {"autoplay", "off"},
		{"serverurl", "https://quokka.example.org"}, {"directoryenabled", true},
		{"sockethostoverride", "wss://chat.example.org"}, {"appearance", map[string]string{"theme-color-background-main": "#000"}},
		{"socialhandles", []map[string]string{{"platform": "mastodon", "url": "https://mastodon.example/@q"}}},
		{"externalactions", []map[string]any{{"url": "https://example.org/tip", "title": "Tip", "openExternally": true}}},
		{"chat/joinmessagesenabled", true}, {"chat/establishedusermode", false}, {"chat/spamprotectionenabled", true},
		{"chat/requireauthentication", false}, {"chat/slurfilterenabled", true}, {"chat/filteredwords", []string{"darn"}},
		{"chat/forbiddenusernames", []string{"root"}}, {"chat/suggestedusernames", []string{}},
		{"federation/username", "quokka"}, {"federation/livemessage", "Live now"}, {"federation/blockdomains", []string{}},
		{"federation/private", false}, {"federation/showengagement", true},
		{"federation/hidefollowers", true}, {"federation/enablequotes", false},
		{"notifications/discord", map[string]any{"enabled": false, "webhook": "", "goLiveMessage": "live"}},
		{"notifications/browser", map[string]any{"enabled": true, "goLiveMessage": "live"}},
	} {
		c.do(200, "POST", "/api/admin/config/"+s.name, "admin", map[string]any{"value": s.value})
	}
	c.do(400, "POST", "/api/admin/config/serverurl", "admin", map[string]any{"value": "not a url"})
	c.do(400, "POST", "/api/admin/config/federation/enablequotes", "admin", map[string]any{"value": true})
	c.do(400, "POST", "/api/admin/config/name", "admin", "{nope")
	c.do(200, "GET", "/api/config", "", nil)
	c.do(200, "GET", "/api/yp", "", nil)
	c.do(200, "GET", "/api/admin/serverconfig", "admin", nil)
	c.do(204, "OPTIONS", "/api/admin/anything", "", nil)

	png := "data:image/png;base64," + base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"+
		"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"))
	c.do(200, "POST", "/api/admin/emoji/upload", "admin", map[string]string{"name": "dot.png", "data": png})
	emoji := c.list(200, "GET", "/api/emoji", "", nil)
	if len(emoji) == 0 {
		t.Fatal("uploaded emoji not listed")
	}
	c.do(200, "GET", emoji[0]["url"].(string), "", nil)
	c.do(200, "POST", "/api/admin/emoji/delete", "admin", map[string]string{"name": "dot.png"})
	c.do(200, "POST", "/api/admin/config/logo", "admin", map[string]any{"value": png})
	c.do(200, "GET", "/logo", "", nil)
	{
		var mb bytes.Buffer
		mw := multipart.NewWriter(&mb)
		fw, _ := mw.CreateFormFile("favicon", "favicon.png")
		_, _ = fw.Write(imagehdrtest.PNG(1, 1))
		_ = mw.Close()
		req, _ := http.NewRequest("POST", c.base+"/api/admin/config/favicon", &mb)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.SetBasicAuth("admin", "abc123")
		resp, err := c.http.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("favicon upload: %v %v", err, resp)
		}
		resp.Body.Close()
	}
	c.do(200, "GET", "/favicon.ico", "", nil)
	c.do(200, "DELETE", "/api/admin/config/favicon", "admin", nil)
	c.do(200, "GET", "/favicon.ico", "", nil) // the default
	c.do(200, "POST", "/api/admin/config/favicon", "admin", map[string]any{"value": "data:image/png;base64," + base64.StdEncoding.EncodeToString(imagehdrtest.PNG(1, 1))})
	c.do(200, "GET", "/logo/external", "", nil)
	if err := os.MkdirAll(filepath.Join(n.dataDir, "public"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(n.dataDir, "public", "hello.txt"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.do(200, "GET", "/public/hello.txt", "", nil)
	c.do(404, "GET", "/public/nothing.txt", "", nil)

	tok := c.obj(200, "POST", "/api/admin/accesstokens/create", "admin",
		map[string]any{"name": "robot", "scopes": []string{"CAN_SEND_MESSAGES", "CAN_SEND_SYSTEM_MESSAGES", "HAS_ADMIN_ACCESS"}})
	bearer := "bearer:" + tok["accessToken"].(string)
	c.do(200, "GET", "/api/admin/accesstokens", "admin", nil)
	c.do(200, "POST", "/api/admin/session", "admin", nil)
	c.do(204, "OPTIONS", "/api/integrations/anything", "", nil)
	c.do(200, "POST", "/api/integrations/chat/send", bearer, map[string]string{"body": "hello from a bot"})
	c.do(200, "POST", "/api/integrations/chat/system", bearer, map[string]string{"body": "system notice"})
	c.do(200, "POST", "/api/integrations/chat/action", bearer, map[string]string{"body": "waves", "author": "robot"})
	c.do(400, "POST", "/api/integrations/chat/user", bearer, map[string]string{"body": "old"})
	c.do(400, "POST", "/api/integrations/chat/system/client/999", bearer, map[string]string{"body": "nobody"})
	c.do(200, "POST", "/api/integrations/streamtitle", bearer, map[string]string{"value": "Quokkas at dusk"})
	hist := c.list(200, "GET", "/api/integrations/chat", bearer, nil)
	c.do(200, "GET", "/api/integrations/clients", bearer, nil)
	c.do(401, "GET", "/api/integrations/clients", "", nil)
	if len(hist) == 0 {
		t.Fatal("no chat history")
	}
	mid := hist[0]["id"].(string)
	c.do(200, "POST", "/api/integrations/chat/messagevisibility", bearer, map[string]any{"idArray": []string{mid}, "visible": false})
	c.do(200, "GET", "/api/admin/chat/messages", "admin", nil)
	c.do(200, "POST", "/api/admin/chat/messagevisibility", "admin", map[string]any{"idArray": []string{mid}, "visible": true})
	c.do(200, "POST", "/api/admin/chat/updatemessagevisibility", "admin", map[string]any{"idArray": []string{mid}, "visible": true})
	c.do(200, "GET", "/api/admin/chat/clients", "admin", nil)

	annID, bobID := ann["id"].(string), bob["id"].(string)
	c.do(200, "POST", "/api/admin/chat/users/setmoderator", "admin", map[string]any{"userId": annID, "isModerator": true})
	c.do(200, "GET", "/api/admin/chat/users/moderators", "admin", nil)
	c.do(200, "GET", "/api/admin/users?offset=0&limit=10&search=a&status=all&sort=desc", "admin", nil)
	c.do(400, "POST", "/api/admin/users/delete", "admin", map[string]any{"userId": "no-such-user"})
	mod := "?accessToken=" + url.QueryEscape(annTok)
	c.do(200, "GET", "/api/moderation/chat/user/"+bobID+mod, "", nil)
	c.do(200, "GET", "/api/integrations/moderation/chat/user/"+bobID, bearer, nil)
	c.do(200, "POST", "/api/chat/messagevisibility"+mod, "", map[string]any{"idArray": []string{mid}, "visible": true})
	c.do(200, "POST", "/api/chat/users/setenabled"+mod, "", map[string]any{"userId": bobID, "enabled": false})
	c.do(200, "GET", "/api/admin/chat/users/disabled", "admin", nil)
	c.do(200, "POST", "/api/admin/chat/users/setenabled", "admin", map[string]any{"userId": bobID, "enabled": true})
	c.do(200, "GET", "/api/chat?accessToken="+url.QueryEscape(bobTok), "", nil)
	c.do(200, "POST", "/api/admin/chat/users/ipbans/create", "admin", map[string]string{"value": "192.0.2.7"})
	c.do(200, "GET", "/api/admin/chat/users/ipbans", "admin", nil)
	c.do(200, "POST", "/api/admin/chat/users/ipbans/remove", "admin", map[string]string{"value": "192.0.2.7"})
	c.do(200, "GET", "/api/admin/followers", "admin", nil)
	c.do(200, "GET", "/api/admin/followers/pending", "admin", nil)
	c.do(200, "GET", "/api/admin/followers/blocked", "admin", nil)
	c.do(200, "GET", "/api/admin/logs", "admin", nil)
	c.do(200, "GET", "/api/admin/logs/warnings", "admin", nil)
	c.do(200, "GET", "/api/admin/prometheus", "admin", nil)

	hook := c.obj(200, "POST", "/api/admin/webhooks/create", "admin", map[string]any{"url": "https://hooks.example.org/oc", "events": []string{"CHAT", "STREAM_STARTED"}})
	c.do(200, "GET", "/api/admin/webhooks", "admin", nil)
	c.do(200, "POST", "/api/admin/webhooks/delete", "admin", map[string]any{"id": hook["id"]})
	c.do(200, "POST", "/api/admin/accesstokens/delete", "admin", map[string]string{"token": tok["accessToken"].(string)})
	c.do(401, "POST", "/api/integrations/chat/send", bearer, map[string]string{"body": "revoked"})
	// The egress client refuses the unresolvable host: Owncast's error shape.
	c.do(400, "POST", "/api/auth/indieauth?accessToken="+url.QueryEscape(annTok), "", map[string]string{"authHost": "https://indie.invalid/"})
	c.do(400, "GET", "/api/auth/indieauth/callback?state=unknown&code=x", "", nil)
	c.do(200, "POST", "/api/admin/config/chat/disable", "admin", map[string]any{"value": true})
	c.do(200, "POST", "/api/admin/config/federation/enable", "admin", map[string]any{"value": false})
	c.do(200, "POST", "/api/admin/config/adminpass", "admin", map[string]any{"value": "abc123"})
	c.do(400, "POST", "/api/admin/config/rtmpserverbindaddress", "admin", map[string]any{"value": "0.0.0.0"})

	ln := newLiveNode(t, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}, 2)
	c = &ocClient{t: t, base: ln.url, http: tr.Client()}
	c.do(200, "GET", "/api/status", "", nil)
	c.do(200, "GET", "/api/video/variants", "", nil)
	c.do(200, "GET", "/api/ping", "", nil)
	c.do(200, "GET", "/api/admin/status", "admin", nil)
	c.do(200, "GET", "/api/admin/viewers", "admin", nil)
	c.do(200, "GET", "/api/admin/viewersOverTime", "admin", nil)
	c.do(200, "GET", "/api/admin/hardwarestats", "admin", nil)
	c.do(200, "POST", "/api/metrics/playback", "", map[string]any{"bandwidth": 2500.5, "latency": 6, "errors": 1,
		"downloadDuration": 0.4, "qualityVariantChanges": 0})
	c.do(400, "POST", "/api/metrics/playback", "", `{"errors":"many"}`)
	c.do(200, "GET", "/api/admin/viewers/playback", "admin", nil)
	if _, _, tok, err := ln.id.CreateIntegrationToken(context.Background(), "robot", []string{"HAS_ADMIN_ACCESS"}); err != nil {
		t.Fatal(err)
	} else {
		c.do(200, "GET", "/api/integrations/status", "bearer:"+tok, nil)
	}
	c.do(200, "POST", "/api/metrics/cmcd", "", map[string]any{"v": 2, "e": "t", "mtp": 5100, "ltc": 3200, "sid": "s"})
	c.do(200, "GET", "/api/metrics/cmcd?CMCD="+url.QueryEscape(`e=t,mtp=4800,sid="s"`), "", nil)
	c.do(400, "POST", "/api/metrics/cmcd", "", map[string]any{})
	c.do(204, "OPTIONS", "/api/metrics/cmcd", "", nil)
	ln.live.CollectPlayback(context.Background())
	c.do(200, "GET", "/api/admin/metrics/video", "admin", nil)
	c.do(200, "POST", "/api/admin/config/streamkeys", "admin", map[string]any{"value": []map[string]string{{"key": "abc123", "comment": "default"}}})
	c.do(200, "POST", "/api/admin/config/video/codec", "admin", map[string]any{"value": "libx264"})
	c.do(200, "POST", "/api/admin/config/video/streamlatencylevel", "admin", map[string]any{"value": 3})
	c.do(200, "POST", "/api/admin/config/video/streamoutputvariants", "admin", map[string]any{"value": []map[string]any{
		{"videoPassthrough": false, "audioPassthrough": true, "videoBitrate": 1200, "framerate": 24, "cpuUsageLevel": 2, "scaledWidth": 640}}})
	c.do(200, "GET", "/api/video/variants", "", nil)
	c.do(200, "POST", "/api/admin/config/s3", "admin", map[string]any{"value": map[string]any{"enabled": false}})
	c.do(400, "POST", "/api/admin/config/ffmpegpath", "admin", map[string]any{"value": "ffmpeg"})
	if ff, err := exec.LookPath("ffmpeg"); err == nil {
		if abs, err := filepath.Abs(ff); err == nil {
			c.do(200, "POST", "/api/admin/config/ffmpegpath", "admin", map[string]any{"value": abs})
		}
	}
	ln.live.SetIngestPort(1935) // as wireLive does with its RTMP listener
	c.do(200, "POST", "/api/admin/config/rtmpserverport", "admin", map[string]any{"value": 1935})
	c.do(400, "POST", "/api/admin/config/rtmpserverport", "admin", map[string]any{"value": 1936})
	c.do(200, "POST", "/api/admin/config/videoservingendpoint", "admin", map[string]any{"value": ""})
	c.do(400, "POST", "/api/admin/disconnect", "admin", nil)
	c.do(200, "GET", "/hls/stream.m3u8", "", nil)
	c.do(200, "GET", "/hls/0/stream.m3u8", "", nil) // the offline clip
	c.do(200, "GET", "/hls/0/offline.ts", "", nil)
	c.do(404, "GET", "/hls/0/seg-1.ts", "", nil)
	c.do(204, "OPTIONS", "/hls/", "", nil)
	c.do(403, "GET", "/hls/peer/"+ln.live.DefaultStageID()+"/stream.m3u8?exp=9999999999&sig=00", "", nil) // the nodes' own
	c.do(404, "GET", "/preview.gif", "", nil)
	c.do(404, "GET", "/thumbnail.jpg", "", nil)
	// Scheduled streams (schedule_test.go has the story).
	for _, sc := range []struct {
		name  string
		value any
	}{{"enabled", true}, {"showcountdown", true}, {"chatopenminutes", 5}, {"remindermessage", "soon"}} {
		c.do(200, "POST", "/api/admin/config/schedule/"+sc.name, "admin", map[string]any{"value": sc.value})
	}
	rec := "DTSTART:20300101T100000Z\nRRULE:FREQ=DAILY;COUNT=2"
	c.do(200, "POST", "/api/admin/schedule/preview", "admin", map[string]any{"recurrence": rec})
	sched := c.obj(200, "POST", "/api/admin/schedule/event", "admin", map[string]any{"name": "Show", "start": "2030-01-01T10:00:00Z"})
	c.do(200, "GET", "/api/schedule", "", nil)
	c.do(204, "OPTIONS", "/api/schedule", "", nil)
	c.do(200, "GET", "/api/schedule.ics", "", nil)
	c.do(200, "GET", "/api/admin/schedule", "admin", nil)
	c.do(200, "POST", "/api/admin/schedule/event/delete", "admin", map[string]any{"id": sched["events"].([]any)[0].(map[string]any)["id"]})
	// Every operation is exercised but the chat socket (a WebSocket) and
	// those these harnesses do not wire (x-hearth-needs).
	for _, op := range tr.Unvisited(doc) {
		method, path, _ := strings.Cut(op, " ")
		if o := doc.Paths.Value(path).GetOperation(method); o.Extensions["x-hearth-needs"] == nil && path != "/ws" {
			t.Errorf("the flow does not reach %s of the spec (extend it)", op)
		}
	}
}

var configSetter = regexp.MustCompile(`\bcfg\("([^"]+)"`)

// sourceRoutes lists the routes the package registers, read from its
// source (openapitest.SourceRoutes): the literal patterns and the admin
// config setters' names.
func sourceRoutes(t *testing.T) []string {
	t.Helper()
	out := openapitest.SourceRoutes(t, func(src string) []string {
		var setters []string
		for _, m := range configSetter.FindAllStringSubmatch(src, -1) {
			setters = append(setters, "POST /api/admin/config/"+m[1])
		}
		return setters
	})
	if len(out) < 50 {
		t.Fatalf("found only %d routes in the source: the scan is broken", len(out))
	}
	return out
}

// TestOpenAPIRoutes: every route in the package's source is in
// api/owncast.yaml and every operation there is in the source; then each
// operation is checked against the running servers (a chat node and a live
// node): the mux must know the method for the path, which it reports in
// the Allow header of a 405 to a method nobody registers.
func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()
	doc := openapitest.Load(t, "owncast.yaml")
	spec := openapitest.Operations(doc)
	notInSpec, notServed := openapitest.Diff(sourceRoutes(t), spec)
	for _, r := range notInSpec {
		t.Errorf("route %s is registered but not in api/owncast.yaml", r)
	}
	for _, r := range notServed {
		t.Errorf("api/owncast.yaml has %s but the surface does not register it", r)
	}
	// Operations marked x-hearth-needs are registered only when the node
	// wires something these harnesses do not (the source check above
	// still covers them).
	conditional := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, o := range item.Operations() {
			if o.Extensions["x-hearth-needs"] != nil {
				conditional[openapitest.Normalize(method+" "+path)] = true
			}
		}
	}
	nodes := []string{newNode(t, nodeOpts{}).url, newLiveNode(t, nil, 2).url}
	for _, op := range spec {
		if conditional[op] {
			continue
		}
		method, path, _ := strings.Cut(op, " ")
		path = strings.ReplaceAll(path, "{}", "x")
		served := false
		for _, base := range nodes {
			req, err := http.NewRequest("PROPFIND", base+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			for _, m := range strings.Split(resp.Header.Get("Allow"), ",") {
				served = served || strings.TrimSpace(m) == method
			}
		}
		if !served {
			t.Errorf("%s is in api/owncast.yaml but no node serves %s %s", op, method, path)
		}
	}
}

// openAPIFederation walks the fediverse routes, off and then on.
func openAPIFederation(c *ocClient, n *node) {
	c.do(405, "GET", "/nodeinfo/2.0", "", nil)
	c.do(200, "POST", "/api/admin/config/serverurl", "admin", map[string]any{"value": n.url})
	c.do(200, "POST", "/api/admin/config/federation/enable", "admin", map[string]any{"value": true})
	host := strings.TrimPrefix(n.url, "http://")
	c.do(200, "GET", "/.well-known/webfinger?resource=acct:streamer@"+host, "", nil)
	c.do(200, "GET", "/.well-known/host-meta", "", nil)
	c.do(200, "GET", "/.well-known/nodeinfo", "", nil)
	c.do(200, "GET", "/.well-known/x-nodeinfo2", "", nil)
	c.do(200, "GET", "/nodeinfo/2.0", "", nil)
	c.do(200, "GET", "/api/v1/instance", "", nil)
	c.do(200, "GET", "/federation/user/streamer", "", nil)
	c.do(401, "POST", "/federation/user/streamer/inbox", "", map[string]any{"type": "Follow"})
	c.do(200, "POST", "/api/admin/federation/send", "admin", map[string]any{"value": "hello"})
	out := c.obj(200, "GET", "/federation/user/streamer/outbox", "", nil)
	items, _ := out["orderedItems"].([]any)
	if len(items) != 1 {
		c.t.Fatalf("outbox = %v", out)
	}
	id, _ := items[0].(map[string]any)["id"].(string)
	c.do(200, "GET", strings.TrimPrefix(id, n.url), "", nil)
	c.do(200, "GET", "/federation/user/streamer/followers", "", nil)
	c.do(200, "GET", "/api/followers", "", nil)
	c.do(200, "GET", "/api/admin/followers", "admin", nil)
	c.do(200, "GET", "/api/admin/followers/pending", "admin", nil)
	c.do(200, "GET", "/api/admin/followers/blocked", "admin", nil)
	c.do(404, "POST", "/api/admin/followers/approve", "admin", map[string]any{"actorIRI": "https://x.example/u", "approved": true})
	c.do(404, "POST", "/api/admin/followers/remove", "admin", map[string]any{"actorIRI": "https://x.example/u"})
	c.do(200, "GET", "/api/admin/federation/actions", "admin", nil)
	c.do(400, "POST", "/api/remotefollow", "", map[string]any{"account": "nobody"})
	reg := c.obj(200, "POST", "/api/chat/register", "", nil)
	c.do(400, "POST", "/api/auth/fediverse?accessToken="+url.QueryEscape(reg["accessToken"].(string)), "", map[string]any{"account": "nobody"})
	c.do(400, "POST", "/api/auth/fediverse/verify", "", map[string]any{"code": "NOPE"})
	fp := newPeer(c.t, "olive")
	fl := c.obj(200, "POST", "/api/admin/federation/servers", "admin", map[string]any{"url": fp.actor()})
	c.do(400, "POST", "/api/admin/federation/servers", "admin", map[string]any{"url": "nobody"})
	c.do(200, "GET", "/api/federation/servers", "", nil)
	c.do(200, "GET", "/api/admin/federation/servers", "admin", nil)
	c.do(404, "DELETE", "/api/admin/federation/servers/0190a0b0-c0d0-7e0f-8000-000000000009", "admin", nil)
	c.do(200, "DELETE", "/api/admin/federation/servers/"+fl["id"].(string), "admin", nil)
	c.do(404, "GET", "/api/admin/federation/stages/x", "admin", nil) // the harness wires no stage channels
	c.do(404, "POST", "/api/admin/federation/stages/x", "admin", map[string]any{"enabled": false})
	c.do(404, "GET", "/api/admin/federation/stages/x/followers?state=pending", "admin", nil)
	c.do(404, "POST", "/api/admin/federation/stages/x/followers/approve", "admin", map[string]any{"actorIRI": "https://x.example/u", "approved": true})
	c.do(404, "POST", "/api/admin/federation/stages/x/followers/remove", "admin", map[string]any{"actorIRI": "https://x.example/u"})
	c.do(200, "POST", "/api/admin/yp/reset", "admin", nil)
	c.do(404, "GET", "/federation/", "", nil)
	c.do(404, "POST", "/federation/", "", map[string]any{})
	c.do(404, "GET", "/nodeinfo/", "", nil)
	c.do(200, "POST", "/api/admin/config/federation/enable", "admin", map[string]any{"value": false})
}
