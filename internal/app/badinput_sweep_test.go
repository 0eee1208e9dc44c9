package app_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/openapitest"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// sweepAllowed5xx lists the operations (spec:operationId) that may answer
// a documented 5xx to bad input, with the statuses and the reason.
var sweepAllowed5xx = map[string]struct {
	codes  []int
	reason string
}{
	"together:giphySearch": {[]int{503}, "GIF search needs --giphy-api-key (documented: Empty: GIF search answers 503)"},
}

// sweepOrder puts the operations that would spoil the rest of the sweep
// (they delete or revoke the objects and credentials the others use) at
// its end, in this order; every other operation runs first (0).
var sweepOrder = map[string]int{
	"together:deleteMessage": 1, "together:removeReaction": 1, "together:unpin": 1, "together:deleteOverride": 1,
	"together:deleteInvite": 1, "together:deleteWebhook": 1, "together:deleteEmoji": 1, "together:revokeBot": 1,
	"together:removeMemberRole": 1, "together:unban": 1, "together:removeTimeout": 1, "together:removeWord": 1,
	"together:leaveVoice": 1, "together:stopGoLive": 1, "hearth:deleteRecording": 1, "hearth:deleteClip": 1,
	"together:kick": 2, "together:ban": 2, "together:deleteRole": 2,
	"together:deleteChannel": 3,
	"together:leaveServer":   4, "ott:deleteRoom": 4,
	"together:deleteServer": 5, "together:adminDeleteServer": 5,
	"together:adminDeleteUser": 6,
	"together:logout":          7, "ott:logout": 7,
	"owncast:setStreamkeys": 8,
	"owncast:setAdminpass":  9,
}

// sweepRestore gives the settings the sweep itself needs their value
// again after their operation has been swept.
var sweepRestore = map[string]func(fx *sweepFixture) any{
	"/api/admin/config/serverurl":                  func(fx *sweepFixture) any { return fx.base },
	"/api/admin/config/federation/enable":          func(*sweepFixture) any { return true },
	"/api/admin/config/federation/private":         func(*sweepFixture) any { return false },
	"/api/admin/config/chat/disable":               func(*sweepFixture) any { return false },
	"/api/admin/config/chat/requireauthentication": func(*sweepFixture) any { return false },
	"/api/admin/config/chat/establishedusermode":   func(*sweepFixture) any { return false },
	"/api/admin/config/federation/username":        func(*sweepFixture) any { return "streamer" },
	"/api/admin/config/chat/spamprotectionenabled": func(*sweepFixture) any { return false },
	"/api/admin/config/chat/slurfilterenabled":     func(*sweepFixture) any { return false },
}

// sweepFixture holds the credentials and the real objects the sweep's
// path parameters name.
type sweepFixture struct {
	base        string
	jwt         string // the instance admin's Together access token (owner of server)
	ottToken    string // an OTT token signed in as the instance admin
	integration string // an Owncast integration token with every scope
	chatToken   string // an Owncast chat moderator's token
	streamKey   string
	ids         map[string]string
}

// TestBadInputSweep sends malformed input to every operation of the four
// OpenAPI files (api/*.yaml) on one node with every surface, as the most
// privileged principal each operation takes: bodies that are not JSON, of
// the wrong top-level type, with each declared property of the wrong type,
// too long, out of range or nested too deep, and far past the body cap;
// path parameters too long, with traversal, NUL or non-ASCII; query
// parameters of the wrong type or out of range; a malformed credential,
// junk cookies and ranges.
// No answer may be a 5xx
// (but those listed in sweepAllowed5xx), none may hang (the client's
// timeout), and the node answers after every operation. It runs on SQLite
// and, with HEARTH_TEST_POSTGRES_URL, on PostgreSQL (and NATS), where the
// values an engine may read apart (NUL, invalid UTF-8, past int32, long)
// are sent again. SWEEP_DEBUG=1 logs every exchange.
func TestBadInputSweep(t *testing.T) {
	t.Parallel()
	specs := map[string]*openapi3.T{}
	for _, spec := range []string{"hearth", "together", "ott", "owncast"} {
		specs[spec] = openapitest.Load(t, spec+".yaml")
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		badInputSweep(t, testConfig(t), specs, true)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		if storetest.PostgresURL() == "" {
			t.Skip("needs HEARTH_TEST_POSTGRES_URL")
		}
		cfg := testConfig(t)
		cfg.Database = storetest.PostgresDSN(t)
		if natsURL() != "" {
			cfg.Bus = natsURL()
		}
		badInputSweep(t, cfg, specs, false)
	})
}

// badInputSweep runs the sweep on a node of cfg; allValues false leaves
// out the variants no engine reads apart (the other engine had them).
func badInputSweep(t *testing.T, cfg config.Config, specs map[string]*openapi3.T, allValues bool) {
	cfg.DefaultStreamKey = "sweepstreamkey"
	cfg.RTCUDPAddr = "127.0.0.1:0" // WHIP, WHEP and the voice SFU
	cfg.OttDevRoutes = true
	a, _ := start(t, cfg, nil)
	fx := sweepSetup(t, a.HTTP.URL())
	// A finished recording of the default stage and a clip of it, so the
	// recording routes reach their input (a playlist without segments).
	node, err := os.ReadFile(filepath.Join(cfg.DataDir, "node-id"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	ended := now.Add(time.Minute)
	rec := &recording.Recording{ID: identity.NewID(), StageID: a.Live.DefaultStageID(), Title: "swept", StartedAt: now,
		EndedAt: &ended, Duration: time.Minute, NodeID: strings.TrimSpace(string(node)), LeaseUntil: now}
	if err := a.DB.Recordings().CreateRecording(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cfg.DataDir, "recordings", rec.ID)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, recording.PlaylistName), []byte("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:6.0,\n0.ts\n#EXT-X-ENDLIST\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	clip := &recording.Clip{ID: identity.NewID(), StageID: rec.StageID, RecordingID: rec.ID, Title: "c", Duration: 10 * time.Second,
		CreatedBy: fx.ids["admin"], CreatedAt: now}
	if err := a.DB.Recordings().CreateClip(t.Context(), clip); err != nil {
		t.Fatal(err)
	}
	fx.ids["recording"], fx.ids["clip"] = rec.ID, clip.ID
	fx.streamKey = cfg.DefaultStreamKey

	type sweepOp struct {
		spec, method, path string
		item               *openapi3.PathItem
		op                 *openapi3.Operation
		order              int
	}
	var ops []sweepOp
	for spec, doc := range specs {
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				ops = append(ops, sweepOp{spec, method, path, item, op, sweepOrder[spec+":"+op.OperationID]})
			}
		}
	}
	slices.SortStableFunc(ops, func(x, y sweepOp) int {
		if x.order != y.order {
			return x.order - y.order
		}
		return strings.Compare(x.spec+" "+x.path+" "+x.method, y.spec+" "+y.path+" "+y.method)
	})
	client := &http.Client{Timeout: 30 * time.Second}
	debug := os.Getenv("SWEEP_DEBUG") != ""
	var mu sync.Mutex
	sent, statuses := 0, map[int]int{}
	defer func() { t.Logf("%d operations, %d requests, statuses %v", len(ops), sent, statuses) }()
	check := func(key string, o sweepOp, v sweepVariant) {
		began := time.Now()
		status, body, err := fx.send(client, o.spec, o.method, v, o.op)
		mu.Lock()
		sent++
		statuses[status]++
		mu.Unlock()
		if debug {
			t.Logf("DBG %s %s %s [%s] %d %dms %.120s", key, o.method, v.url[:min(len(v.url), 120)], v.name, status,
				time.Since(began).Milliseconds(), body)
		}
		if err != nil {
			if v.big && !isTimeout(err) && (errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)) {
				return // the node closed the connection on a body past its cap
			}
			t.Errorf("%s %s %s [%s]: %v", key, o.method, o.path, v.name, err)
			return
		}
		if status >= 500 {
			if allowed, ok := sweepAllowed5xx[key]; ok && slices.Contains(allowed.codes, status) {
				return
			}
			t.Errorf("%s %s %s [%s]: %d %.300s", key, o.method, v.url, v.name, status, body)
		}
	}
	// Bodies past the cap cost the node little but wait on the connection's
	// close: those of the operations that run first go four at a time
	// beside the sweep, which waits for them before the destructive ones.
	type bigJob struct {
		key string
		o   sweepOp
		v   sweepVariant
	}
	bigs := make(chan bigJob)
	var bigWG sync.WaitGroup
	for range 4 {
		bigWG.Go(func() {
			for j := range bigs {
				check(j.key, j.o, j.v)
			}
		})
	}
	type planned struct {
		key string
		o   sweepOp
		vs  []sweepVariant
	}
	var plan []planned
	var queued []bigJob
	bigFamilies := map[string]bool{}
	for _, o := range ops {
		key := o.spec + ":" + o.op.OperationID
		p := planned{key: key, o: o}
		for _, v := range sweepVariants(fx, o.spec, o.method, o.path, o.item, o.op) {
			if v.oneEngine && !allValues {
				continue
			}
			if v.big && strings.Contains(v.ctype, "json") {
				// The cap is the shared server's: a JSON body past it goes
				// to one operation of each route family (a spec's first two
				// path segments); the routes that raise their own cap take
				// uploads, which all get one.
				family := o.spec + strings.Join(strings.SplitN(o.path, "/", 4)[:min(3, strings.Count(o.path, "/")+1)], "/")
				if bigFamilies[family] {
					continue
				}
				bigFamilies[family] = true
			}
			if v.big && o.order == 0 {
				queued = append(queued, bigJob{key, o, v})
			} else {
				p.vs = append(p.vs, v)
			}
		}
		plan = append(plan, p)
	}
	go func() {
		for _, j := range queued {
			bigs <- j
		}
		close(bigs)
	}()
	waitBigs := sync.OnceFunc(bigWG.Wait)
	defer waitBigs()
	for _, p := range plan {
		key, o := p.key, p.o
		if o.order > 0 {
			waitBigs()
		}
		for _, v := range p.vs {
			check(key, o, v)
		}
		if good, ok := sweepRestore[o.path]; ok && o.method == "POST" {
			// The operation may have taken a setting the rest of the sweep
			// needs (a valid value is part of its bodies): put it back.
			raw, _ := json.Marshal(map[string]any{"value": good(fx)})
			v := sweepVariant{name: "restore", url: o.path, ctype: "application/json", body: func() io.Reader { return bytes.NewReader(raw) }}
			if code, body, err := fx.send(client, o.spec, "POST", v, o.op); err != nil || code != 200 {
				t.Fatalf("restore %s: %d %v %s", o.path, code, err, body)
			}
		}
		if code, _, err := fx.send(client, "together", "GET", sweepVariant{name: "health", url: "/health"}, nil); err != nil || code != 200 {
			t.Fatalf("after %s: the node no longer answers: %d %v", key, code, err)
		}
	}
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

type sweepVariant struct {
	name  string
	url   string // path and query, from the base
	ctype string
	body  func() io.Reader
	big   bool
	// oneEngine: nothing of it can read differently on another engine:
	// a body that is not what the operation decodes (not JSON, a
	// property of the wrong JSON type, past the cap) or a value no store
	// treats apart (traversal, a word for a number). Values an engine may
	// refuse on its own (NUL, invalid UTF-8, past int32 or int64, long)
	// run on both.
	oneEngine bool
	auth      string // replaces the principal's Authorization
	upgrade   bool   // a WebSocket upgrade
	header    http.Header
}

// send makes one request as the most privileged principal op's security
// names (nil op: none).
func (fx *sweepFixture) send(client *http.Client, spec, method string, v sweepVariant, op *openapi3.Operation) (int, []byte, error) {
	var body io.Reader
	if v.body != nil {
		body = v.body()
	}
	req, err := http.NewRequest(method, fx.base+v.url, body)
	if err != nil {
		return 0, nil, err
	}
	if v.ctype != "" {
		req.Header.Set("Content-Type", v.ctype)
	}
	if op != nil {
		fx.authorize(req, spec, op)
	}
	if v.auth != "" {
		req.Header.Set("Authorization", v.auth)
	}
	for k, vv := range v.header {
		req.Header[k] = vv
	}
	if v.upgrade {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusSwitchingProtocols {
		return res.StatusCode, nil, nil // an open socket: nothing more to read
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, 4096))
	if err != nil && !v.big {
		return 0, nil, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, raw, nil
}

func (fx *sweepFixture) authorize(req *http.Request, spec string, op *openapi3.Operation) {
	schemes := map[string]bool{}
	if op.Security != nil {
		for _, req := range *op.Security {
			for name := range req {
				schemes[name] = true
			}
		}
	}
	switch spec {
	case "together", "hearth":
		switch {
		case schemes["bearerAuth"]:
			req.Header.Set("Authorization", "Bearer "+fx.jwt)
		case schemes["streamKey"]:
			req.Header.Set("Authorization", "Bearer "+fx.streamKey)
		case schemes["botToken"]:
			req.Header.Set("Authorization", "Bot "+fx.ids["bot_token"])
		case spec == "together":
			req.Header.Set("Authorization", "Bearer "+fx.jwt)
		}
	case "ott":
		// OTT's global security: a token or the admin API key, either.
		req.Header.Set("Authorization", "Bearer "+fx.ottToken)
	case "owncast":
		switch {
		case schemes["adminBasic"]:
			req.SetBasicAuth("admin", "adminpassword")
		case schemes["integrationBearer"]:
			req.Header.Set("Authorization", "Bearer "+fx.integration)
		case schemes["hearthBearer"]:
			req.Header.Set("Authorization", "Bearer "+fx.jwt)
		}
		if schemes["chatToken"] {
			q := req.URL.Query()
			if !q.Has("accessToken") {
				q.Set("accessToken", fx.chatToken)
				req.URL.RawQuery = q.Encode()
			}
		}
	}
}

// sweepSetup makes the principals and the objects the path parameters name.
func sweepSetup(t *testing.T, base string) *sweepFixture {
	t.Helper()
	fx := &sweepFixture{base: base, ids: map[string]string{}}
	do := func(method, path, auth string, body any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		switch {
		case auth == "basic":
			req.SetBasicAuth("admin", "adminpassword")
		case auth != "":
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 300 {
			t.Fatalf("setup %s %s: %d %s", method, path, res.StatusCode, raw)
		}
		out := map[string]any{}
		_ = json.Unmarshal(raw, &out)
		return out
	}
	str := func(m map[string]any, k string) string {
		t.Helper()
		s, _ := m[k].(string)
		if s == "" {
			t.Fatalf("setup: no %q in %v", k, m)
		}
		return s
	}
	admin := adminLogin(t, base)
	fx.jwt = admin.AccessToken
	fx.ids["admin"] = admin.User.ID
	bearer := "Bearer " + fx.jwt
	bob := register(t, base, "sweepbob")
	fx.ids["user"] = bob.User.ID
	sid := newServer(t, base, fx.jwt)
	fx.ids["server"] = sid
	do("POST", "/servers/"+sid+"/join", "Bearer "+bob.AccessToken, nil)
	fx.ids["channel"] = str(do("POST", "/servers/"+sid+"/channels", bearer, map[string]any{"name": "general", "type": "text"}), "id")
	fx.ids["stage"] = str(do("POST", "/servers/"+sid+"/channels", bearer, map[string]any{"name": "stage", "type": "stage"}), "id")
	ch := fx.ids["channel"]
	fx.ids["message"] = str(do("POST", "/channels/"+ch+"/messages", bearer, map[string]any{"content": "hello"}), "id")
	fx.ids["role"] = str(do("POST", "/servers/"+sid+"/roles", bearer, map[string]any{"name": "sweepers"}), "id")
	do("PUT", "/servers/"+sid+"/members/"+bob.User.ID+"/roles/"+fx.ids["role"], bearer, nil)
	fx.ids["override"] = str(do("PUT", "/channels/"+ch+"/overrides", bearer, map[string]any{"role_id": fx.ids["role"], "allow": 0, "deny": 0}), "id")
	inv := do("POST", "/servers/"+sid+"/invites", bearer, map[string]any{})
	fx.ids["invite"], fx.ids["code"] = str(inv, "id"), str(inv, "code")
	fx.ids["dm"] = str(do("POST", "/dm-channels", bearer, map[string]any{"user_id": bob.User.ID}), "id")
	pollMsg := do("POST", "/channels/"+ch+"/polls", bearer, map[string]any{"question": "q", "options": []string{"a", "b"}})
	pollInfo, _ := pollMsg["poll"].(map[string]any)
	fx.ids["poll"] = str(pollInfo, "id")
	bot := do("POST", "/bots", bearer, map[string]any{"name": "sweepbot"})
	botInfo, _ := bot["bot"].(map[string]any)
	fx.ids["bot"], fx.ids["bot_token"] = str(botInfo, "id"), str(bot, "token")
	hook := do("POST", "/servers/"+sid+"/webhooks", bearer, map[string]any{"name": "h", "url": "https://example.com/hook", "event_types": []string{"message.created"}})
	hookInfo, _ := hook["webhook"].(map[string]any)
	fx.ids["webhook"] = str(hookInfo, "id")
	do("POST", "/servers/"+sid+"/automod/words", bearer, map[string]any{"word": "sweepword"})

	// OTT: a token signed in as the instance admin, and a room.
	fx.ottToken = str(do("GET", "/api/auth/grant", "", nil), "token")
	do("POST", "/api/user/login", "Bearer "+fx.ottToken, map[string]any{"accessToken": fx.jwt})
	do("POST", "/api/room/create", "Bearer "+fx.ottToken, map[string]any{"name": "sweeproom", "isTemporary": false})

	// Owncast: an integration token with every scope, a chat moderator.
	fx.integration = str(do("POST", "/api/admin/accesstokens/create", "basic", map[string]any{"name": "sweep",
		"scopes": []string{"CAN_SEND_MESSAGES", "CAN_SEND_SYSTEM_MESSAGES", "HAS_ADMIN_ACCESS"}}), "accessToken")
	cu := do("POST", "/api/chat/register", "", map[string]any{"displayName": "sweeper"})
	fx.chatToken, fx.ids["chatuser"] = str(cu, "accessToken"), str(cu, "id")
	do("POST", "/api/admin/chat/users/setmoderator", "basic", map[string]any{"userId": fx.ids["chatuser"], "isModerator": true})
	fx.ids["chatvictim"] = str(do("POST", "/api/chat/register", "", map[string]any{"displayName": "victim"}), "id")
	do("POST", "/api/admin/config/serverurl", "basic", map[string]any{"value": base})
	do("POST", "/api/admin/config/federation/enable", "basic", map[string]any{"value": true})
	return fx
}

// sweepPathValue is a real value for path parameter name of path.
func (fx *sweepFixture) sweepPathValue(spec, path, name string) string {
	id := fx.ids
	switch spec {
	case "hearth":
		switch name {
		case "stage":
			return "default"
		case "name":
			return "stream.m3u8"
		case "id":
			if strings.HasPrefix(path, "/api/clips") {
				return id["clip"]
			}
			return id["recording"]
		}
		return "0190d6a8-0000-7000-8000-000000000000"
	case "ott":
		return "sweeproom"
	case "owncast":
		switch name {
		case "userId":
			return id["chatuser"]
		case "channelId":
			return id["stage"]
		case "id":
			if strings.Contains(path, "stages") {
				return id["stage"]
			}
			return "x"
		case "n":
			return "0"
		case "file":
			return "stream.ts"
		case "username":
			return "streamer"
		case "name", "path":
			return "x.png"
		}
		return "x"
	}
	switch name {
	case "id":
		if strings.HasPrefix(path, "/dm-channels") {
			return id["dm"]
		}
		return id["server"]
	case "server_id":
		return id["server"]
	case "channel_id":
		return id["channel"]
	case "message_id":
		return id["message"]
	case "user_id":
		return id["user"]
	case "role_id":
		return id["role"]
	case "override_id":
		return id["override"]
	case "invite_id":
		return id["invite"]
	case "code":
		return id["code"]
	case "webhook_id":
		return id["webhook"]
	case "poll_id":
		return id["poll"]
	case "bot_id":
		return id["bot"]
	case "emoji":
		return "👍"
	case "word":
		return "sweepword"
	}
	return "x"
}

var (
	// A value's second field says whether it may read differently on
	// another engine (the rest run on one engine only).
	badPathValues = []struct {
		name, raw string
		engine    bool
	}{
		{"long", strings.Repeat("a", 5000), true},
		{"traversal", "..%2F..", false},
		{"nul", "%00", true},
		{"not-uuid", "not-a-uuid", false},
		{"unicode", url.PathEscape("ünï😀\u202e"), false},
		{"invalid utf8", "%FF%FEx", true},
	}
	badQueryValues = []struct {
		name, val string
		engine    bool
	}{
		{"word", "x", false}, {"negative", "-1", false}, {"huge", "99999999999999999999", true}, {"float", "1e308", false},
		{"nan", "NaN", false}, {"long", strings.Repeat("9", 5000), true}, {"nul", "\x00", true}, {"empty", "", false},
		{"invalid utf8", "\xff\xfe", true}, {"past int32", "2147483648", true},
		{"max int64", "9223372036854775807", true}, {"min int64", "-9223372036854775808", true},
	}
	deepJSON = strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	long     = `"` + strings.Repeat("x", 100<<10) + `"`
)

// schemaProps collects the properties and required names of an object
// schema, through allOf, oneOf and anyOf.
func schemaProps(s *openapi3.Schema, props map[string]*openapi3.Schema, req map[string]bool) {
	if s == nil {
		return
	}
	for n, p := range s.Properties {
		if p != nil && p.Value != nil {
			props[n] = p.Value
		}
	}
	for _, r := range s.Required {
		req[r] = true
	}
	for _, list := range []openapi3.SchemaRefs{s.AllOf, s.OneOf, s.AnyOf} {
		for _, r := range list {
			if r != nil {
				schemaProps(r.Value, props, req)
			}
		}
	}
}

func schemaType(s *openapi3.Schema) string {
	if s == nil || s.Type == nil {
		return ""
	}
	for _, t := range []string{"string", "integer", "number", "boolean", "array", "object"} {
		if slices.Contains(s.Type.Slice(), t) {
			return t
		}
	}
	return ""
}

// validProp is a real value for a body property the sweep leaves alone:
// the fixture's objects where the name says which, else validValue.
func (fx *sweepFixture) validProp(name string, s *openapi3.Schema) any {
	switch name {
	case "user_id":
		return fx.ids["user"]
	case "role_id":
		return fx.ids["role"]
	case "reply_to":
		return fx.ids["message"]
	case "userId":
		return fx.ids["chatvictim"] // not the moderator the sweep signs in as
	case "stageId":
		return fx.ids["stage"]
	case "invite_code", "code":
		return fx.ids["code"]
	case "url", "actorIRI":
		return "https://example.com/x"
	}
	return validValue(s)
}

// validValue is a plausible value of s, for the properties left alone.
func validValue(s *openapi3.Schema) any {
	switch {
	case s == nil:
		return "x"
	case len(s.Enum) > 0:
		return s.Enum[0]
	case s.Default != nil:
		return s.Default
	case s.Example != nil:
		return s.Example
	}
	switch schemaType(s) {
	case "integer", "number":
		return 1
	case "boolean":
		return true
	case "array":
		return []any{}
	case "object":
		return map[string]any{}
	}
	return "x"
}

func sweepVariants(fx *sweepFixture, spec, method, path string, item *openapi3.PathItem, op *openapi3.Operation) []sweepVariant {
	var pathParams, queryParams []*openapi3.Parameter
	for _, list := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		for _, p := range list {
			if p == nil || p.Value == nil {
				continue
			}
			switch p.Value.In {
			case "path":
				pathParams = append(pathParams, p.Value)
			case "query":
				queryParams = append(queryParams, p.Value)
			}
		}
	}
	build := func(badParam, badRaw string) string {
		u := path
		for _, p := range pathParams {
			v := url.PathEscape(fx.sweepPathValue(spec, path, p.Name))
			if p.Name == badParam {
				v = badRaw
			}
			u = strings.ReplaceAll(u, "{"+p.Name+"}", v)
			u = strings.ReplaceAll(u, "{"+p.Name+"...}", v)
		}
		return u
	}
	baseQuery := url.Values{}
	for _, q := range queryParams {
		if q.Required {
			v := fmt.Sprint(validValue(schemaOf(q.Schema)))
			switch q.Name {
			case "stage":
				v = "default"
			case "accessToken":
				v = fx.chatToken
			}
			baseQuery.Set(q.Name, v)
		}
	}
	withQuery := func(p string, q url.Values) string {
		if len(q) == 0 {
			return p
		}
		return p + "?" + q.Encode()
	}
	validPath := build("", "")

	// The body: its content type and a valid base to spoil one field of.
	var ctype string
	var bodySchema *openapi3.Schema
	if op.RequestBody != nil && op.RequestBody.Value != nil {
		content := op.RequestBody.Value.Content
		for _, ct := range []string{"application/json", "application/activity+json", "application/sdp", "multipart/form-data"} {
			if mt := content.Get(ct); mt != nil && content[ct] != nil {
				ctype = ct
				if mt.Schema != nil {
					bodySchema = mt.Schema.Value
				}
				break
			}
		}
		if ctype == "" {
			for ct := range content {
				ctype = ct
			}
		}
	}
	jsonish := ctype == "" || strings.Contains(ctype, "json")
	text := func(s string) func() io.Reader { return func() io.Reader { return strings.NewReader(s) } }
	var vs []sweepVariant
	addShape := func(name, u, body string, oneEngine bool) {
		ct := ctype
		if ct == "" {
			ct = "application/json"
		}
		vs = append(vs, sweepVariant{name: name, url: u, ctype: ct, body: text(body), oneEngine: oneEngine})
	}
	baseBody := "{}"
	if bodySchema != nil && schemaType(bodySchema) == "array" {
		baseBody = "[]"
	}
	// Path parameters, one at a time.
	for _, p := range pathParams {
		for _, bad := range badPathValues {
			addShape("path "+p.Name+" "+bad.name, withQuery(build(p.Name, bad.raw), baseQuery), baseBody, !bad.engine)
		}
	}
	// Path parameters naming a real object of another kind (a stage
	// channel for a text channel, a DM for a channel or a server, a
	// message or an account for anything else).
	for _, p := range pathParams {
		for _, kind := range []string{"stage", "dm", "message", "user"} {
			other := fx.ids[kind]
			if other == "" || other == fx.sweepPathValue(spec, path, p.Name) {
				continue
			}
			addShape("path "+p.Name+" a "+kind+" id", withQuery(build(p.Name, url.PathEscape(other)), baseQuery), baseBody, false)
		}
	}
	// Query parameters, one at a time; every operation also gets junk
	// paging parameters it does not declare.
	for _, q := range queryParams {
		for _, bad := range badQueryValues {
			qv := url.Values{}
			for k, v := range baseQuery {
				qv[k] = v
			}
			qv.Set(q.Name, bad.val)
			addShape("query "+q.Name+" "+bad.name, withQuery(validPath, qv), baseBody, !bad.engine)
		}
	}
	junk := url.Values{}
	for k, v := range baseQuery {
		junk[k] = v
	}
	junk.Set("limit", "-1")
	junk.Set("offset", "99999999999999999999")
	junk.Set("before", "\x00")
	u := withQuery(validPath, baseQuery)
	// Bodies.
	switch {
	case op.RequestBody == nil:
		addShape("junk query and body", withQuery(validPath, junk), "{", true)
	case !jsonish:
		for _, b := range []struct{ name, body string }{{"not sdp", "{"}, {"empty", ""}, {"nul", "\x00\xff"}, {"long", strings.Repeat("v=0\r\n", 20<<10)}} {
			addShape(b.name, u, b.body, true)
		}
		if ctype == "multipart/form-data" {
			vs = append(vs, multipartVariants(u, bodySchema)...)
			vs = append(vs, sweepVariant{name: "multipart no boundary", url: u, ctype: "multipart/form-data", body: text("{"), oneEngine: true},
				sweepVariant{name: "multipart junk", url: u, ctype: "multipart/form-data; boundary=x", oneEngine: true,
					body: text("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../a\"\r\n\r\n\x00\r\n--x")})
		}
	default:
		for _, b := range []struct{ name, body string }{{"not json", "{"}, {"empty", ""}, {"array", "[]"}, {"string", `"x"`},
			{"null", "null"}, {"number", "1"}, {"deep", deepJSON}, {"object", "{}"}} {
			addShape(b.name, u, b.body, true)
		}
		props, req := map[string]*openapi3.Schema{}, map[string]bool{}
		if bodySchema != nil {
			s := bodySchema
			if schemaType(s) == "array" && s.Items != nil {
				s = s.Items.Value
			}
			schemaProps(s, props, req)
		}
		names := make([]string, 0, len(props))
		for n := range props {
			names = append(names, n)
		}
		slices.Sort(names)
		base := map[string]any{}
		for n := range req {
			base[n] = fx.validProp(n, props[n])
		}
		wrap := func(m map[string]any) string {
			b, _ := json.Marshal(m)
			if bodySchema != nil && schemaType(bodySchema) == "array" {
				return "[" + string(b) + "]"
			}
			return string(b)
		}
		for i, n := range names {
			bad := badValues(n, props[n], 1)
			if i == 0 {
				bad = append(bad, badValue{"deep", deepJSON, true})
			}
			for _, b := range bad {
				m := map[string]any{}
				for k, v := range base {
					m[k] = v
				}
				m[n] = json.RawMessage(b.raw)
				addShape("body "+n+" "+b.name, u, wrap(m), b.oneEngine)
			}
		}
	}
	// The sockets' credentials in the query of a real upgrade.
	if path == "/ws" {
		for _, name := range []string{"accessToken", "token", "bot_token"} {
			for _, bad := range badQueryValues {
				vs = append(vs, sweepVariant{name: "socket " + name + " " + bad.name, url: withQuery(path, url.Values{name: {bad.val}}),
					upgrade: true, oneEngine: !bad.engine})
			}
		}
	}
	// An OTT room socket is an upgrade of GET /api/room/{name}.
	if spec == "ott" && method == "GET" && path == "/api/room/{name}" {
		for _, bad := range badPathValues {
			vs = append(vs, sweepVariant{name: "socket room " + bad.name, url: build("name", bad.raw), upgrade: true, oneEngine: !bad.engine})
		}
	}
	// Junk cookies of the names the surfaces read (OTT's token, the admin
	// session) and, on reads, ranges past any file or in thousands.
	headers := []http.Header{{"Cookie": {"token=%00%FF; hearth_admin=" + strings.Repeat("a", 4000) + "; token=\"\""}}}
	if method == "GET" {
		headers = append(headers, http.Header{"Range": {"bytes=99999999999999999999-"}},
			http.Header{"Range": {"bytes=" + strings.Repeat("0-1,", 2000) + "0-1"}})
	}
	for _, h := range headers {
		for k := range h {
			vs = append(vs, sweepVariant{name: "header " + k, url: u, header: h, oneEngine: true})
		}
	}
	// A malformed credential in each scheme's header.
	for _, a := range []string{"Bearer " + strings.Repeat("a.", 2500), "Basic !!!" + strings.Repeat("YWFh", 1000)} {
		vs = append(vs, sweepVariant{name: "auth " + a[:6], url: u, auth: a, oneEngine: true})
	}
	if op.RequestBody != nil {
		ct := ctype
		if ct == "" {
			ct = "application/json"
		}
		vs = append(vs, sweepVariant{name: "20 MB", url: u, ctype: ct, big: true, oneEngine: true, body: func() io.Reader {
			return io.MultiReader(strings.NewReader(`{"x":"`), io.LimitReader(repeatReader('x'), 20<<20), strings.NewReader(`"}`))
		}})
	}
	return vs
}

func schemaOf(r *openapi3.SchemaRef) *openapi3.Schema {
	if r == nil {
		return nil
	}
	return r.Value
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

type badValue struct {
	name, raw string
	oneEngine bool // of another JSON type than the schema's, or read alike by every engine
}

// badValues are the wrong values for a property of schema s: each other
// JSON type, and for its own type values out of range; an object's or an
// array of objects' own properties get theirs too, down to depth levels.
func badValues(name string, s *openapi3.Schema, depth int) []badValue {
	typ := schemaType(s)
	bad := []badValue{{"string", `"x"`, true}, {"number", "1", true}, {"bool", "true", true}, {"object", `{"a":[1]}`, true},
		{"array", `["x",1]`, true}, {"null", "null", true}}
	switch typ {
	case "string":
		bad = append(bad[1:], badValue{"nul", `"a\u0000b"`, false}, badValue{"empty", `""`, true})
		if depth > 0 { // a body's own strings; nested ones get the shorter values
			bad = append(bad, badValue{"long", long, false})
		}
		if len(s.Enum) > 0 {
			bad = append(bad, badValue{"not in enum", `"zzz-not-listed"`, true})
		}
		switch {
		case s.Format == "date-time" || s.Format == "date":
			bad = append(bad, badValue{"year 0", `"0000-01-01T00:00:00Z"`, false}, badValue{"year 9999", `"9999-12-31T23:59:59Z"`, false},
				badValue{"not a date", `"2026-13-45T99:99:99Z"`, true}, badValue{"number date", `"-62135596800"`, true})
		case s.Format == "uri" || strings.Contains(strings.ToLower(name), "url") || strings.Contains(name, "IRI"):
			bad = append(bad, badValue{"bad url", `"http://[::1"`, true}, badValue{"file url", `"file:///etc/passwd"`, true})
		}
	case "integer", "number":
		bad = append(bad[2:], []badValue{{"negative", "-1", false}, {"huge float", "1e308", false}, {"past int64", "9223372036854775808", false},
			{"below int64", "-9223372036854775809", false}, {"past int32", "2147483648", false},
			{"max int64", "9223372036854775807", false}, {"min int64", "-9223372036854775808", false}, {"nan", `"NaN"`, true}, {"fraction", "0.5", true}}...)
	case "boolean":
		bad = append(bad[:2], bad[3:]...)
	case "array":
		bad = append(bad[:4], bad[5], badValue{"array of junk", `[null,{},[],"` + strings.Repeat("x", 5000) + `"]`, true})
	}
	if depth == 0 {
		return bad
	}
	inner, wrapIn := s, func(raw string) string { return raw }
	if typ == "array" && s.Items != nil && s.Items.Value != nil {
		inner, wrapIn = s.Items.Value, func(raw string) string { return "[" + raw + "]" }
	}
	props, req := map[string]*openapi3.Schema{}, map[string]bool{}
	schemaProps(inner, props, req)
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, b := range badValues(n, props[n], depth-1) {
			m := map[string]any{}
			for r := range req {
				m[r] = validValue(props[r])
			}
			m[n] = json.RawMessage(b.raw)
			raw, _ := json.Marshal(m)
			bad = append(bad, badValue{n + " " + b.name, wrapIn(string(raw)), b.oneEngine})
		}
	}
	return bad
}

// multipartVariants are well-formed multipart bodies of bad parts: a file
// named to climb out of its folder, an empty one, a 20 MB one, more files
// than allowed, and each text field too long.
func multipartVariants(u string, s *openapi3.Schema) []sweepVariant {
	props, _ := map[string]*openapi3.Schema{}, map[string]bool{}
	schemaProps(s, props, map[string]bool{})
	var files, fields []string
	for n, p := range props {
		if p.Format == "binary" || schemaType(p) == "array" && p.Items != nil && p.Items.Value != nil && p.Items.Value.Format == "binary" {
			files = append(files, n)
		} else {
			fields = append(fields, n)
		}
	}
	slices.Sort(files)
	slices.Sort(fields)
	type part struct {
		field, filename string
		body            io.Reader
	}
	build := func(name string, big bool, parts func() []part) sweepVariant {
		const boundary = "sweepboundary"
		return sweepVariant{name: name, url: u, ctype: "multipart/form-data; boundary=" + boundary, big: big, oneEngine: true,
			body: func() io.Reader {
				var rs []io.Reader
				for _, p := range parts() {
					head := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + p.field + "\""
					if p.filename != "" {
						head += "; filename=\"" + p.filename + "\"\r\nContent-Type: image/png"
					}
					rs = append(rs, strings.NewReader(head+"\r\n\r\n"), p.body, strings.NewReader("\r\n"))
				}
				rs = append(rs, strings.NewReader("--"+boundary+"--\r\n"))
				return io.MultiReader(rs...)
			}}
	}
	png := "\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x7f\xff\xff\xff\x7f\xff\xff\xff\x08\x06\x00\x00\x00"
	var vs []sweepVariant
	for _, f := range files {
		vs = append(vs,
			build("multipart "+f+" traversal", false, func() []part {
				return []part{{f, "../../../etc/x.png", strings.NewReader(png)}}
			}),
			build("multipart "+f+" empty", false, func() []part { return []part{{f, "", strings.NewReader("")}} }),
			build("multipart "+f+" 20 MB", true, func() []part {
				return []part{{f, "big.png", io.MultiReader(strings.NewReader(png), io.LimitReader(repeatReader(0), 20<<20))}}
			}),
			build("multipart "+f+" 11 files", false, func() []part {
				var ps []part
				for i := range 11 {
					ps = append(ps, part{f, fmt.Sprintf("f%d.png", i), strings.NewReader(png)})
				}
				return ps
			}))
	}
	for _, n := range fields {
		vs = append(vs, build("multipart "+n+" long", false, func() []part {
			return []part{{n, "", strings.NewReader(strings.Repeat("x", 100<<10))}}
		}), build("multipart "+n+" nul", false, func() []part { return []part{{n, "", strings.NewReader("a\x00\xff")}} }))
	}
	return vs
}
