package together_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/openapitest"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/together"
)

// TestOpenAPIRoutes: every route the surface registers is in api/together.yaml
// with the same method and path, and every operation there is served.
func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()
	doc := openapitest.Load(t, "together.yaml")
	e := newEnv(t, storetest.Engines()[0])
	notInSpec, notServed := openapitest.Diff(e.surf.Patterns(), openapitest.Operations(doc))
	for _, r := range notInSpec {
		t.Errorf("route %s is served but not in api/together.yaml", r)
	}
	for _, r := range notServed {
		t.Errorf("api/together.yaml has %s but the surface does not serve it", r)
	}
}

// request builds a request: body as JSON (or raw when it is a
// *multipartBody), auth as a bearer token or "Bot …".
func (c *oapi) request(method, path, auth string, body any, prefix string) *http.Request {
	c.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case *multipartBody:
		rd, ct = bytes.NewReader(b.data), b.contentType
	default:
		raw, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequest(method, c.e.url+prefix+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	switch {
	case strings.HasPrefix(auth, "Bot "):
		req.Header.Set("Authorization", auth)
	case auth != "":
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	return req
}

// oapi is a client whose every exchange is validated against the spec.
type oapi struct {
	site string // a loopback web page to preview
	t    *testing.T
	e    *env
	tr   *openapitest.Transport
	http *http.Client
}

// send sends body as JSON (or raw when it is a *multipartBody) with a
// bearer or "Bot …" token, checks the status and returns the answer.
func (c *oapi) send(want int, method, path, auth string, body any, prefix string) []byte {
	c.t.Helper()
	req := c.request(method, path, auth, body, prefix)
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d (%s)", method, path, resp.StatusCode, want, raw)
	}
	return raw
}

// do is send for an answer that is a JSON object (or empty).
func (c *oapi) do(want int, method, path, auth string, body any, prefix string) map[string]any {
	c.t.Helper()
	raw := c.send(want, method, path, auth, body, prefix)
	out := map[string]any{}
	if len(raw) > 0 && raw[0] == '{' {
		_ = json.Unmarshal(raw, &out)
	}
	return out
}

// list is send for an answer that is a JSON array of objects.
func (c *oapi) list(want int, method, path, auth string, body any, prefix string) []map[string]any {
	c.t.Helper()
	raw := c.send(want, method, path, auth, body, prefix)
	var out []map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		c.t.Fatalf("%s %s: %v (%s)", method, path, err, raw)
	}
	return out
}

type multipartBody struct {
	data        []byte
	contentType string
}

func multipartFile(t *testing.T, fields map[string]string, field, name string, content []byte) *multipartBody {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	fw, err := w.CreateFormFile(field, name)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(content)
	_ = w.Close()
	return &multipartBody{data: buf.Bytes(), contentType: w.FormDataContentType()}
}

// onePixelPNG is a valid 1×1 PNG.
var onePixelPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" +
	"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

// TestOpenAPIResponses walks a representative client flow (auth, servers,
// channels, roles, messages, threads, reactions, pins, polls, events,
// search, DMs, invites, voice, bots, webhooks, moderation, admin) through a
// client that validates every request and response against
// api/together.yaml, bare and under /api.
func TestOpenAPIResponses(t *testing.T) {
	t.Parallel()
	doc := openapitest.Load(t, "together.yaml")
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			// A page to preview and a GIPHY stand-in, on loopback (which
			// the harness's egress client lets through).
			site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				if r.URL.Path == "/v1/gifs/search" {
					w.Header().Set("Content-Type", "application/json")
					_, _ = io.WriteString(w, `{"data":[{"title":"quokka","images":{"original":{"url":"https://media.example/q.gif","width":"200","height":"150"},"fixed_height_downsampled":{"url":"https://media.example/q-small.gif","width":"100","height":"75"}}}]}`)
					return
				}
				_, _ = io.WriteString(w, `<html><head><title>Quokkas</title><meta property="og:title" content="Quokkas"><meta property="og:description" content="Happy marsupials"><meta property="og:site_name" content="Example"></head></html>`)
			}))
			t.Cleanup(site.Close)
			e := newEnv(t, eng, func(d *together.Deps) { d.GiphyAPIKey, d.GiphyBase = "test-key", site.URL })
			tr := openapitest.NewTransport(t, doc, nil)
			c := &oapi{t: t, e: e, tr: tr, http: tr.Client(), site: site.URL}
			if _, _, err := e.ident.EnsureAdmin(t.Context(), "root", "password123"); err != nil {
				t.Fatal(err)
			}
			for _, prefix := range []string{"", "/api"} {
				c.flow(prefix)
			}
			if missed := tr.Unvisited(doc); len(missed) > 0 {
				t.Errorf("the flow does not reach these operations of the spec (extend it): %v", missed)
			}
		})
	}
}

func (c *oapi) flow(prefix string) {
	t := c.t
	do := func(want int, method, path, auth string, body any) map[string]any {
		t.Helper()
		return c.do(want, method, path, auth, body, prefix)
	}
	str := func(m map[string]any, k string) string {
		t.Helper()
		s, ok := m[k].(string)
		if !ok {
			t.Fatalf("no %q in %v", k, m)
		}
		return s
	}
	suffix := strings.TrimPrefix(prefix, "/")
	do(200, "GET", "/health", "", nil)
	do(200, "GET", "/health/ready", "", nil)
	do(200, "GET", "/health/live", "", nil)
	do(200, "GET", "/instance/registration-mode", "", nil)
	root := str(do(200, "POST", "/auth/login", "", map[string]string{"username": "root", "password": "password123"}), "access_token")

	reg := do(201, "POST", "/auth/register", "", map[string]string{"username": "ann" + suffix, "password": "password123", "email": "ann" + suffix + "@example.org"})
	ann, annRefresh := str(reg, "access_token"), str(reg, "refresh_token")
	annID := str(reg["user"].(map[string]any), "id")
	reg = do(201, "POST", "/auth/register", "", map[string]string{"username": "bob" + suffix, "password": "password123"})
	bob, bobID := str(reg, "access_token"), str(reg["user"].(map[string]any), "id")
	ann = str(do(200, "POST", "/auth/refresh", "", map[string]string{"refresh_token": annRefresh}), "access_token")
	// A reused refresh token within the grace gets the same pair again
	// (identity's TestRefreshGrace covers reuse after it); the 401 shape is
	// checked with a token that was never issued.
	do(401, "POST", "/auth/refresh", "", map[string]string{"refresh_token": annRefresh + "x"})
	// Reusing a rotated refresh token ends the session: sign in again.
	ann = str(do(200, "POST", "/auth/login", "", map[string]string{"username": "ann" + suffix, "password": "password123"}), "access_token")
	do(200, "GET", "/users/@me", ann, nil)
	do(200, "PATCH", "/users/@me", ann, map[string]any{"bio": "hi", "pronouns": "she/her", "status": "away"})
	do(200, "GET", "/users/"+bobID, ann, nil)
	do(404, "GET", "/users/00000000-0000-4000-8000-00000000dead", ann, nil)

	do(200, "GET", "/server-templates", ann, nil)
	srv := do(201, "POST", "/servers", ann, map[string]any{"name": "Quokkas", "is_public": true})
	sid := str(srv, "id")
	do(201, "POST", "/servers", ann, map[string]any{"name": "From template", "template_id": "00000000-0000-4000-8000-000000000001"})
	do(200, "GET", "/servers", ann, nil)
	do(200, "GET", "/servers/browse", bob, nil)
	do(200, "GET", "/servers/"+sid, ann, nil)
	do(404, "GET", "/servers/"+sid, bob, nil)
	do(200, "PATCH", "/servers/"+sid, ann, map[string]any{"name": "Quokka Island"})
	do(201, "POST", "/servers/"+sid+"/join", bob, nil)
	do(200, "GET", "/servers/"+sid+"/members", bob, nil)

	cid := str(do(201, "POST", "/servers/"+sid+"/channels", ann, map[string]any{"name": "general", "type": "text", "topic": "all things"}), "id")
	vid := str(do(201, "POST", "/servers/"+sid+"/channels", ann, map[string]any{"name": "Lobby", "type": "voice", "category": "Voice"}), "id")
	tmp := str(do(201, "POST", "/servers/"+sid+"/channels", ann, map[string]any{"name": "tmp", "type": "text"}), "id")
	do(200, "GET", "/servers/"+sid+"/channels", bob, nil)
	do(200, "GET", "/servers/"+sid+"/channels/"+cid, bob, nil)
	do(200, "PATCH", "/servers/"+sid+"/channels/"+tmp, ann, map[string]any{"topic": "soon gone", "position": 5})
	do(204, "DELETE", "/servers/"+sid+"/channels/"+tmp, ann, nil)

	rid := str(do(201, "POST", "/servers/"+sid+"/roles", ann, map[string]any{"name": "mods", "permissions": 4 | 128 | 256, "color": "#ff8800"}), "id")
	do(200, "GET", "/servers/"+sid+"/roles", bob, nil)
	do(200, "PATCH", "/servers/"+sid+"/roles/"+rid, ann, map[string]any{"name": "moderators"})
	do(204, "PUT", "/servers/"+sid+"/members/"+bobID+"/roles/"+rid, ann, nil)
	do(204, "DELETE", "/servers/"+sid+"/members/"+bobID+"/roles/"+rid, ann, nil)
	ov := do(200, "PUT", "/channels/"+cid+"/overrides", ann, map[string]any{"role_id": rid, "allow": 16, "deny": 0})
	do(200, "GET", "/channels/"+cid+"/overrides", ann, nil)
	do(204, "DELETE", "/channels/"+cid+"/overrides/"+str(ov, "id"), ann, nil)

	m := do(201, "POST", "/channels/"+cid+"/messages", bob, map[string]any{"content": "hello @ann" + suffix + " quokka"})
	mid := str(m, "id")
	do(201, "POST", "/channels/"+cid+"/messages", ann, map[string]any{"content": "a reply about quokkas", "reply_to": mid})
	do(200, "GET", "/channels/"+cid+"/messages?limit=10", ann, nil)
	do(200, "GET", "/channels/"+cid+"/messages?before="+mid, ann, nil)
	do(200, "GET", "/channels/"+cid+"/messages/"+mid, ann, nil)
	do(200, "PATCH", "/messages/"+mid, bob, map[string]any{"content": "hello again, quokka"})
	do(403, "PATCH", "/messages/"+mid, ann, map[string]any{"content": "not mine"})
	do(201, "POST", "/channels/"+cid+"/messages/"+mid+"/thread", ann, map[string]any{"content": "threaded"})
	do(200, "GET", "/channels/"+cid+"/messages/"+mid+"/thread", bob, nil)
	do(204, "PUT", "/channels/"+cid+"/messages/"+mid+"/reactions/%F0%9F%91%8D", ann, nil)
	do(200, "GET", "/channels/"+cid+"/messages/"+mid+"/reactions", bob, nil)
	do(204, "DELETE", "/channels/"+cid+"/messages/"+mid+"/reactions/%F0%9F%91%8D", ann, nil)
	do(204, "POST", "/channels/"+cid+"/messages/"+mid+"/pin", ann, nil)
	do(200, "GET", "/channels/"+cid+"/pinned-messages", bob, nil)
	do(200, "GET", "/channels/"+cid+"/messages/"+mid, ann, nil)
	do(204, "DELETE", "/channels/"+cid+"/messages/"+mid+"/pin", ann, nil)
	do(204, "POST", "/channels/"+cid+"/ack", bob, nil)
	do(200, "GET", "/servers/"+sid+"/search?q=quokka&limit=1", bob, nil)
	do(200, "GET", "/servers/"+sid+"/search?q=quokka&channel_id="+cid, bob, nil)
	do(400, "GET", "/servers/"+sid+"/search?q=q", bob, nil)

	poll := do(201, "POST", "/channels/"+cid+"/polls", ann, map[string]any{"question": "Best marsupial?", "options": []string{"quokka", "wombat"}})
	pollObj, _ := poll["poll"].(map[string]any)
	if pollObj == nil {
		t.Fatalf("poll message without poll: %v", poll)
	}
	pid := str(pollObj, "id")
	do(200, "GET", "/polls/"+pid, bob, nil)
	opt := str(pollObj["options"].([]any)[0].(map[string]any), "id")
	do(200, "POST", "/polls/"+pid+"/vote", bob, map[string]any{"option_id": opt})
	do(201, "POST", "/channels/"+cid+"/events", ann, map[string]any{"name": "Quokka walk", "description": "Bring snacks", "starts_at": "2099-01-01T10:00:00Z"})
	do(200, "GET", "/servers/"+sid+"/events", bob, nil)

	up := do(201, "POST", "/channels/"+cid+"/messages", ann, map[string]any{"content": "a picture"})
	atts := c.list(201, "POST", "/messages/"+str(up, "id")+"/attachments", ann, multipartFile(t, nil, "files", "dot.png", onePixelPNG), prefix)
	if len(atts) != 1 {
		t.Fatalf("upload answered %v", atts)
	}
	do(200, "GET", str(atts[0], "url"), "", nil)
	// The nodes' route refuses what the cluster's key did not sign.
	filePath, _, _ := strings.Cut(str(atts[0], "url"), "?")
	do(403, "GET", filePath+"/peer?exp=1&sig=00", "", nil)
	do(200, "GET", "/messages/"+str(up, "id")+"/attachments", bob, nil)
	emo := c.do(201, "POST", "/servers/"+sid+"/emojis", ann, multipartFile(t, map[string]string{"name": "dot"}, "image", "dot.png", onePixelPNG), prefix)
	do(200, "GET", "/servers/"+sid+"/emojis", bob, nil)
	do(200, "GET", "/emojis/"+str(emo, "id"), "", nil)
	do(403, "GET", "/emojis/"+str(emo, "id")+"/peer?exp=1&sig=00", "", nil)
	do(204, "DELETE", "/servers/"+sid+"/emojis/"+str(emo, "id"), ann, nil)

	dm := do(201, "POST", "/dm-channels", bob, map[string]any{"user_id": annID})
	do(200, "POST", "/dm-channels", bob, map[string]any{"user_id": annID})
	dmid := str(dm, "id")
	do(201, "POST", "/dm-channels/"+dmid+"/messages", bob, map[string]any{"content": "psst"})
	do(200, "GET", "/dm-channels/"+dmid+"/messages", ann, nil)
	do(200, "GET", "/dm-channels", ann, nil)
	do(204, "POST", "/dm-channels/"+dmid+"/ack", ann, nil)

	inv := do(201, "POST", "/servers/"+sid+"/invites", ann, map[string]any{"max_uses": 5, "expires_in_hours": 24})
	do(200, "GET", "/servers/"+sid+"/invites", ann, nil)
	reg = do(201, "POST", "/auth/register", "", map[string]string{"username": "cat" + suffix, "password": "password123"})
	cat, catID := str(reg, "access_token"), str(reg["user"].(map[string]any), "id")
	do(200, "GET", "/invites/"+str(inv, "code"), cat, nil)
	do(201, "POST", "/invites/"+str(inv, "code")+"/accept", cat, nil)
	do(204, "DELETE", "/servers/"+sid+"/invites/"+str(inv, "id"), ann, nil)

	do(201, "POST", "/channels/"+vid+"/voice", bob, nil)
	do(200, "PATCH", "/channels/"+vid+"/voice", bob, map[string]any{"self_mute": true})
	do(200, "GET", "/channels/"+vid+"/voice", ann, nil)
	do(201, "POST", "/channels/"+vid+"/go-live", bob, map[string]any{"quality": "720p"})
	do(200, "GET", "/channels/"+vid+"/go-live", ann, nil)
	do(204, "DELETE", "/channels/"+vid+"/go-live", bob, nil)
	do(204, "DELETE", "/channels/"+vid+"/voice", bob, nil)
	do(200, "GET", "/ice-servers", bob, nil)
	do(200, "GET", "/link-preview?url="+url.QueryEscape(c.site+"/page"), bob, nil)
	do(400, "GET", "/link-preview?url=ftp%3A%2F%2Fexample.org", bob, nil)
	do(200, "GET", "/giphy/search?q=quokka&limit=5", bob, nil)

	bot := do(201, "POST", "/bots", ann, map[string]any{"name": "helper" + suffix, "description": "says hi"})
	botID, botTok := str(bot["bot"].(map[string]any), "id"), str(bot, "token")
	do(200, "GET", "/bots", ann, nil)
	do(200, "GET", "/bots/"+botID, ann, nil)
	do(200, "PATCH", "/bots/"+botID, ann, map[string]any{"description": "says hello"})
	do(200, "POST", "/bots/connect", "Bot "+botTok, nil)
	do(200, "GET", "/users/@me", "Bot "+botTok, nil)
	do(200, "GET", "/bots/"+botID+"/logs", ann, nil)
	botTok = str(do(200, "POST", "/bots/"+botID+"/token/regenerate", ann, nil), "token")
	do(204, "DELETE", "/bots/"+botID, ann, nil)
	do(401, "GET", "/users/@me", "Bot "+botTok, nil)

	wh := do(201, "POST", "/servers/"+sid+"/webhooks", ann, map[string]any{"name": "hook", "url": "https://hooks.example.org/x", "event_types": []string{"message.created"}})
	whID := str(wh["webhook"].(map[string]any), "id")
	do(200, "GET", "/servers/"+sid+"/webhooks", ann, nil)
	do(200, "GET", "/servers/"+sid+"/webhooks/"+whID, ann, nil)
	do(202, "POST", "/servers/"+sid+"/webhooks/"+whID+"/test", ann, nil)
	do(200, "PATCH", "/servers/"+sid+"/webhooks/"+whID, ann, map[string]any{"enabled": false})
	do(204, "DELETE", "/servers/"+sid+"/webhooks/"+whID, ann, nil)

	do(404, "GET", "/servers/"+sid+"/automod", ann, nil) // none until the first PATCH, as in Together
	do(200, "PATCH", "/servers/"+sid+"/automod", ann, map[string]any{"enabled": true, "word_filter_enabled": true, "word_filter_action": "delete"})
	do(200, "GET", "/servers/"+sid+"/automod", ann, nil)
	do(201, "POST", "/servers/"+sid+"/automod/words", ann, map[string]any{"word": "platypus"})
	do(200, "GET", "/servers/"+sid+"/automod/words", ann, nil)
	do(403, "POST", "/channels/"+cid+"/messages", bob, map[string]any{"content": "a platypus!"})
	do(200, "GET", "/servers/"+sid+"/automod/logs", ann, nil)
	do(204, "DELETE", "/servers/"+sid+"/automod/words/platypus", ann, nil)
	do(200, "POST", "/servers/"+sid+"/members/"+bobID+"/timeout", ann, map[string]any{"duration_minutes": 5, "reason": "cool off"})
	do(204, "DELETE", "/servers/"+sid+"/members/"+bobID+"/timeout", ann, nil)
	do(204, "POST", "/servers/"+sid+"/members/"+catID+"/kick", ann, map[string]any{"reason": "bye"})
	do(204, "POST", "/servers/"+sid+"/members/"+bobID+"/ban", ann, map[string]any{"reason": "rude"})
	do(200, "GET", "/servers/"+sid+"/bans", ann, nil)
	do(204, "DELETE", "/servers/"+sid+"/bans/"+bobID, ann, nil)
	do(200, "GET", "/servers/"+sid+"/audit-logs?limit=20", ann, nil)
	do(200, "GET", "/servers/"+sid+"/export", ann, nil)
	do(204, "DELETE", "/servers/"+sid+"/roles/"+rid, ann, nil)

	do(204, "DELETE", "/messages/"+str(up, "id"), ann, nil)
	do(201, "POST", "/servers/"+sid+"/join", bob, nil)
	do(204, "DELETE", "/servers/"+sid+"/leave", bob, nil)
	do(204, "DELETE", "/servers/"+sid, ann, nil)
	reset := do(200, "POST", "/auth/forgot-password", root, map[string]any{"email": "ann" + suffix + "@example.org"})
	do(200, "POST", "/auth/reset-password", "", map[string]any{"token": str(reset, "token"), "new_password": "password456"})
	annTok := str(do(200, "POST", "/auth/login", "", map[string]string{"username": "ann" + suffix, "password": "password456"}), "access_token")
	do(200, "POST", "/auth/change-password", annTok, map[string]any{"current_password": "password456", "new_password": "password789"})
	do(403, "POST", "/auth/change-password", bob, map[string]any{"current_password": "wrong-one", "new_password": "password789"})
	if prefix == "/api" {
		do(200, "GET", "/admin/stats", root, nil)
		do(200, "GET", "/admin/settings", root, nil)
		do(200, "PATCH", "/admin/settings", root, map[string]any{"registration_mode": "open"})
		do(200, "GET", "/admin/users?search=ann&per_page=10", root, nil)
		do(200, "PATCH", "/admin/users/"+catID, root, map[string]any{"disabled": true})
		do(204, "PUT", "/admin/users/"+bobID+"/password", root, map[string]any{"new_password": "password321"})
		bob = str(do(200, "POST", "/auth/login", "", map[string]string{"username": "bob" + suffix, "password": "password321"}), "access_token")
		do(200, "GET", "/admin/servers", root, nil)
		doomed := str(do(201, "POST", "/servers", root, map[string]any{"name": "Doomed"}), "id")
		do(204, "DELETE", "/admin/servers/"+doomed, root, nil)
		do(403, "GET", "/admin/stats", bob, nil)
		do(204, "DELETE", "/admin/users/"+catID, root, nil)
	}
	do(204, "POST", "/auth/logout", bob, nil)
}
