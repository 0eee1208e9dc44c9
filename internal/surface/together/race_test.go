package together_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/together"
)

// racers is how many requests each concurrency test sends at once: enough
// that, released together, they overlap on a two-core machine.
const racers = 64

// answer is one response of a request sent side by side with others.
type answer struct {
	code int
	body string
}

// fire sends n requests at once (each built by req(i) before any is sent,
// all released together) and returns their answers. A transport error is
// answered as code 0, so the test reports it rather than hanging.
func fire(t *testing.T, n int, req func(i int) *http.Request) []answer {
	t.Helper()
	reqs := make([]*http.Request, n)
	for i := range n {
		reqs[i] = req(i)
	}
	out := make([]answer, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := http.DefaultClient.Do(reqs[i])
			if err != nil {
				out[i] = answer{body: err.Error()}
				return
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			out[i] = answer{code: resp.StatusCode, body: string(raw)}
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// jsonReq builds a JSON request to the env.
func (e *env) jsonReq(method, path, token string, body any) *http.Request {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// uploadReq builds a multipart request to the env.
func (e *env) uploadReq(path, token string, parts []part) *http.Request {
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
	req, err := http.NewRequest("POST", e.url+path, &body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

// tally counts answers by status, failing the test on any status outside
// want (a 500, a transport error) or an error body without Together's
// {"error": …} shape.
func tally(t *testing.T, what string, as []answer, want ...int) map[int]int {
	t.Helper()
	n := map[int]int{}
	for _, a := range as {
		n[a.code]++
		ok := false
		for _, w := range want {
			ok = ok || a.code == w
		}
		if !ok {
			t.Errorf("%s: status %d (%s), want one of %v", what, a.code, a.body, want)
			continue
		}
		if a.code >= 400 {
			var obj map[string]any
			if err := json.Unmarshal([]byte(a.body), &obj); err != nil || obj["error"] == nil {
				t.Errorf("%s: %d without Together's error shape: %s", what, a.code, a.body)
			}
		}
	}
	return n
}

// TestUploadQuotaHoldsConcurrently: uploads sent all at once by one account
// keep no more than its --upload-quota-bytes in all, attachments and
// custom emoji alike; every refused one is a 507 with the quota's message.
// The quota was read when each request started, so every one of them
// passed it before.
func TestUploadQuotaHoldsConcurrently(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			img := pngBytes(t, 2, 2)
			const fit = 3
			quota := int64(fit*len(img) + len(img)/2)
			e := newEnv(t, eng, func(d *together.Deps) { d.UploadQuota = quota })
			ann := e.register("ann")
			sid, cid := e.serverWithChannel(ann, "files")
			mids := make([]string, racers)
			for i := range mids {
				m, _ := e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": "with a file"})
				mids[i] = m["id"].(string)
			}
			as := fire(t, racers, func(i int) *http.Request {
				if i%4 == 3 {
					return e.uploadReq("/servers/"+sid+"/emojis", ann.access,
						[]part{{"name", "", []byte(fmt.Sprintf("e%d", i))}, {"image", "e.png", img}})
				}
				return e.uploadReq("/messages/"+mids[i]+"/attachments", ann.access, []part{{"files", "a.png", img}})
			})
			n := tally(t, "upload", as, 201, 507)
			for _, a := range as {
				if a.code == 507 && !strings.Contains(a.body, "Upload quota") {
					t.Errorf("refused without the quota's message: %s", a.body)
				}
			}
			kept := 0
			for _, mid := range mids {
				_, list := e.must(200, "GET", "/messages/"+mid+"/attachments", ann.access, nil)
				kept += len(list)
			}
			_, emoji := e.must(200, "GET", "/servers/"+sid+"/emojis", ann.access, nil)
			kept += len(emoji)
			if kept > fit || kept != n[201] {
				t.Errorf("kept %d files (%d answered 201), quota fits %d", kept, n[201], fit)
			}
			if kept == 0 {
				t.Errorf("nothing kept: %v", n)
			}
		})
	}
}

// sameRefusal checks that every refused answer of a burst is what one
// more request sent alone gets: a refusal under load must be the surface's
// own, never a 500 from a unique constraint.
func sameRefusal(t *testing.T, what string, as []answer, alone answer) {
	t.Helper()
	for _, a := range as {
		if a.code >= 300 && (a.code != alone.code || a.body != alone.body) {
			t.Errorf("%s at once: %d %s; alone: %d %s", what, a.code, a.body, alone.code, alone.body)
			return
		}
	}
}

func one(t *testing.T, req *http.Request) answer {
	t.Helper()
	return fire(t, 1, func(int) *http.Request { return req })[0]
}

// TestUniqueRulesHoldConcurrently: requests that may succeed once, sent
// all at once, succeed once, and every other one gets the answer a
// request sent alone gets (never a 500 from the database's unique
// constraint): a registration of one username, a join of one server, a
// DM opened with one account, an emoji name, a role given, a reaction, a
// pin, a ban.
func TestUniqueRulesHoldConcurrently(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			reg := func(i int) *http.Request {
				return e.jsonReq("POST", "/auth/register", "", map[string]string{"username": "dup", "password": "password123",
					"email": fmt.Sprintf("dup%d@example.org", i)})
			}
			as := fire(t, racers, reg)
			if n := tally(t, "register", as, 201, 400, 409); n[201] != 1 {
				t.Errorf("one username registered %d times at once", n[201])
			}
			sameRefusal(t, "register", as, one(t, reg(racers)))

			ann, bob, cat := e.register("ann"), e.register("bob"), e.register("cat")
			sid, cid := e.serverWithChannel(ann, "race")
			join := func(int) *http.Request { return e.jsonReq("POST", "/servers/"+sid+"/join", bob.access, nil) }
			as = fire(t, racers, join)
			if n := tally(t, "join", as, 201, 400, 409); n[201] != 1 {
				t.Errorf("one server joined %d times at once", n[201])
			}
			sameRefusal(t, "join", as, one(t, join(0)))

			dm := func(int) *http.Request {
				return e.jsonReq("POST", "/dm-channels", bob.access, map[string]string{"user_id": cat.id})
			}
			as = fire(t, racers, dm)
			tally(t, "open DM", as, 200, 201)
			ids := map[string]bool{}
			for _, a := range as {
				var obj map[string]any
				_ = json.Unmarshal([]byte(a.body), &obj)
				ids[fmt.Sprint(obj["id"])] = true
			}
			if len(ids) != 1 {
				t.Errorf("one DM opened at once answered %d channels: %v", len(ids), ids)
			}

			img := pngBytes(t, 2, 2)
			emoji := func(int) *http.Request {
				return e.uploadReq("/servers/"+sid+"/emojis", ann.access, []part{{"name", "", []byte("wave")}, {"image", "w.png", img}})
			}
			as = fire(t, racers, emoji)
			if n := tally(t, "emoji", as, 201, 400); n[201] != 1 {
				t.Errorf("one emoji name created %d times at once", n[201])
			}
			sameRefusal(t, "emoji", as, one(t, emoji(0)))

			role, _ := e.must(201, "POST", "/servers/"+sid+"/roles", ann.access, map[string]any{"name": "r"})
			give := func(int) *http.Request {
				return e.jsonReq("PUT", "/servers/"+sid+"/members/"+bob.id+"/roles/"+role["id"].(string), ann.access, nil)
			}
			as = fire(t, racers, give)
			tally(t, "give role", as, 200, 204, 400, 409)
			sameRefusal(t, "give role", as, one(t, give(0)))

			m, _ := e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": "react"})
			react := func(int) *http.Request {
				return e.jsonReq("PUT", "/channels/"+cid+"/messages/"+m["id"].(string)+"/reactions/x", bob.access, nil)
			}
			as = fire(t, racers, react)
			tally(t, "react", as, 200, 201, 204)

			pin := func(int) *http.Request {
				return e.jsonReq("POST", "/channels/"+cid+"/messages/"+m["id"].(string)+"/pin", ann.access, nil)
			}
			as = fire(t, racers, pin)
			tally(t, "pin", as, 200, 201, 204, 400, 409)
			sameRefusal(t, "pin", as, one(t, pin(0)))

			ban := func(int) *http.Request {
				return e.jsonReq("POST", "/servers/"+sid+"/members/"+bob.id+"/ban", ann.access, map[string]string{})
			}
			as = fire(t, racers, ban)
			// A ban of someone banned already is a success (as in Together).
			tally(t, "ban", as, 200, 204)
			sameRefusal(t, "ban", as, one(t, ban(0)))
		})
	}
}

// TestInviteUsesHoldConcurrently: an invite's max_uses holds when it is
// accepted all at once, and one account accepting it many times at once
// joins once and spends one use.
func TestInviteUsesHoldConcurrently(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			ann := e.register("ann")
			sid, _ := e.serverWithChannel(ann, "race")
			invite := func(uses int) string {
				inv, _ := e.must(201, "POST", "/servers/"+sid+"/invites", ann.access, map[string]any{"max_uses": uses})
				return inv["code"].(string)
			}
			users := make([]user, 16)
			for i := range users {
				users[i] = e.register(fmt.Sprintf("u%d", i))
			}
			code := invite(3)
			as := fire(t, len(users), func(i int) *http.Request {
				return e.jsonReq("POST", "/invites/"+code+"/accept", users[i].access, nil)
			})
			if n := tally(t, "accept", as, 200, 201, 400, 404, 410); n[200]+n[201] != 3 {
				t.Errorf("an invite of 3 uses accepted %d times at once (%v)", n[200]+n[201], n)
			}

			bob := e.register("bob")
			code = invite(5)
			as = fire(t, racers, func(int) *http.Request {
				return e.jsonReq("POST", "/invites/"+code+"/accept", bob.access, nil)
			})
			if n := tally(t, "accept by one", as, 200, 201, 400, 409); n[200]+n[201] != 1 {
				t.Errorf("one account joined %d times at once", n[200]+n[201])
			}
			_, list := e.must(200, "GET", "/servers/"+sid+"/invites", ann.access, nil)
			for _, x := range list {
				inv := x.(map[string]any)
				if inv["code"] == code && inv["uses"] != float64(1) {
					t.Errorf("one account accepting at once spent %v uses of the invite", inv["uses"])
				}
			}
		})
	}
}

// TestInviteOnlyRegistrationSpendsUses: under invite_only registration an
// invite admits as many sign-ups as it has uses, sent one after another
// or all at once (Together: 400 "Invalid or expired invite code" past
// them), and a sign-up refused for a taken name spends none.
func TestInviteOnlyRegistrationSpendsUses(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			ann, root := e.register("ann"), e.register("root")
			e.inviteOnly(root)
			sid, _ := e.serverWithChannel(ann, "race")
			invite := func(uses int) string {
				inv, _ := e.must(201, "POST", "/servers/"+sid+"/invites", ann.access, map[string]any{"max_uses": uses})
				return inv["code"].(string)
			}
			signUp := func(code, name string) *http.Request {
				return e.jsonReq("POST", "/auth/register", "", map[string]string{"username": name, "password": "password123",
					"invite_code": code})
			}
			code := invite(1)
			if a := one(t, signUp(code, "ann")); a.code != 409 {
				t.Fatalf("a taken name: %d %s", a.code, a.body)
			}
			if a := one(t, signUp(code, "first")); a.code != 201 {
				t.Fatalf("the invite's one use: %d %s", a.code, a.body)
			}
			if a := one(t, signUp(code, "second")); a.code != 400 || !strings.Contains(a.body, "Invalid or expired invite code") {
				t.Errorf("past the invite's uses: %d %s", a.code, a.body)
			}

			code = invite(3)
			as := fire(t, racers, func(i int) *http.Request { return signUp(code, fmt.Sprintf("racer%d", i)) })
			if n := tally(t, "sign-up", as, 201, 400); n[201] != 3 {
				t.Errorf("an invite of 3 uses admitted %d sign-ups at once", n[201])
			}
		})
	}
}

// TestBotsBoundedConcurrently: bots created all at once by one account
// stop at community.MaxBots, every other request answered with Together's
// 400.
func TestBotsBoundedConcurrently(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			ann := e.register("ann")
			as := fire(t, racers, func(i int) *http.Request {
				return e.jsonReq("POST", "/bots", ann.access, map[string]any{"name": fmt.Sprint("b", i)})
			})
			n := tally(t, "bots", as, 201, 400)
			for _, a := range as {
				if a.code == 400 && !strings.Contains(a.body, "Maximum number of bots reached (25)") {
					t.Errorf("refused otherwise: %s", a.body)
				}
			}
			obj, _ := e.must(200, "GET", "/bots", ann.access, nil)
			list, _ := obj["bots"].([]any)
			if n[201] != community.MaxBots || len(list) != community.MaxBots {
				t.Errorf("%d bots made at once (%d listed), bound %d", n[201], len(list), community.MaxBots)
			}
		})
	}
}

// TestBanHoldsAgainstConcurrentJoins: a member who sends joins while being
// banned is not left a member of the server it is banned from.
func TestBanHoldsAgainstConcurrentJoins(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			ann, bob := e.register("ann"), e.register("bob")
			sid, _ := e.serverWithChannel(ann, "race", bob)
			for round := range 8 {
				as := fire(t, racers, func(i int) *http.Request {
					if i == racers/2 {
						return e.jsonReq("POST", "/servers/"+sid+"/members/"+bob.id+"/ban", ann.access, map[string]string{})
					}
					return e.jsonReq("POST", "/servers/"+sid+"/join", bob.access, nil)
				})
				tally(t, "join or ban", as, 200, 201, 204, 403, 409)
				_, members := e.must(200, "GET", "/servers/"+sid+"/members", ann.access, nil)
				for _, m := range members {
					if m.(map[string]any)["user_id"] == bob.id {
						t.Fatalf("round %d: a member banned while sending joins is still a member (ban: %d %s)", round,
							as[racers/2].code, as[racers/2].body)
					}
				}
				e.must(204, "DELETE", "/servers/"+sid+"/bans/"+bob.id, ann.access, nil)
				e.must(201, "POST", "/servers/"+sid+"/join", bob.access, nil)
			}
		})
	}
}

// TestSignOutClosesSocketsOpenedMeanwhile: gateway sockets opened with a
// session's token while it is signed out are all closed: none is left
// receiving events. The harness closes a revoked session's sockets as the
// app does (identity.RevokedTopic → Hub.CloseSession).
func TestSignOutClosesSocketsOpenedMeanwhile(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			revoked := make(chan struct{}, 1)
			sub, err := e.bus.Subscribe(identity.RevokedTopic, func(m bus.Message) {
				var r identity.Revoked
				if json.Unmarshal(m.Data, &r) == nil && r.SessionID != "" {
					e.hub.CloseSession(r.SessionID, websocket.StatusPolicyViolation, "session revoked")
					revoked <- struct{}{}
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sub.Unsubscribe() })
			ann, bob := e.register("ann"), e.register("bob")
			_, cid := e.serverWithChannel(ann, "race", bob)
			for round := range 6 {
				signOutRace(t, e, revoked, cid, bob, round)
			}
		})
	}
}

// signOutRace signs in as ann, opens sockets with the new session's
// token while signing it out, and fails if any socket then receives an
// event (bob's post in cid).
func signOutRace(t *testing.T, e *env, revoked <-chan struct{}, cid string, bob user, round int) {
	t.Helper()
	login, _ := e.must(200, "POST", "/auth/login", "", map[string]string{"username": "ann", "password": "password123"})
	ann := user{access: login["access_token"].(string)}
	var mu sync.Mutex
	var conns []*websocket.Conn
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			if i == racers/2 {
				req := e.jsonReq("POST", "/auth/logout", ann.access, nil)
				if res, err := http.DefaultClient.Do(req); err == nil {
					res.Body.Close()
				}
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http")+"/ws?token="+ann.access, nil)
			if err != nil {
				return // refused: signed out already
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	<-revoked
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.CloseNow()
		}
	})
	// Every socket of the session is closed by now, or was never
	// registered: an event sent from here on reaches none.
	e.must(201, "POST", "/channels/"+cid+"/messages", bob.access, map[string]any{"content": "after sign-out"})
	left := 0
	for _, c := range conns {
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				break // closed
			}
			if bytes.Contains(data, []byte(`"MESSAGE_CREATE"`)) {
				left++
				break
			}
		}
		cancel()
	}
	if left > 0 {
		t.Errorf("round %d: %d of %d sockets opened during sign-out still receive events", round, left, len(conns))
	}
}
