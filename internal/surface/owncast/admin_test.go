package owncast_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/hearth-community/hearth/internal/imagehdr/imagehdrtest"
)

// TestAdminAuthAndCORS covers research perf.md §6.2 item 6: admin responses
// never echo an Origin, and every admin route needs the admin password.
func TestAdminAuthAndCORS(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	paths := []string{"/api/admin/serverconfig", "/api/admin/chat/clients", "/api/admin/chat/messages", "/api/admin/followers",
		"/api/admin/prometheus", "/api/admin/webhooks", "/api/admin/accesstokens", "/api/admin/chat/users/ipbans", "/api/admin/logs"}
	for _, p := range paths {
		for _, auth := range []string{"", "basic:wrong", "Basic !!!notbase64"} {
			r := n.do(t, "GET", p, auth, nil, "Origin", "https://evil.example")
			if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), "Basic") {
				t.Fatalf("%s with %q: %d %v", p, auth, r.status, r.header)
			}
			if r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("%s echoes ACAO %q", p, r.header.Get("Access-Control-Allow-Origin"))
			}
		}
		r := n.do(t, "GET", p, "admin", nil, "Origin", "https://evil.example")
		if r.status != 200 {
			t.Fatalf("%s as admin: %d %s", p, r.status, r.body)
		}
		if a := r.header.Get("Access-Control-Allow-Origin"); a != "" {
			t.Fatalf("%s as admin sets ACAO %q", p, a)
		}
		if c := r.header.Get("Access-Control-Allow-Credentials"); c != "" {
			t.Fatalf("%s allows credentials", p)
		}
		pre := n.do(t, "OPTIONS", p, "", nil, "Origin", "https://evil.example", "Access-Control-Request-Method", "GET")
		if pre.status != 204 || pre.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%s preflight: %d %v", p, pre.status, pre.header)
		}
	}
	// The admin password is never returned.
	if r := n.do(t, "GET", "/api/admin/serverconfig", "admin", nil); strings.Contains(string(r.body), "abc123") {
		t.Fatal("serverconfig returns the admin password")
	}
}

func TestConfigRoundTrip(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	set := []struct {
		name  string
		value any
	}{
		{"name", "Stage One"}, {"serversummary", "summary'; DROP TABLE accounts;--"}, {"streamtitle", "Live now"},
		{"offlinemessage", "back *soon*"}, {"pagecontent", "# Hello"}, {"tags", []string{"a", "b"}},
		{"socialhandles", []map[string]string{{"platform": "github", "url": "https://github.com/x"}}},
		{"nsfw", true}, {"customstyles", "body{}"}, {"customjavascript", "console.log(1)"},
		{"appearance", map[string]string{"--theme": "red"}}, {"hideviewercount", true}, {"disablesearchindexing", true},
		{"autoplay", "always"}, {"chat/requireauthentication", true},
		{"chat/slurfilterenabled", true}, {"chat/filteredwords", []string{"Darn"}}, {"sockethostoverride", "wss://chat.example"}, {"serverurl", "https://stage.example"}, {"directoryenabled", true},
		{"chat/forbiddenusernames", []string{"boss"}}, {"chat/suggestedusernames", []string{"one"}},
		{"chat/joinmessagesenabled", false}, {"federation/username", "live"}, {"federation/livemessage", "on!"},
		{"federation/private", true}, {"federation/showengagement", false}, {"federation/blockdomains", []string{"bad.example"}},
		{"federation/enable", true}, {"externalactions", []map[string]any{{"title": "Tip", "url": "https://tip.example"}}},
		{"notifications/discord", map[string]any{"enabled": true, "webhook": "https://discord.example/x", "goLiveMessage": "up"}},
	}
	for _, s := range set {
		if r := n.do(t, "POST", "/api/admin/config/"+s.name, "admin", map[string]any{"value": s.value}); r.status != 200 {
			t.Fatalf("set %s: %d %s", s.name, r.status, r.body)
		}
	}
	for _, bad := range []struct {
		name  string
		value any
	}{{"serverurl", "not.valid.url"}, {"serverurl", "javascript:alert(1)"}, {"nsfw", "yes"}, {"tags", "x"}, {"autoplay", "sometimes"}, {"autoplay", true}, {"chat/filteredwords", []string{"two words"}},
		{"socialhandles", []map[string]string{{"platform": "x", "url": "javascript:alert(1)"}}},
		// Blank entries would show as empty icons and buttons that do nothing.
		{"socialhandles", []map[string]string{{"platform": "github"}}}, {"socialhandles", []map[string]string{{"url": "https://x.example"}}},
		{"socialhandles", []any{nil}}, {"externalactions", []map[string]any{{"x": 1}}},
		{"externalactions", []map[string]any{{"title": "Tip"}}}, {"externalactions", []map[string]any{{"url": "https://tip.example"}}},
		{"externalactions", []map[string]any{{"title": "  ", "html": "<b>hi</b>"}}}, {"streamtitle", nil}} {
		r := n.do(t, "POST", "/api/admin/config/"+bad.name, "admin", map[string]any{"value": bad.value})
		var res map[string]any
		r.json(t, &res)
		if r.status != 400 || res["success"] != false {
			t.Fatalf("bad %s=%v: %d %s", bad.name, bad.value, r.status, r.body)
		}
	}
	if r := n.do(t, "POST", "/api/admin/config/name", "admin", "{nope"); r.status != 400 || !strings.Contains(string(r.body), "unable to parse new value") {
		t.Fatalf("unparsable body: %d %s", r.status, r.body)
	}
	var cfg map[string]any
	n.do(t, "GET", "/api/config", "", nil).json(t, &cfg)
	want := map[string]any{"name": "Stage One", "summary": "summary'; DROP TABLE accounts;--", "streamTitle": "Live now",
		"offlineMessage": "<p>back <em>soon</em></p>", "extraPageContent": "<h1>Hello</h1>", "logo": "/logo",
		"customStyles": "body{}", "socketHostOverride": "wss://chat.example", "hideViewerCount": true, "nsfw": true,
		"maxSocketPayloadSize": float64(2048), "autoplay": "always", "chatRequireAuthentication": true}
	for k, v := range want {
		if cfg[k] != v {
			t.Fatalf("/api/config %s = %v, want %v", k, cfg[k], v)
		}
	}
	if h := cfg["socialHandles"].([]any)[0].(map[string]any); h["icon"] != "/img/platformlogos/github.svg" {
		t.Fatalf("social handle icon %v", h)
	}
	var sc map[string]any
	n.do(t, "GET", "/api/admin/serverconfig", "admin", nil).json(t, &sc)
	inst := sc["instanceDetails"].(map[string]any)
	fed := sc["federation"].(map[string]any)
	if inst["name"] != "Stage One" || inst["autoplay"] != "always" || inst["extraPageContent"] != "# Hello" || inst["customJavascript"] != "console.log(1)" ||
		fed["username"] != "live" || fed["isPrivate"] != true || sc["yp"].(map[string]any)["instanceUrl"] != "https://stage.example" ||
		sc["forbiddenUsernames"].([]any)[0] != "boss" || sc["chatSlurFilterEnabled"] != true || sc["filteredWords"].([]any)[0] != "darn" || sc["notifications"].(map[string]any)["discord"].(map[string]any)["webhook"] != "https://discord.example/x" {
		t.Fatalf("serverconfig %v", sc)
	}
	r := n.do(t, "GET", "/robots.txt", "", nil)
	if string(r.body) != "User-agent: *\nDisallow: /admin\nDisallow: /api\nDisallow: /" {
		t.Fatalf("robots %q", r.body)
	}
	if r := n.do(t, "GET", "/customjavascript", "", nil); string(r.body) != "console.log(1)" {
		t.Fatalf("custom js %q", r.body)
	}
	if r := n.do(t, "GET", "/api/yp", "", nil); r.status != 200 {
		t.Fatalf("yp enabled: %d", r.status)
	}
	n.do(t, "POST", "/api/admin/config/directoryenabled", "admin", map[string]any{"value": false})
	if r := n.do(t, "GET", "/api/yp", "", nil); r.status != 404 {
		t.Fatalf("yp disabled: %d", r.status)
	}
	// The admin password setter: the new one works, the old one stops.
	if r := n.do(t, "POST", "/api/admin/config/adminpass", "admin", map[string]any{"value": "n3w-pass"}); r.status != 200 {
		t.Fatalf("adminpass: %d", r.status)
	}
	if r := n.do(t, "GET", "/api/admin/serverconfig", "admin", nil); r.status != 401 {
		t.Fatalf("old password still accepted: %d", r.status)
	}
	r = n.do(t, "GET", "/api/admin/serverconfig", "basic:n3w-pass", nil)
	if r.status != 200 || strings.Contains(string(r.body), "n3w-pass") {
		t.Fatalf("new password: %d", r.status)
	}
	// adminPassword is a bcrypt hash of the password the request was
	// verified with, as Owncast 0.2 answers (its suite bcrypt.compares it).
	r.json(t, &sc)
	if err := bcrypt.CompareHashAndPassword([]byte(sc["adminPassword"].(string)), []byte("n3w-pass")); err != nil {
		t.Fatalf("adminPassword %q is not the new password's bcrypt hash: %v", sc["adminPassword"], err)
	}
	// An echo of what the caller sent needs no work factor: made at the
	// default cost it spent ~60 ms of CPU on each read.
	if cost, _ := bcrypt.Cost([]byte(sc["adminPassword"].(string))); cost != bcrypt.MinCost {
		t.Errorf("adminPassword hashed at cost %d, want %d", cost, bcrypt.MinCost)
	}
}

func TestPublicFilesAndLogo(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	if err := os.MkdirAll(filepath.Join(n.dataDir, "public"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(n.dataDir, "public", "hello.txt"), []byte("hi there"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(n.dataDir, "secret.txt"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := n.do(t, "GET", "/public/hello.txt", "", nil); r.status != 200 || string(r.body) != "hi there" {
		t.Fatalf("public file: %d %q", r.status, r.body)
	}
	for _, p := range []string{"/public/missing.txt", "/public/..%2fsecret.txt", "/public/%2e%2e/secret.txt"} {
		if r := n.do(t, "GET", p, "", nil); r.status != 404 || strings.Contains(string(r.body), "secret") {
			t.Fatalf("%s: %d %q", p, r.status, r.body)
		}
	}
	if r := n.do(t, "GET", "/logo", "", nil); r.status != 200 || r.header.Get("Content-Type") != "image/png" {
		t.Fatalf("default logo: %d %v", r.status, r.header)
	}
	gif := "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
	if r := n.do(t, "POST", "/api/admin/config/logo", "admin", map[string]any{"value": gif}); r.status != 200 {
		t.Fatalf("logo upload: %d %s", r.status, r.body)
	}
	if r := n.do(t, "GET", "/logo", "", nil); r.status != 200 || r.header.Get("Content-Type") != "image/gif" {
		t.Fatalf("uploaded logo: %d %v", r.status, r.header)
	}
	if r := n.do(t, "POST", "/api/admin/config/logo", "admin", map[string]any{"value": "data:text/html;base64,PGgxPmhpPC9oMT4="}); r.status != 400 {
		t.Fatalf("html logo accepted: %d", r.status)
	}
}

// TestFederation02Settings: Owncast 0.2's federation/hidefollowers is stored
// and shown to web clients in /api/config and to the admin in serverconfig;
// federation/enablequotes accepts only false (Hearth's federation answers no
// quote requests), and true is Owncast's 400 {success:false}.
func TestFederation02Settings(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	fedOf := func(path, auth string) map[string]any {
		var m map[string]any
		n.do(t, "GET", path, auth, nil).json(t, &m)
		return m["federation"].(map[string]any)
	}
	if f := fedOf("/api/config", ""); f["hideFollowersTab"] != false {
		t.Fatalf("fresh /api/config federation %v", f)
	}
	if f := fedOf("/api/admin/serverconfig", "admin"); f["hideFollowersTab"] != false || f["enableQuotes"] != false {
		t.Fatalf("fresh serverconfig federation %v", f)
	}
	if r := n.do(t, "POST", "/api/admin/config/federation/hidefollowers", "admin", map[string]any{"value": true}); r.status != 200 {
		t.Fatalf("hidefollowers: %d %s", r.status, r.body)
	}
	if f := fedOf("/api/config", ""); f["hideFollowersTab"] != true {
		t.Fatalf("/api/config federation after hidefollowers %v", f)
	}
	if f := fedOf("/api/admin/serverconfig", "admin"); f["hideFollowersTab"] != true {
		t.Fatalf("serverconfig federation after hidefollowers %v", f)
	}
	if r := n.do(t, "POST", "/api/admin/config/federation/hidefollowers", "admin", map[string]any{"value": "yes"}); r.status != 400 {
		t.Fatalf("hidefollowers with a string: %d", r.status)
	}
	if r := n.do(t, "POST", "/api/admin/config/federation/enablequotes", "admin", map[string]any{"value": false}); r.status != 200 {
		t.Fatalf("enablequotes false: %d %s", r.status, r.body)
	}
	r := n.do(t, "POST", "/api/admin/config/federation/enablequotes", "admin", map[string]any{"value": true})
	var res map[string]any
	r.json(t, &res)
	if r.status != 400 || res["success"] != false || !strings.Contains(res["message"].(string), "quote") {
		t.Fatalf("enablequotes true: %d %s", r.status, r.body)
	}
	if f := fedOf("/api/admin/serverconfig", "admin"); f["enableQuotes"] != false {
		t.Fatalf("serverconfig enableQuotes after a refused true: %v", f)
	}
	if r := n.do(t, "POST", "/api/admin/config/federation/enablequotes", "", map[string]any{"value": false}); r.status != 401 {
		t.Fatalf("enablequotes without credentials: %d", r.status)
	}
}

// TestAdminRefusesCrossSiteWrites: a browser sends cached Basic
// credentials again with a form another site submits (text/plain needs no
// preflight), so an admin change from a cross-origin page is refused;
// scripts and the admin's own pages are not.
func TestAdminRefusesCrossSiteWrites(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	title := func() string {
		r := n.do(t, "GET", "/api/admin/serverconfig", "admin", nil, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
		if r.status != 200 {
			t.Fatalf("serverconfig: %d %s", r.status, r.body)
		}
		var c struct {
			InstanceDetails struct {
				StreamTitle string `json:"streamTitle"`
			} `json:"instanceDetails"`
		}
		if err := json.Unmarshal(r.body, &c); err != nil {
			t.Fatal(err)
		}
		return c.InstanceDetails.StreamTitle
	}
	for _, hdr := range [][]string{
		{"Content-Type", "text/plain", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"},
		{"Content-Type", "text/plain", "Origin", "https://sub.evil.example", "Sec-Fetch-Site", "same-site"},
		{"Content-Type", "text/plain", "Origin", "https://evil.example"}, // a browser without Sec-Fetch-Site
		{"Content-Type", "application/x-www-form-urlencoded", "Origin", "null"},
	} {
		r := n.do(t, "POST", "/api/admin/config/streamtitle", "admin", `{"value":"pwned"}`, hdr...)
		if r.status != http.StatusForbidden || !strings.Contains(string(r.body), `"success":false`) {
			t.Fatalf("cross-site %v: %d %s", hdr, r.status, r.body)
		}
		if got := title(); got == "pwned" {
			t.Fatalf("cross-site %v changed the stream title", hdr)
		}
	}
	for i, hdr := range [][]string{
		nil, // a script: no Origin, no Sec-Fetch-Site
		{"Origin", n.url, "Sec-Fetch-Site", "same-origin"},
		{"Origin", n.url},
	} {
		want := fmt.Sprintf("title %d", i)
		r := n.do(t, "POST", "/api/admin/config/streamtitle", "admin", map[string]string{"value": want}, hdr...)
		if r.status != 200 {
			t.Fatalf("same-origin %v: %d %s", hdr, r.status, r.body)
		}
		if got := title(); got != want {
			t.Fatalf("same-origin %v: title %q", hdr, got)
		}
	}
}

// TestImageUploadsUpToTheirLimits: an emoji (512 KiB) and a logo (2 MiB)
// arrive as base64 data URLs in JSON, so their bodies are larger than
// other admin requests; each is taken up to its own limit, and a larger
// one is refused as too large, not as unparsable.
func TestImageUploadsUpToTheirLimits(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	dataURL := func(size int) string {
		img := make([]byte, size)
		copy(img, imagehdrtest.PNG(16, 16))
		return "data:image/png;base64," + base64.StdEncoding.EncodeToString(img)
	}
	for _, tc := range []struct {
		path, field string
		size, want  int
		wantMsg     string
	}{
		{"/api/admin/emoji/upload", "data", 300 << 10, 200, ""},
		{"/api/admin/emoji/upload", "data", 512 << 10, 200, ""},
		{"/api/admin/emoji/upload", "data", 900 << 10, 400, "emoji image must be at most 512 KiB"},
		{"/api/admin/config/logo", "value", 1500 << 10, 200, ""},
		{"/api/admin/config/logo", "value", 2 << 20, 200, ""},
		{"/api/admin/config/logo", "value", 3 << 20, 400, "logo must be at most 2 MiB"},
	} {
		body := map[string]any{tc.field: dataURL(tc.size), "name": fmt.Sprintf("big%d", tc.size)}
		r := n.do(t, "POST", tc.path, "admin", body)
		if r.status != tc.want || !strings.Contains(string(r.body), tc.wantMsg) {
			t.Errorf("%s, %d KiB: %d %s, want %d %q", tc.path, tc.size>>10, r.status, r.body, tc.want, tc.wantMsg)
		}
	}
	if r := n.do(t, "GET", "/img/emoji/big307200.png", "", nil); r.status != 200 || len(r.body) != 300<<10 {
		t.Errorf("emoji: %d, %d bytes", r.status, len(r.body))
	}
	if r := n.do(t, "GET", "/logo", "", nil); r.status != 200 || len(r.body) != 2<<20 {
		t.Errorf("logo: %d, %d bytes", r.status, len(r.body))
	}
}
