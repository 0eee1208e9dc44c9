package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/hearth-community/hearth/internal/openapitest"
)

// secret marks every name and body the sweep's fixtures own: a refusal that
// contains it leaks guarded data.
const secret = "zq7secret"

// sweepException loosens the sweep for one operation: on the attempts
// named (all when empty) any of codes is accepted and the body's shape is
// not checked. It is still never 2xx or 5xx and never leaks.
type sweepException struct {
	why      string
	attempts []string
	codes    []int
}

// sweepExceptions are the operations whose refusal is not their surface's
// own, each with why. Keep it short: an operation belongs here only when
// its spec is right and another surface answers on a path they share.
var sweepExceptions = map[string]sweepException{
	"together.adminServers":  {"bare GET /admin/* without a Bearer token is the web UI's admin page (HTML 401); docs/compatibility.md shared paths", []string{"none"}, []int{401}},
	"together.adminSettings": {"bare GET /admin/* without a Bearer token is the web UI's admin page (HTML 401)", []string{"none"}, []int{401}},
	"together.adminStats":    {"bare GET /admin/* without a Bearer token is the web UI's admin page (HTML 401)", []string{"none"}, []int{401}},
	"together.adminUsers":    {"bare GET /admin/users is the web UI's admin page and /api/admin/users Owncast's admin route without a Bearer token (401 either way)", []string{"none"}, []int{401}},
}

// TestNoCredentialsSweep walks every operation of the four OpenAPI files on
// one node with every surface mounted. An operation whose spec requires
// credentials is sent with none and with a forged one of each scheme it
// lists (path parameters naming real objects another account owns, a
// minimal JSON body): each answer is that surface's refusal (Together and
// Hearth 401, OTT 400 MissingToken without a token and 401 with an unknown
// one, Owncast 401 text), never 2xx or 5xx, and shows none of the objects'
// data. Public operations (`security: []`) and optional ones never answer
// 5xx either. The WebSocket endpoints the specs describe refuse a caller
// without a valid token as their peer does.
func TestNoCredentialsSweep(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	// Every optional part on, so its routes are swept too: OTT's dev
	// routes and Discord sign-in, the Owncast directory, WebRTC.
	cfg.OttDevRoutes = true
	cfg.DiscordClientID, cfg.DiscordClientSecret = "sweep-client", "sweep-secret"
	cfg.DiscordAuthorizeURL = "https://id.example/oauth2/authorize"
	cfg.DiscordTokenURL, cfg.DiscordUserURL = "https://id.example/token", "https://id.example/me"
	cfg.DirectoryURL = "https://directory.example"
	cfg.RTCUDPAddr = "127.0.0.1:0"
	a, _ := start(t, cfg, nil)
	base := a.HTTP.URL()
	fx := sweepFixtures(t, base)
	client := &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	specs := []struct {
		file, surface string
		prefixes      []string
	}{
		{"together.yaml", "together", []string{"", "/api"}},
		{"ott.yaml", "ott", []string{""}},
		{"owncast.yaml", "owncast", []string{""}},
		{"hearth.yaml", "hearth", []string{""}},
	}
	seenExceptions := map[string]bool{}
	ops, requests := 0, 0
	for _, sp := range specs {
		doc := openapitest.Load(t, sp.file)
		paths := doc.Paths.InMatchingOrder()
		slices.Sort(paths)
		for _, p := range paths {
			item := doc.Paths.Value(p)
			methods := make([]string, 0, 4)
			for m := range item.Operations() {
				methods = append(methods, m)
			}
			slices.Sort(methods)
			for _, method := range methods {
				op := item.GetOperation(method)
				key := sp.surface + "." + op.OperationID
				sec := doc.Security
				if op.Security != nil {
					sec = *op.Security
				}
				if op.Responses.Status(http.StatusSwitchingProtocols) != nil {
					continue // a WebSocket: sweepSockets
				}
				ops++
				optional := len(sec) == 0
				for _, req := range sec {
					optional = optional || len(req) == 0
				}
				for _, prefix := range sp.prefixes {
					target, body, ctype := sweepRequest(t, fx, sp.surface, p, item, op)
					for _, att := range sweepAttempts(t, doc, sec, fx.victim) {
						if prep := sweepPrep[key]; prep != nil {
							att.edit = prep(t, client, base, att.edit)
						}
						what := fmt.Sprintf("%s %s%s (%s, %s)", method, prefix, target, key, att.name)
						status, hdr, raw := sweepDo(t, client, base, method, prefix+target, body, ctype, att)
						requests++
						if status >= 500 {
							t.Errorf("%s: %d: %s", what, status, trunc(raw))
							continue
						}
						if bytes.Contains(raw, []byte(secret)) {
							t.Errorf("%s: %d leaks guarded data: %s", what, status, trunc(raw))
						}
						if optional {
							continue
						}
						if ex, ok := sweepExceptions[key]; ok && (len(ex.attempts) == 0 || slices.Contains(ex.attempts, att.name)) {
							seenExceptions[key] = true
							if !slices.Contains(ex.codes, status) {
								t.Errorf("%s: %d, want %v (%s): %s", what, status, ex.codes, ex.why, trunc(raw))
							}
							continue
						}
						if msg := sweepRefusal(sp.surface, sec, op, att, status, hdr, raw); msg != "" {
							t.Errorf("%s: %s: %d %s", what, msg, status, trunc(raw))
						}
					}
				}
			}
		}
	}
	t.Logf("swept %d operations with %d requests", ops, requests)
	for k := range sweepExceptions {
		if !seenExceptions[k] {
			t.Errorf("exception %s names no operation the sweep met", k)
		}
	}
	sweepSockets(t, base, fx)
}

// sweepPrep readies an operation's request beyond its parameters: OTT's
// Discord callback checks the sign-in state (CSRF) before the token, so it
// is sent a real state, and must then refuse the missing or forged token.
var sweepPrep = map[string]func(t *testing.T, client *http.Client, base string, edit func(*http.Request)) func(*http.Request){
	"ott.discordCallback": func(t *testing.T, client *http.Client, base string, edit func(*http.Request)) func(*http.Request) {
		t.Helper()
		res, err := client.Get(base + "/api/auth/discord")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loc, err := url.Parse(res.Header.Get("Location"))
		if err != nil || res.StatusCode != http.StatusFound || len(res.Cookies()) == 0 {
			t.Fatalf("discord start: %d %v", res.StatusCode, err)
		}
		cookies, state := res.Cookies(), loc.Query().Get("state")
		return func(r *http.Request) {
			for _, c := range cookies {
				r.AddCookie(c)
			}
			q := r.URL.Query()
			q.Set("state", state)
			q.Set("code", "sweep-code")
			r.URL.RawQuery = q.Encode()
			edit(r)
		}
	},
}

type sweepFx struct {
	victim   login // the fixtures' owner
	together map[string]string
	dm       string
	room     string
	chatUser string
	stage    string
}

// sweepFixtures makes another account's objects, so a route acting without
// credentials would have data to show: a private server with a text
// channel, a stage channel and a watch channel, a message, a role, an
// invite, a webhook, a poll, a permission override, an event, an automod
// word, a bot and a DM; an OTT room; an Owncast chat user.
func sweepFixtures(t *testing.T, base string) sweepFx {
	t.Helper()
	ann := register(t, base, secret+"ann")
	bob := register(t, base, secret+"bob")
	tok := ann.AccessToken
	must := func(want int, method, path string, body any, out any) {
		t.Helper()
		if code := call(t, method, base+path, tok, body, out); code != want {
			t.Fatalf("%s %s: %d, want %d", method, path, code, want)
		}
	}
	var srv, ch, stage, msg, role, invite, poll, dm struct {
		ID   string
		Code string
	}
	var hook struct{ Webhook struct{ ID string } }
	var bot struct{ Bot struct{ ID string } }
	must(201, "POST", "/servers", map[string]any{"name": secret + " server", "is_public": false}, &srv)
	must(201, "POST", "/servers/"+srv.ID+"/channels", map[string]string{"name": secret + "-text", "type": "text"}, &ch)
	must(201, "POST", "/servers/"+srv.ID+"/channels", map[string]string{"name": secret + "-stage", "type": "stage"}, &stage)
	must(201, "POST", "/channels/"+ch.ID+"/messages", map[string]string{"content": secret + " message"}, &msg)
	must(201, "POST", "/servers/"+srv.ID+"/roles", map[string]any{"name": secret + "role"}, &role)
	must(201, "POST", "/servers/"+srv.ID+"/invites", map[string]any{}, &invite)
	must(201, "POST", "/servers/"+srv.ID+"/webhooks", map[string]any{"name": secret + "hook", "url": "https://example.com/" + secret, "event_types": []string{"message.created"}}, &hook)
	must(201, "POST", "/channels/"+ch.ID+"/polls", map[string]any{"question": secret + "?", "options": []string{"yes", "no"}}, &poll)
	must(201, "POST", "/bots", map[string]any{"name": secret + "bot"}, &bot)
	must(201, "POST", "/dm-channels", map[string]any{"user_id": bob.User.ID}, &dm)
	var over struct{ ID string }
	if code := call(t, "PUT", base+"/channels/"+ch.ID+"/overrides", tok, map[string]any{"role_id": role.ID, "allow": 16, "deny": 0}, &over); code/100 != 2 {
		t.Fatalf("put override: %d", code)
	}
	if code := call(t, "POST", base+"/servers/"+srv.ID+"/automod/words", tok, map[string]any{"word": secret + "word"}, nil); code/100 != 2 {
		t.Fatalf("add automod word: %d", code)
	}
	if code := call(t, "POST", base+"/channels/"+ch.ID+"/events", tok, map[string]any{"name": secret + " night", "starts_at": "2099-01-01T10:00:00Z"}, nil); code/100 != 2 {
		t.Fatalf("create event: %d", code)
	}
	_, room := newWatchChannel(t, base, tok, srv.ID, secret+"-watch")
	var chat struct{ ID string }
	if code := call(t, "POST", base+"/api/chat/register", "", map[string]string{"displayName": secret + "chatter"}, &chat); code != 200 {
		t.Fatalf("chat register: %d", code)
	}
	fx := sweepFx{
		together: map[string]string{
			"server_id": srv.ID, "id": srv.ID, "channel_id": ch.ID, "message_id": msg.ID, "role_id": role.ID,
			"invite_id": invite.ID, "code": invite.Code, "webhook_id": hook.Webhook.ID, "poll_id": poll.ID, "bot_id": bot.Bot.ID,
			"user_id": bob.User.ID, "override_id": over.ID, "word": secret + "word", "emoji": "👍",
		},
		dm: dm.ID, room: room, chatUser: chat.ID, stage: stage.ID, victim: ann,
	}
	for k, v := range fx.together {
		if v == "" {
			t.Fatalf("fixture %s has no id", k)
		}
	}
	if fx.dm == "" || fx.chatUser == "" || fx.stage == "" {
		t.Fatalf("fixtures without ids: %+v", fx)
	}
	return fx
}

// sweepRequest fills op's path and required query parameters from the
// fixtures (a well-formed random value where none exists) and builds a
// minimal body.
func sweepRequest(t *testing.T, fx sweepFx, surface, path string, item *openapi3.PathItem, op *openapi3.Operation) (target string, body []byte, ctype string) {
	t.Helper()
	params := append(openapi3.Parameters{}, item.Parameters...)
	params = append(params, op.Parameters...)
	q := url.Values{}
	target = path
	for _, pr := range params {
		p := pr.Value
		if p == nil || (p.In != "path" && !(p.In == "query" && p.Required)) {
			continue
		}
		v := sweepParam(fx, surface, path, p)
		if p.In == "path" {
			target = strings.ReplaceAll(target, "{"+p.Name+"}", url.PathEscape(v))
		} else {
			q.Set(p.Name, v)
		}
	}
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	if op.RequestBody != nil && op.RequestBody.Value != nil {
		content := op.RequestBody.Value.Content
		if mt := content.Get("application/json"); mt != nil {
			body, _ = json.Marshal(sweepValue(mt.Schema, 0))
			ctype = "application/json"
		} else if cts := slices.Sorted(maps.Keys(content)); len(cts) > 0 {
			ctype = cts[0] // no body: the credentials are checked first
		}
	}
	return target, body, ctype
}

func sweepParam(fx sweepFx, surface, path string, p *openapi3.Parameter) string {
	random := "01936b2e-1f5a-7c3e-9a4b-5d6e7f8a9b0c"
	if p.Schema != nil && p.Schema.Value != nil && p.Schema.Value.Type.Is("integer") {
		random = "1"
	}
	switch surface {
	case "together":
		if p.Name == "id" && strings.HasPrefix(path, "/dm-channels") {
			return fx.dm
		}
		if v, ok := fx.together[p.Name]; ok {
			return v
		}
		switch p.Name {
		case "filepath":
			return "x.png"
		case "q", "query":
			return "plans"
		case "url":
			return "https://example.com/"
		}
	case "ott":
		if p.Name == "name" {
			return fx.room
		}
	case "owncast":
		switch p.Name {
		case "userId":
			return fx.chatUser
		case "channelId":
			return fx.stage
		case "id":
			if strings.HasPrefix(path, "/api/stages/") || strings.HasPrefix(path, "/stages/") {
				return fx.stage
			}
		case "n":
			return "0"
		case "file":
			return "x.ts"
		}
	case "hearth":
		if p.Name == "stage" {
			return fx.stage
		}
	}
	return random
}

// sweepValue is a minimal value of schema: its required properties, each
// the simplest value of its type.
func sweepValue(ref *openapi3.SchemaRef, depth int) any {
	if ref == nil || ref.Value == nil || depth > 4 {
		return map[string]any{}
	}
	s := ref.Value
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	if len(s.OneOf) > 0 {
		return sweepValue(s.OneOf[0], depth+1)
	}
	if len(s.AnyOf) > 0 {
		return sweepValue(s.AnyOf[0], depth+1)
	}
	switch {
	case s.Type.Is("string"):
		return "x"
	case s.Type.Is("integer"), s.Type.Is("number"):
		return 1
	case s.Type.Is("boolean"):
		return true
	case s.Type.Is("array"):
		return []any{}
	}
	out := map[string]any{}
	for _, name := range s.Required {
		out[name] = sweepValue(s.Properties[name], depth+1)
	}
	return out
}

type sweepAttempt struct {
	name   string
	scheme *openapi3.SecurityScheme // nil: no credentials
	edit   func(r *http.Request)
}

// sweepAttempts is no credentials, then one forged credential per scheme
// the operation lists; for a JWT scheme also two JWTs that claim to be
// victim's access token, one unsigned (alg none) and one signed with a
// key that is not the server's.
func sweepAttempts(t *testing.T, doc *openapi3.T, sec openapi3.SecurityRequirements, victim login) []sweepAttempt {
	t.Helper()
	out := []sweepAttempt{{name: "none", edit: func(*http.Request) {}}}
	seen := map[string]bool{}
	for _, req := range sec {
		for name := range req {
			if seen[name] {
				continue
			}
			seen[name] = true
			ref := doc.Components.SecuritySchemes[name]
			if ref == nil || ref.Value == nil {
				continue
			}
			s := ref.Value
			att := sweepAttempt{name: "forged " + name, scheme: s}
			switch {
			case s.Type == "http" && strings.EqualFold(s.Scheme, "basic"):
				att.edit = func(r *http.Request) {
					r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("admin:forged")))
				}
			case s.Type == "http":
				att.edit = func(r *http.Request) { r.Header.Set("Authorization", "Bearer forged") }
				if s.BearerFormat == "JWT" {
					claims := jwt.MapClaims{"sub": victim.User.ID, "username": secret + "ann", "token_type": "access",
						"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
					none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
					if err != nil {
						t.Fatal(err)
					}
					wrong, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("not the server's key"))
					if err != nil {
						t.Fatal(err)
					}
					for _, f := range []struct{ name, tok string }{{"alg none", none}, {"wrong key", wrong}} {
						out = append(out, sweepAttempt{name: "forged " + name + " JWT (" + f.name + ")", scheme: s,
							edit: func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+f.tok) }})
					}
				}
			case s.In == "header":
				prefix, _ := s.Extensions["x-prefix"].(string)
				att.edit = func(r *http.Request) { r.Header.Set(s.Name, prefix+"forged") }
			case s.In == "query":
				att.edit = func(r *http.Request) {
					q := r.URL.Query()
					q.Set(s.Name, "forged")
					r.URL.RawQuery = q.Encode()
				}
			case s.In == "cookie":
				att.edit = func(r *http.Request) { r.AddCookie(&http.Cookie{Name: s.Name, Value: "forged"}) }
			default:
				continue
			}
			out = append(out, att)
		}
	}
	return out
}

func sweepDo(t *testing.T, client *http.Client, base, method, target string, body []byte, ctype string, att sweepAttempt) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, base+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	att.edit(req)
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, res.Header, raw
}

// sweepRefusal says what is wrong with an answer to a request without valid
// credentials, or "" when it is the surface's refusal.
func sweepRefusal(surface string, sec openapi3.SecurityRequirements, op *openapi3.Operation, att sweepAttempt, status int, hdr http.Header, raw []byte) string {
	var b map[string]any
	jsonErr := json.Unmarshal(raw, &b)
	switch surface {
	case "together":
		if status != 401 {
			return "want 401"
		}
		if e, ok := b["error"].(string); jsonErr != nil || !ok || e == "" {
			return "not Together's {error} shape"
		}
	case "hearth":
		if status != 401 {
			return "want 401"
		}
		if m, ok := b["message"].(string); jsonErr != nil || !ok || m == "" {
			return "not Hearth's {message} shape"
		}
	case "ott":
		want, name := 400, "MissingToken"
		switch {
		case att.scheme != nil && att.scheme.In == "header" && att.scheme.Name == "apikey":
			name = "Error" // OTT's middleware throws a plain Error for a bad key
		case att.scheme != nil:
			want = 401
		}
		if status != want {
			return fmt.Sprintf("want %d", want)
		}
		e, _ := b["error"].(map[string]any)
		if jsonErr != nil || b["success"] != false || e == nil || e["name"] != name {
			return "not OTT's {success:false,error:{name:" + name + "}} shape"
		}
	case "owncast":
		if status == 429 && att.scheme != nil && att.scheme.Scheme == "basic" && op.Responses.Status(429) != nil {
			// Wrong admin passwords count against identity's sign-in
			// limits, inside the credential check; past them the admin
			// routes answer 429 (documented) before looking at the next.
			if m, _ := b["message"].(string); b["success"] != false || !strings.Contains(m, "sign-in") || hdr.Get("Retry-After") == "" {
				return "not the sign-in limiter's refusal"
			}
			return ""
		}
		if status != 401 {
			return "want 401"
		}
		if len(bytes.TrimSpace(raw)) == 0 || !strings.EqualFold(strings.TrimSpace(string(raw)), "unauthorized") {
			return "not Owncast's text refusal"
		}
		for _, req := range sec {
			if _, basic := req["adminBasic"]; basic && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic") {
				return "admin refusal without WWW-Authenticate: Basic"
			}
		}
	}
	return ""
}

// sweepSockets: Together's gateway refuses a missing or forged token with
// 401 before the upgrade (also a /ws that names no token of any surface);
// Owncast's chat socket with an empty or forged token sends nothing but
// ERROR_NEEDS_REGISTRATION and closes; OTT's room socket closes 4004 on an
// empty or unknown auth token before any room state.
func sweepSockets(t *testing.T, base string, fx sweepFx) {
	t.Helper()
	ws := "ws" + strings.TrimPrefix(base, "http")
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	for _, path := range []string{"/ws", "/ws?token=forged", "/ws?bot_token=forged", "/api/ws", "/api/ws?token=forged", "/api/ws?bot_token=forged"} {
		c, res, err := websocket.Dial(ctx, ws+path, nil)
		if err == nil {
			c.CloseNow()
			t.Errorf("GET %s upgraded without a valid token", path)
			continue
		}
		if res == nil || res.StatusCode != 401 {
			t.Errorf("GET %s: %v, want 401 before the upgrade", path, err)
		}
	}
	// Owncast's chat socket upgrades, then sends an unknown (or empty)
	// token ERROR_NEEDS_REGISTRATION and closes, as Owncast does.
	for _, token := range []string{"", "forged"} {
		c, _, err := websocket.Dial(ctx, ws+"/ws?accessToken="+token, nil)
		if err != nil {
			t.Errorf("owncast /ws?accessToken=%s: %v", token, err)
			continue
		}
		var frames []string
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				break
			}
			frames = append(frames, string(data))
		}
		c.CloseNow()
		if len(frames) > 1 || (len(frames) == 1 && !strings.Contains(frames[0], "ERROR_NEEDS_REGISTRATION")) {
			t.Errorf("owncast /ws?accessToken=%s: frames %q, want at most ERROR_NEEDS_REGISTRATION", token, frames)
		}
	}
	// OTT's room socket.
	for _, token := range []string{"", "forged"} {
		c, _, err := websocket.Dial(ctx, ws+"/api/room/"+fx.room, nil)
		if err != nil {
			t.Errorf("ott room socket: %v", err)
			continue
		}
		c.SetReadLimit(1 << 20)
		auth, _ := json.Marshal(map[string]string{"action": "auth", "token": token})
		if err := c.Write(ctx, websocket.MessageText, auth); err != nil {
			t.Errorf("ott auth frame: %v", err)
		}
		var frames []string
		var code websocket.StatusCode
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				code = websocket.CloseStatus(err)
				break
			}
			frames = append(frames, string(data))
		}
		c.CloseNow()
		if code != 4004 || len(frames) != 0 {
			t.Errorf("ott room socket, token %q: close %d after %d frames %q, want 4004 and none", token, code, len(frames), frames)
		}
	}
}

func trunc(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
