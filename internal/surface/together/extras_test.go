package together_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/together"
)

func pngBytes(t *testing.T, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type part struct {
	field, name string
	data        []byte
}

func (e *env) upload(path, token string, parts []part) (int, string) {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range parts {
		var w io.Writer
		if p.name == "" {
			w, _ = mw.CreateFormField(p.field)
		} else {
			w, _ = mw.CreateFormFile(p.field, p.name)
		}
		_, _ = w.Write(p.data)
	}
	_ = mw.Close()
	req, _ := http.NewRequest("POST", e.url+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// TestAttachmentsEmojiPollsEvents covers uploads (sniffed types, names,
// signed URLs), custom emoji, polls, events and link previews.
func TestAttachmentsEmojiPollsEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bob := e.register("ann"), e.register("bob")
	sid, cid := e.serverWithChannel(ann, "files", bob)
	m, _ := e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": "see attached"})
	mid := m["id"].(string)
	img := pngBytes(t, 3, 2)
	cases := []struct {
		name  string
		token string
		parts []part
		code  int
		want  string
	}{
		{"png with traversal name", ann.access, []part{{"files", "../../etc/passwd.png", img}}, 201, `"filename":"passwd.png"`},
		// As Together (attachments.rs): only parts named "files" are
		// files; others are passed over, and none at all is 400.
		{"wrong field", ann.access, []part{{"file", "a.png", img}}, 400, `No files provided — include at least one field named \"files\"`},
		{"html refused", ann.access, []part{{"files", "x.html", []byte("<html><script>alert(1)</script></html>")}}, 400, "File type 'text/html' is not allowed"},
		{"svg refused", ann.access, []part{{"files", "x.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`)}}, 400, "looks like markup"},
		{"markup in text refused", ann.access, []part{{"files", "x.txt", []byte("hi <script>alert(1)</script>")}}, 400, "looks like markup"},
		{"zip refused", ann.access, []part{{"files", "x.zip", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00")}}, 400, "File type 'application/zip' is not allowed"},
		{"binary refused", ann.access, []part{{"files", "x.bin", []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0}}}, 400, "File type could not be determined."},
		{"empty refused", ann.access, []part{{"files", "e.txt", nil}}, 400, "Files must not be empty"},
		{"not the author", bob.access, []part{{"files", "b.png", img}}, 403, "Only the message author can add attachments"},
		{"eleven files", ann.access, func() []part {
			ps := make([]part, 11)
			for i := range ps {
				ps[i] = part{"files", "t.txt", []byte("hello")}
			}
			return ps
		}(), 400, "Messages may not have more than 10 attachments"},
	}
	for _, c := range cases {
		code, body := e.upload("/messages/"+mid+"/attachments", c.token, c.parts)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s", c.name, code, body)
		}
	}
	_, list := e.must(200, "GET", "/messages/"+mid+"/attachments", bob.access, nil)
	if len(list) != 1 {
		t.Fatalf("attachments %v", list)
	}
	// A part of another name beside the files (a caption, say) is passed
	// over, as Together does; and the message's files count towards its 10.
	m2, _ := e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": "with a caption"})
	if code, body := e.upload("/messages/"+m2["id"].(string)+"/attachments", ann.access,
		[]part{{"content", "", []byte("caption")}, {"files", "a.txt", []byte("hello")}, {"extra", "x.bin", []byte{0, 1, 2}}}); code != 201 ||
		!strings.Contains(body, `"filename":"a.txt"`) || strings.Count(body, `"id"`) != 1 {
		t.Errorf("stray fields beside files: %d %s", code, body)
	}
	nine := make([]part, 9)
	for i := range nine {
		nine[i] = part{"files", "t.txt", []byte("hello")}
	}
	if code, body := e.upload("/messages/"+m2["id"].(string)+"/attachments", ann.access, append(nine, nine[0])); code != 400 ||
		!strings.Contains(body, "Messages may not have more than 10 attachments") {
		t.Errorf("1 + 10 files: %d %s", code, body)
	}
	a := list[0].(map[string]any)
	if a["width"] != 3.0 || a["height"] != 2.0 || a["mime_type"] != "image/png" {
		t.Errorf("attachment %v", a)
	}
	// The signed URL loads without a header (an <img> tag); tampering fails.
	signed := a["url"].(string)
	resp, err := http.Get(e.url + signed)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, img) || resp.Header.Get("Content-Type") != "image/png" ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("signed GET: %d %s", resp.StatusCode, resp.Header)
	}
	u, _ := url.Parse(signed)
	if code, _, _ := e.call("GET", u.Path+"?exp="+u.Query().Get("exp")+"&sig=00", "", nil); code != 401 {
		t.Errorf("bad signature: %d", code)
	}
	if code, _, _ := e.call("GET", "/api"+u.Path, bob.access, nil); code != 200 {
		t.Errorf("header auth: %d", code)
	}
	if code, _, _ := e.call("GET", "/files/"+mid+"/..%2f..%2fhearth.db", bob.access, nil); code != 404 {
		t.Errorf("traversal: %d", code)
	}
	// Custom emoji.
	code, body := e.upload("/servers/"+sid+"/emojis", ann.access, []part{{"name", "", []byte("party_parrot")}, {"image", "p.png", img}})
	if code != 201 || !strings.Contains(body, `"url":"/emojis/`) {
		t.Fatalf("emoji: %d %s", code, body)
	}
	// Refusals in Together's words (custom_emojis.rs).
	for _, c := range []struct {
		name  string
		token string
		parts []part
		code  int
		want  string
	}{
		{"member", bob.access, []part{{"name", "", []byte("x")}, {"image", "p.png", img}}, 403, "You need the Administrator permission to manage custom emojis"},
		{"no name", ann.access, []part{{"image", "p.png", img}}, 400, "Missing 'name' field"},
		{"long name", ann.access, []part{{"name", "", []byte(strings.Repeat("a", 33))}, {"image", "p.png", img}}, 400, "Emoji name must be between 1 and 32 characters"},
		{"bad name", ann.access, []part{{"name", "", []byte("Bad Name")}, {"image", "p.png", img}}, 400, "Emoji name may only contain lowercase letters, digits, underscores, and hyphens"},
		{"no image", ann.access, []part{{"name", "", []byte("a")}}, 400, "Missing 'image' field"},
		{"empty image", ann.access, []part{{"name", "", []byte("a")}, {"image", "p.png", nil}}, 400, "Image must not be empty"},
		{"pdf", ann.access, []part{{"name", "", []byte("a")}, {"image", "p.pdf", []byte("%PDF-1.4\n")}}, 400, "Image type 'application/pdf' is not allowed. Use JPEG, PNG, GIF, or WebP."},
		{"unknown", ann.access, []part{{"name", "", []byte("a")}, {"image", "p.bin", []byte{0, 1, 2, 3}}}, 400, "Image type could not be determined. Use JPEG, PNG, GIF, or WebP."},
	} {
		code, body := e.upload("/servers/"+sid+"/emojis", c.token, c.parts)
		var got map[string]any
		_ = json.Unmarshal([]byte(body), &got)
		if code != c.code || got["error"] != c.want {
			t.Errorf("emoji %s: %d %s, want %d %q", c.name, code, body, c.code, c.want)
		}
	}
	// A taken name is Together's 400, not 409.
	if code, body := e.upload("/servers/"+sid+"/emojis", ann.access, []part{{"name", "", []byte("party_parrot")}, {"image", "p.png", img}}); code != 400 ||
		!strings.Contains(body, "An emoji named 'party_parrot' already exists in this server") {
		t.Errorf("taken emoji name: %d %s", code, body)
	}
	_, emojis := e.must(200, "GET", "/servers/"+sid+"/emojis", bob.access, nil)
	if len(emojis) != 1 {
		t.Fatalf("emojis %v", emojis)
	}
	resp, err = http.Get(e.url + emojis[0].(map[string]any)["url"].(string))
	if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "public") {
		t.Errorf("emoji image: %v %v", resp, err)
	}
	resp.Body.Close()
	// Polls.
	pm, _ := e.must(201, "POST", "/channels/"+cid+"/polls", ann.access, map[string]any{"question": "Pizza?", "options": []string{"yes", "no"}})
	poll := pm["poll"].(map[string]any)
	if !strings.HasPrefix(pm["content"].(string), "📊 **Poll**: Pizza?") || poll["total_votes"] != 0.0 {
		t.Fatalf("poll message %v", pm)
	}
	e.must(400, "POST", "/channels/"+cid+"/polls", ann.access, map[string]any{"question": "x", "options": []string{"only"}})
	pid := poll["id"].(string)
	opt := poll["options"].([]any)[1].(map[string]any)["id"].(string)
	voted, _ := e.must(200, "POST", "/polls/"+pid+"/vote", bob.access, map[string]any{"option_id": opt})
	if voted["total_votes"] != 1.0 || voted["user_vote"] != opt {
		t.Errorf("vote %v", voted)
	}
	e.must(400, "POST", "/polls/"+pid+"/vote", bob.access, map[string]any{"option_id": "00000000-0000-0000-0000-000000000000"}) // not one of its options
	_, listed := e.must(200, "GET", "/channels/"+cid+"/messages?limit=1", ann.access, nil)
	if lp := listed[0].(map[string]any)["poll"].(map[string]any); lp["total_votes"] != 1.0 || lp["user_vote"] != nil {
		t.Errorf("listed poll %v", lp)
	}
	// Events.
	start := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	em, _ := e.must(201, "POST", "/channels/"+cid+"/events", ann.access, map[string]any{"name": "Game night", "starts_at": start})
	if em["event"].(map[string]any)["name"] != "Game night" {
		t.Errorf("event message %v", em)
	}
	_, evs := e.must(200, "GET", "/servers/"+sid+"/events", bob.access, nil)
	if len(evs) != 1 {
		t.Errorf("events %v", evs)
	}
	// Link previews through the egress client.
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, `<html><head><title>Fallback</title><meta property="og:title" content="Hearth &amp; co">
<meta name="description" content="A place"><meta property="og:image" content="javascript:alert(1)"></head><body></body></html>`)
	}))
	defer page.Close()
	pv, _ := e.must(200, "GET", "/link-preview?url="+url.QueryEscape(page.URL), bob.access, nil)
	if pv["title"] != "Hearth & co" || pv["description"] != "A place" || pv["image"] != nil || pv["site_name"] != nil {
		t.Errorf("preview %v", pv)
	}
	e.must(400, "GET", "/link-preview?url="+url.QueryEscape("file:///etc/passwd"), bob.access, nil)
}

// TestWebhooks: a subscribed server receives signed message.created and
// member.joined deliveries; validation follows Together's rules.
func TestWebhooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bob := e.register("ann"), e.register("bob")
	srv, _ := e.must(201, "POST", "/servers", ann.access, map[string]any{"name": "W", "is_public": true})
	sid := srv["id"].(string)
	ch, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "g", "type": "text"})
	type hit struct {
		sig, hook string
		body      []byte
	}
	hits := make(chan hit, 10)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hits <- hit{r.Header.Get("X-Together-Signature-256"), r.Header.Get("X-Together-Hook-ID"), body}
	}))
	defer target.Close()
	for _, bad := range []map[string]any{
		{"name": "x", "url": "ftp://example.org", "event_types": []string{"message.created"}},
		{"name": "x", "url": target.URL, "event_types": []string{}},
		{"name": "x", "url": target.URL, "event_types": []string{"message.exploded"}},
		{"name": "", "url": target.URL, "event_types": []string{"message.created"}},
	} {
		e.must(400, "POST", "/servers/"+sid+"/webhooks", ann.access, bad)
	}
	e.must(201, "POST", "/servers/"+sid+"/join", bob.access, nil)
	e.must(403, "POST", "/servers/"+sid+"/webhooks", bob.access, map[string]any{"name": "x", "url": target.URL, "event_types": []string{"message.created"}})
	created, _ := e.must(201, "POST", "/servers/"+sid+"/webhooks", ann.access, map[string]any{"name": "ci", "url": target.URL,
		"event_types": []string{"message.created", "member.left"}})
	secret := created["secret"].(string)
	hookID := created["webhook"].(map[string]any)["id"].(string)
	verify := func(h hit, event string) {
		t.Helper()
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(h.body)
		if h.sig != "sha256="+hex.EncodeToString(m.Sum(nil)) || h.hook != hookID {
			t.Errorf("bad signature or hook id: %q %q", h.sig, h.hook)
		}
		var env map[string]any
		_ = json.Unmarshal(h.body, &env)
		if env["event"] != event || env["server_id"] != sid {
			t.Errorf("delivery %s", h.body)
		}
	}
	e.must(201, "POST", "/channels/"+ch["id"].(string)+"/messages", bob.access, map[string]any{"content": "hook me"})
	verify(<-hits, "message.created")
	e.must(204, "DELETE", "/servers/"+sid+"/leave", bob.access, nil)
	verify(<-hits, "member.left")
	// A JSON body: Together's web client parses every answer but a 204.
	if obj, _ := e.must(202, "POST", "/servers/"+sid+"/webhooks/"+hookID+"/test", ann.access, nil); obj["message"] == nil {
		t.Errorf("webhook test: %v, want a JSON body", obj)
	}
	verify(<-hits, "ping")
	list, _ := e.must(200, "GET", "/servers/"+sid+"/webhooks", ann.access, nil)
	if whs := list["webhooks"].([]any); len(whs) != 1 || whs[0].(map[string]any)["secret"] != nil {
		t.Errorf("list %v", list)
	}
	e.must(200, "PATCH", "/servers/"+sid+"/webhooks/"+hookID, ann.access, map[string]any{"enabled": false})
	e.must(204, "DELETE", "/servers/"+sid+"/webhooks/"+hookID, ann.access, nil)
	e.must(404, "GET", "/servers/"+sid+"/webhooks/"+hookID, ann.access, nil)
}

// TestGiphy: without a key GIF search is 503; with one, Giphy's answer is
// mapped to Together's results (limit capped at 25).
func TestGiphy(t *testing.T) {
	t.Parallel()
	var gotQuery url.Values
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotQuery = r.URL.Query()
		_, _ = io.WriteString(w, `{"data":[{"title":"cat","images":{"original":{"url":"https://media.giphy.com/cat.gif","width":"480","height":"270"},
"fixed_height_downsampled":{"url":"https://media.giphy.com/cat-small.gif"}}},{"title":"broken","images":{}}]}`)
	}))
	defer fake.Close()
	off := newEnv(t, storetest.Engines()[0])
	u := off.register("ann")
	off.must(503, "GET", "/giphy/search?q=cat", u.access, nil)
	off.must(400, "GET", "/giphy/search", u.access, nil) // Together checks q before its key
	on := newEnv(t, storetest.Engines()[0], func(d *together.Deps) { d.GiphyAPIKey = "k"; d.GiphyBase = fake.URL })
	v := on.register("bob")
	on.must(400, "GET", "/giphy/search?q=", v.access, nil)
	_, gifs := on.must(200, "GET", "/giphy/search?q=cat&limit=50", v.access, nil)
	if len(gifs) != 1 || gifs[0].(map[string]any)["width"] != 480.0 || gifs[0].(map[string]any)["preview_url"] != "https://media.giphy.com/cat-small.gif" {
		t.Errorf("gifs %v", gifs)
	}
	if gotQuery.Get("limit") != "25" || gotQuery.Get("rating") != "g" || gotQuery.Get("api_key") != "k" {
		t.Errorf("query to Giphy %v", gotQuery)
	}
}
