package owncast_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/openapitest"
)

// Owncast's scopes, as the integration routes require them (upstream's
// router: RequireExternalAPIAccessToken(scope, …)).
const (
	scopeSys   = "CAN_SEND_SYSTEM_MESSAGES"
	scopeMsg   = "CAN_SEND_MESSAGES"
	scopeAdmin = "HAS_ADMIN_ACCESS"
)

var allScopes = []string{scopeSys, scopeMsg, scopeAdmin}

// integrationScopes is the one scope each integration route takes.
var integrationScopes = map[string]string{
	"POST /api/integrations/chat/system":            scopeSys,
	"POST /api/integrations/chat/system/client/{}":  scopeSys,
	"POST /api/integrations/chat/action":            scopeSys,
	"POST /api/integrations/chat/send":              scopeMsg,
	"POST /api/integrations/chat/user":              scopeMsg,
	"POST /api/integrations/chat/messagevisibility": scopeAdmin,
	"POST /api/integrations/streamtitle":            scopeAdmin,
	"GET /api/integrations/chat":                    scopeAdmin,
	"GET /api/integrations/clients":                 scopeAdmin,
	"GET /api/integrations/moderation/chat/user/{}": scopeAdmin,
	"GET /api/integrations/status":                  scopeAdmin,
}

// moderatorRoutes take a chat user's ?accessToken= of a moderator
// (RequireUserModerationScopeAccesstoken); the other chatToken routes take
// any enabled chat user's (RequireUserAccessToken).
var moderatorRoutes = map[string]bool{
	"POST /api/chat/messagevisibility": true,
	"POST /api/chat/users/setenabled":  true,
	"GET /api/moderation/chat/user/{}": true,
}

var chatUserRoutes = map[string]bool{
	"GET /api/chat":                    true,
	"POST /api/notifications/register": true,
	"POST /api/auth/indieauth":         true,
	"POST /api/auth/fediverse":         true,
	"GET /ws":                          true, // TestOwncastScopeSweepSocket
}

type sweepOp struct {
	key, method, path string // key: "METHOD /normalised/{}"
	schemes           []string
}

// sweepOps lists every operation of api/owncast.yaml with the security
// schemes it names (none for a public one).
func sweepOps(t *testing.T, doc *openapi3.T) []sweepOp {
	var out []sweepOp
	for path, item := range doc.Paths.Map() {
		for method, o := range item.Operations() {
			if o.Extensions["x-hearth-needs"] != nil {
				// Stage routes take a Hearth session (hearthBearer); the
				// harness nodes do not wire community stages.
				continue
			}
			op := sweepOp{key: openapitest.Normalize(method + " " + path), method: method, path: path}
			sec := o.Security
			if sec == nil {
				sec = &doc.Security
			}
			for _, req := range *sec {
				for name := range req {
					op.schemes = append(op.schemes, name)
				}
			}
			out = append(out, op)
		}
	}
	slices.SortFunc(out, func(a, b sweepOp) int { return strings.Compare(a.key, b.key) })
	return out
}

// principal is one caller: auth as node.do takes it, and a query token.
type principal struct {
	name, auth, query string
	// mayLimit: a wrong Basic password is a sign-in attempt, so after
	// many the answer is 429 (the spec's rate-limited refusal).
	mayLimit bool
}

func basicHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// TestOwncastScopeSweep calls every authenticated operation of
// api/owncast.yaml as each principal Owncast refuses there: the admin
// routes without the admin's Basic password (a wrong one, another user, an
// integration token with every scope, a Hearth session of a non-admin, a
// moderator's chat token as Bearer and as ?accessToken=); each integration
// route with tokens holding every scope but its own, a deleted token, the
// admin's Basic auth, a chat token; the chat-user routes with a disabled
// user, a token sent as Bearer instead of ?accessToken=; the moderator
// routes with a plain user, a disabled moderator, a disabled user and an
// admin-scoped integration token. Each must be Owncast's 401 text refusal,
// and nothing the admin can read back (config, chat history, users, bans,
// tokens, webhooks, emoji, schedule, followers) may change. Then each
// route works for the principal it names (an integration token holding
// exactly its scope), so the sweep cannot pass by refusing everyone.
func TestOwncastScopeSweep(t *testing.T) {
	t.Parallel()
	doc := openapitest.Load(t, "owncast.yaml")
	ctx := t.Context()
	n := newNode(t, nodeOpts{})
	ln := newLiveNode(t, nil, 2)
	lnode := &node{url: ln.url}

	// The admin's reads run first: verified credentials are remembered,
	// so the wrong-password attempts below cannot lock the admin out.
	snapshot := func(nd *node, paths []string) map[string]string {
		out := map[string]string{}
		for _, p := range paths {
			r := nd.do(t, "GET", p, "admin", nil)
			if r.status != 200 {
				t.Fatalf("admin GET %s: %d %s", p, r.status, r.body)
			}
			// serverconfig's adminPassword is a fresh bcrypt hash (a new
			// salt) on every read.
			var m map[string]any
			if json.Unmarshal(r.body, &m) == nil && m["adminPassword"] != nil {
				delete(m, "adminPassword")
				r.body, _ = json.Marshal(m)
			}
			out[p] = string(r.body)
		}
		return out
	}
	chatReads := []string{"/api/admin/serverconfig", "/api/admin/chat/messages", "/api/admin/users",
		"/api/admin/chat/users/disabled", "/api/admin/chat/users/moderators", "/api/admin/chat/users/ipbans",
		"/api/admin/accesstokens", "/api/admin/webhooks", "/api/emoji", "/api/admin/followers",
		"/api/admin/followers/pending", "/api/admin/followers/blocked", "/api/admin/schedule",
		"/api/admin/federation/servers", "/api/config"}
	liveReads := []string{"/api/video/variants", "/api/admin/viewers/playback", "/api/admin/schedule"}

	victim, plain := n.register(t, "victim"), n.register(t, "plain")
	mod, exMod, banned := n.register(t, "mod"), n.register(t, "exmod"), n.register(t, "banned")
	for _, id := range []string{mod.ID, exMod.ID} {
		if r := n.do(t, "POST", "/api/admin/chat/users/setmoderator", "admin", map[string]any{"userId": id, "isModerator": true}); r.status != 200 {
			t.Fatalf("setmoderator: %d %s", r.status, r.body)
		}
	}
	for _, id := range []string{exMod.ID, banned.ID} {
		if r := n.do(t, "POST", "/api/admin/chat/users/setenabled", "admin", map[string]any{"userId": id, "enabled": false}); r.status != 200 {
			t.Fatalf("setenabled: %d %s", r.status, r.body)
		}
	}
	msg, err := n.msgs.Post(ctx, messages.PostInput{ConversationID: n.chat.Conversation(), Kind: messages.KindStage,
		AuthorID: victim.ID, Body: "the victim's message"})
	if err != nil {
		t.Fatal(err)
	}
	// tokens[set] is an integration token holding exactly that set of
	// scopes (on each node).
	sets := [][]string{{scopeSys}, {scopeMsg}, {scopeAdmin}, {scopeSys, scopeMsg}, {scopeSys, scopeAdmin}, {scopeMsg, scopeAdmin}, allScopes}
	chatTokens, liveTokens := map[string]string{}, map[string]string{}
	for i, set := range sets {
		var tok struct {
			AccessToken string `json:"accessToken"`
		}
		r := n.do(t, "POST", "/api/admin/accesstokens/create", "admin", map[string]any{"name": "bot" + string(rune('a'+i)), "scopes": set})
		r.json(t, &tok)
		if r.status != 200 || tok.AccessToken == "" {
			t.Fatalf("accesstokens/create: %d %s", r.status, r.body)
		}
		chatTokens[strings.Join(set, ",")] = tok.AccessToken
		_, _, raw, err := ln.id.CreateIntegrationToken(ctx, "bot"+string(rune('a'+i)), set)
		if err != nil {
			t.Fatal(err)
		}
		liveTokens[strings.Join(set, ",")] = raw
	}
	var gone struct {
		AccessToken string `json:"accessToken"`
	}
	n.do(t, "POST", "/api/admin/accesstokens/create", "admin", map[string]any{"name": "gone", "scopes": allScopes}).json(t, &gone)
	if r := n.do(t, "POST", "/api/admin/accesstokens/delete", "admin", map[string]any{"token": gone.AccessToken}); r.status != 200 {
		t.Fatalf("accesstokens/delete: %d %s", r.status, r.body)
	}
	if r := n.do(t, "POST", "/api/admin/webhooks/create", "admin", map[string]any{"url": "https://hooks.example/x", "events": []string{"CHAT"}}); r.status != 200 {
		t.Fatalf("webhooks/create: %d %s", r.status, r.body)
	}
	session := func(idn *identity.Service) string {
		a, err := idn.Register(ctx, identity.RegisterInput{Username: "member", Password: "password1"})
		if err != nil {
			t.Fatal(err)
		}
		s, err := idn.OpenSession(ctx, a, "test")
		if err != nil {
			t.Fatal(err)
		}
		return s.AccessToken
	}
	chatSession, liveSession := session(n.id), session(ln.id)

	beforeChat, beforeLive := snapshot(n, chatReads), snapshot(lnode, liveReads)

	// Every field any route reads, aimed at something that exists, so a
	// route that skipped its check would change something.
	body := map[string]any{"value": "pwned", "body": "pwned", "author": "pwned", "idArray": []string{msg.ID},
		"visible": false, "userId": victim.ID, "enabled": false, "isModerator": true, "name": "pwned",
		"scopes": allScopes, "token": chatTokens[strings.Join(allScopes, ",")], "url": "https://evil.example/",
		"events": []string{"CHAT"}, "id": 1, "ipAddress": "192.0.2.1", "authHost": "https://evil.example/",
		"account": "pwned@evil.example", "actorIRI": "https://evil.example/u", "approved": true,
		"title": "pwned", "description": "pwned", "start": "2030-01-01T00:00:00Z", "data": "data:image/png;base64,AA=="}

	servedBy := func(op sweepOp) *node {
		path := strings.ReplaceAll(op.key[len(op.method)+1:], "{}", "x")
		for _, nd := range []*node{n, lnode} {
			req, _ := http.NewRequest("PROPFIND", nd.url+path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			for _, m := range strings.Split(resp.Header.Get("Allow"), ",") {
				if strings.TrimSpace(m) == op.method {
					return nd
				}
			}
		}
		t.Fatalf("no node serves %s", op.key)
		return nil
	}
	pathFor := func(op sweepOp) string {
		p := op.path
		for _, v := range []struct{ param, val string }{{"{userId}", victim.ID}, {"{clientId}", "1"}, {"{id}", "1"}, {"{channelId}", "x"}} {
			p = strings.ReplaceAll(p, v.param, v.val)
		}
		return p
	}
	call := func(nd *node, op sweepOp, who principal) reply {
		p := pathFor(op)
		if who.query != "" {
			p += "?accessToken=" + who.query
		}
		var b any
		if op.method != "GET" && op.method != "DELETE" {
			b = body
		}
		return nd.do(t, op.method, p, who.auth, b)
	}
	refused := func(op sweepOp, who principal, r reply, text string) {
		t.Helper()
		if who.mayLimit && r.status == http.StatusTooManyRequests {
			return
		}
		if r.status != http.StatusUnauthorized || strings.TrimSpace(string(r.body)) != text ||
			!strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
			t.Errorf("%s as %s: %d %q (%s), want 401 %q", op.key, who.name, r.status, r.body, r.header.Get("Content-Type"), text)
		}
	}

	var positive []func()
	swept := map[string]bool{"GET /ws": true}
	covered := 0
	for _, op := range sweepOps(t, doc) {
		if len(op.schemes) == 0 || op.key == "GET /ws" {
			continue
		}
		nd := servedBy(op)
		toks := chatTokens
		sess := chatSession
		if nd == lnode {
			toks, sess = liveTokens, liveSession
		}
		covered++
		swept[op.key] = true
		switch {
		case slices.Contains(op.schemes, "adminBasic"):
			whos := []principal{
				{name: "nobody"},
				{name: "an integration token with every scope", auth: "bearer:" + toks[strings.Join(allScopes, ",")]},
				{name: "an admin-scoped integration token", auth: "bearer:" + toks[scopeAdmin]},
				{name: "a member's Hearth session", auth: "bearer:" + sess},
				{name: "a moderator's chat token as Bearer", auth: "bearer:" + mod.AccessToken},
				{name: "a moderator's ?accessToken=", query: mod.AccessToken},
				{name: "an integration token as ?accessToken=", query: toks[strings.Join(allScopes, ",")]},
				{name: "the admin password for another user", auth: basicHeader("plain", "abc123"), mayLimit: true},
				{name: "a wrong admin password", auth: "basic:wrong", mayLimit: true},
			}
			for _, who := range whos {
				r := call(nd, op, who)
				refused(op, who, r, "Unauthorized")
				basic := who.auth == "" || strings.HasPrefix(who.auth, "basic:") || strings.HasPrefix(who.auth, "Basic ")
				if r.status == 401 && basic && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic realm=") {
					t.Errorf("%s as %s: 401 without a Basic challenge", op.key, who.name)
				}
			}
			if op.method == "GET" {
				positive = append(positive, func() {
					if r := call(nd, op, principal{auth: "admin"}); r.status == 401 || r.status >= 500 {
						t.Errorf("%s as the admin: %d %s", op.key, r.status, r.body)
					}
				})
			}
		case slices.Contains(op.schemes, "integrationBearer"):
			need, ok := integrationScopes[op.key]
			if !ok {
				t.Errorf("%s: which scope it takes is not in integrationScopes", op.key)
				continue
			}
			var whos []principal
			for _, set := range sets {
				if !slices.Contains(set, need) {
					whos = append(whos, principal{name: "a token with " + strings.Join(set, ","), auth: "bearer:" + toks[strings.Join(set, ",")]})
				}
			}
			whos = append(whos,
				principal{name: "nobody"},
				principal{name: "the admin's Basic auth", auth: "admin"},
				principal{name: "a token with " + need + " as ?accessToken=", query: toks[need]},
				principal{name: "a moderator's chat token as Bearer", auth: "bearer:" + mod.AccessToken},
				principal{name: "a member's Hearth session", auth: "bearer:" + sess},
			)
			if nd == n {
				whos = append(whos, principal{name: "a deleted token", auth: "bearer:" + gone.AccessToken})
			}
			for _, who := range whos {
				refused(op, who, call(nd, op, who), "unauthorized")
			}
			positive = append(positive, func() {
				r := call(nd, op, principal{auth: "Bearer " + toks[need]})
				if r.status == 401 || r.status == 403 || r.status >= 500 {
					t.Errorf("%s with exactly %s: %d %s", op.key, need, r.status, r.body)
				}
				if r.header.Get("Access-Control-Allow-Origin") != "*" {
					t.Errorf("%s: no CORS * on an integration's answer", op.key)
				}
			})
		case slices.Contains(op.schemes, "chatToken") && moderatorRoutes[op.key]:
			whos := []principal{
				{name: "nobody"},
				{name: "a chat user", query: plain.AccessToken},
				{name: "a moderator's token as Bearer", auth: "bearer:" + mod.AccessToken},
				{name: "a disabled moderator", query: exMod.AccessToken},
				{name: "a disabled user", query: banned.AccessToken},
				{name: "the admin's Basic auth", auth: "admin"},
				{name: "an admin-scoped integration token", auth: "bearer:" + toks[scopeAdmin]},
				{name: "an admin-scoped integration token as ?accessToken=", query: toks[scopeAdmin]},
				{name: "a member's Hearth session as ?accessToken=", query: sess},
			}
			for _, who := range whos {
				refused(op, who, call(nd, op, who), "unauthorized")
			}
			positive = append(positive, func() {
				if r := call(nd, op, principal{query: mod.AccessToken}); r.status == 401 || r.status >= 500 {
					t.Errorf("%s as a moderator: %d %s", op.key, r.status, r.body)
				}
			})
		case slices.Contains(op.schemes, "chatToken") && chatUserRoutes[op.key]:
			whos := []principal{
				{name: "nobody"},
				{name: "a chat user's token as Bearer", auth: "bearer:" + plain.AccessToken},
				{name: "a disabled user", query: banned.AccessToken},
				{name: "a disabled moderator", query: exMod.AccessToken},
				{name: "the admin's Basic auth", auth: "admin"},
				{name: "an integration token as Bearer", auth: "bearer:" + toks[strings.Join(allScopes, ",")]},
				{name: "a made-up token", query: "not-a-token"},
				// Owncast stores an integration's token as its bot user's
				// chat token too; Hearth keeps it to /api/integrations
				// (docs/compatibility.md).
				{name: "an integration token as ?accessToken=", query: toks[strings.Join(allScopes, ",")]},
			}
			for _, who := range whos {
				refused(op, who, call(nd, op, who), "unauthorized")
			}
			positive = append(positive, func() {
				if r := call(nd, op, principal{query: plain.AccessToken}); r.status == 401 || r.status >= 500 {
					t.Errorf("%s as a chat user: %d %s", op.key, r.status, r.body)
				}
			})
		default:
			t.Errorf("%s names %v: the sweep does not know who may call it", op.key, op.schemes)
		}
	}
	// Every route the table knows takes a principal must say so in the
	// spec (a route the spec calls public is not swept at all).
	for _, m := range []map[string]bool{moderatorRoutes, chatUserRoutes} {
		for k := range m {
			if !swept[k] {
				t.Errorf("%s takes a chat token but api/owncast.yaml names no security for it", k)
			}
		}
	}
	for k := range integrationScopes {
		if !swept[k] {
			t.Errorf("%s takes an integration token but api/owncast.yaml names no security for it", k)
		}
	}
	if covered < 120 {
		t.Errorf("the sweep covered %d operations; the spec has more", covered)
	}

	for what, got := range map[string]map[string]string{"chat node": snapshot(n, chatReads), "live node": snapshot(lnode, liveReads)} {
		before := beforeChat
		if what == "live node" {
			before = beforeLive
		}
		for p, b := range got {
			if !jsonEqual(before[p], b) {
				t.Errorf("%s: %s changed under refused calls:\nbefore %s\nafter  %s", what, p, before[p], b)
			}
		}
	}

	for _, f := range positive {
		f()
	}
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

// TestOwncastScopeSweepSocket is the chat socket's part of the sweep. A
// socket without a usable chat token (none, a made-up one, an integration
// token) is told to register and closed, a disabled user's is told so and
// closed. Owncast's socket takes CHAT, NAME_CHANGE and COLOR_CHANGE from a
// client and nothing a moderator or the server sends: a chat user's
// VISIBILITY-UPDATE, SYSTEM, CHAT_ACTION or ERROR_USER_DISABLED frame does
// nothing; a name or colour change naming another user changes the
// sender's own; a CHAT naming another user is the sender's. A user
// disabled while connected cannot post in the moment before the socket
// closes, and a moderator demoted while connected loses the moderator's
// pass through established-user mode at once.
func TestOwncastScopeSweepSocket(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	n := newNode(t, nodeOpts{})
	observer, attacker, victim := n.register(t, "observer"), n.register(t, "attacker"), n.register(t, "victim")
	banned, demoted := n.register(t, "banned"), n.register(t, "demoted")
	var tok struct {
		AccessToken string `json:"accessToken"`
	}
	n.do(t, "POST", "/api/admin/accesstokens/create", "admin", map[string]any{"name": "bot", "scopes": allScopes}).json(t, &tok)
	if r := n.do(t, "POST", "/api/admin/chat/users/setenabled", "admin", map[string]any{"userId": banned.ID, "enabled": false}); r.status != 200 {
		t.Fatalf("setenabled: %d %s", r.status, r.body)
	}
	for _, c := range []struct{ name, token, want string }{
		{"no token", "", "ERROR_NEEDS_REGISTRATION"},
		{"a made-up token", "not-a-token", "ERROR_NEEDS_REGISTRATION"},
		{"an integration token", tok.AccessToken, "ERROR_NEEDS_REGISTRATION"},
		{"a disabled user", banned.AccessToken, "ERROR_USER_DISABLED"},
	} {
		ws := n.dial(t, c.token)
		ws.await(c.want, nil)
		ws.awaitClosed()
	}
	// The flood limit would drop the marker after the burst below.
	if r := n.do(t, "POST", "/api/admin/config/chat/spamprotectionenabled", "admin", map[string]any{"value": false}); r.status != 200 {
		t.Fatalf("spamprotectionenabled: %d %s", r.status, r.body)
	}
	before, err := n.chat.Authenticate(ctx, victim.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := n.msgs.Post(ctx, messages.PostInput{ConversationID: n.chat.Conversation(), Kind: messages.KindStage,
		AuthorID: victim.ID, Body: "the victim's message"})
	if err != nil {
		t.Fatal(err)
	}
	obs := n.dial(t, observer.AccessToken)
	obs.await("CONNECTED_USER_INFO", nil)
	att := n.dial(t, attacker.AccessToken)
	att.await("CONNECTED_USER_INFO", nil)

	victimRef := map[string]any{"id": victim.ID, "displayName": "victim", "scopes": []string{"MODERATOR"}}
	for _, f := range []map[string]any{
		{"type": "VISIBILITY-UPDATE", "ids": []string{msg.ID}, "idArray": []string{msg.ID}, "visible": false},
		{"type": "SYSTEM", "body": "forged system message"},
		{"type": "CHAT_ACTION", "body": "forged action"},
		{"type": "ERROR_USER_DISABLED", "user": victimRef, "userId": victim.ID},
		{"type": "NAME_CHANGE", "newName": "hijacked", "user": victimRef, "id": victim.ID, "userId": victim.ID},
		{"type": "COLOR_CHANGE", "newColor": 7, "user": victimRef, "id": victim.ID, "userId": victim.ID},
		{"type": "CHAT", "body": "impersonation", "user": victimRef, "userId": victim.ID},
	} {
		att.send(f)
	}
	att.send(map[string]any{"type": "CHAT", "body": "marker one"})
	seen := map[string]map[string]any{}
	for _, ev := range obs.until("marker one") {
		if b, _ := ev["body"].(string); b != "" {
			seen[b] = ev
		}
	}
	if seen["<p>impersonation</p>"] == nil {
		t.Errorf("the attacker's own CHAT did not arrive (saw %v)", seen)
	}
	for b, ev := range seen {
		if strings.Contains(b, "forged") {
			t.Errorf("a chat user's frame reached others as %v", ev)
		}
		if strings.Contains(b, "impersonation") {
			if u, _ := ev["user"].(map[string]any); u["id"] != attacker.ID {
				t.Errorf("a CHAT naming another user was posted as %v", u)
			}
		}
	}
	if m, err := n.msgs.Get(ctx, msg.ID); err != nil || m.Hidden {
		t.Errorf("a chat user's VISIBILITY-UPDATE hid a message: %+v %v", m, err)
	}
	after, err := n.chat.Authenticate(ctx, victim.AccessToken)
	if err != nil {
		t.Fatalf("the victim after another user's frames: %v", err)
	}
	if after.DisplayName != before.DisplayName || after.DisplayColor != before.DisplayColor || after.Disabled() || after.IsModerator() {
		t.Errorf("another user's frames changed the victim: %+v, was %+v", after, before)
	}

	// Disabled while connected: the moment between the notice and the
	// close is not a window to post in.
	bws := n.dial(t, n.register(t, "soon banned").AccessToken)
	info := bws.await("CONNECTED_USER_INFO", nil)
	bid, _ := info["user"].(map[string]any)["id"].(string)
	if r := n.do(t, "POST", "/api/admin/chat/users/setenabled", "admin", map[string]any{"userId": bid, "enabled": false}); r.status != 200 {
		t.Fatalf("setenabled: %d %s", r.status, r.body)
	}
	bws.await("ERROR_USER_DISABLED", nil)
	b, _ := json.Marshal(map[string]any{"type": "CHAT", "body": "posted while disabled"})
	_ = bws.ws.Write(ctx, 1, b) // the socket may already be closed
	att.send(map[string]any{"type": "CHAT", "body": "marker two"})
	for _, ev := range obs.until("marker two") {
		if strings.Contains(fmtBody(ev), "posted while disabled") {
			t.Errorf("a disabled user's message reached others: %v", ev)
		}
	}
	if r := n.do(t, "GET", "/api/admin/chat/messages", "admin", nil); strings.Contains(string(r.body), "posted while disabled") {
		t.Errorf("a disabled user's message was stored: %s", r.body)
	}

	// Demoted while connected.
	if r := n.do(t, "POST", "/api/admin/config/chat/establishedusermode", "admin", map[string]any{"value": true}); r.status != 200 {
		t.Fatalf("establishedusermode: %d %s", r.status, r.body)
	}
	if r := n.do(t, "POST", "/api/admin/chat/users/setmoderator", "admin", map[string]any{"userId": demoted.ID, "isModerator": true}); r.status != 200 {
		t.Fatalf("setmoderator: %d %s", r.status, r.body)
	}
	dws := n.dial(t, demoted.AccessToken)
	dws.await("CONNECTED_USER_INFO", func(ev map[string]any) bool { return strings.Contains(fmtBody(ev), "MODERATOR") })
	if r := n.do(t, "POST", "/api/admin/chat/users/setmoderator", "admin", map[string]any{"userId": demoted.ID, "isModerator": false}); r.status != 200 {
		t.Fatalf("setmoderator: %d %s", r.status, r.body)
	}
	dws.await("CONNECTED_USER_INFO", func(ev map[string]any) bool { return !strings.Contains(fmtBody(ev), "MODERATOR") })
	dws.send(map[string]any{"type": "CHAT", "body": "posted after demotion"})
	dws.await("CHAT_ACTION", nil)
	if r := n.do(t, "GET", "/api/admin/chat/messages", "admin", nil); strings.Contains(string(r.body), "posted after demotion") {
		t.Errorf("a demoted moderator passed established-user mode: %s", r.body)
	}
}

func fmtBody(ev map[string]any) string {
	b, _ := json.Marshal(ev)
	return string(b)
}

// until returns every event up to and including the first that mentions
// marker, failing after hangGuard.
func (c *chatClient) until(marker string) []map[string]any {
	c.t.Helper()
	var out []map[string]any
	timeout := time.After(hangGuard)
	for {
		select {
		case ev := <-c.events:
			out = append(out, ev)
			if strings.Contains(fmtBody(ev), marker) {
				return out
			}
		case <-timeout:
			c.t.Fatalf("no event with %q within the guard (saw %v)", marker, out)
			return nil
		}
	}
}
