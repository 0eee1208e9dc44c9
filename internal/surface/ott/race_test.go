package ott_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/watch"
)

// racers is how many requests each concurrency test sends at once.
const racers = 64

// fireAll sends the requests at once (built first, released together)
// and answers each one's status and body; a transport error is status 0.
func (h *harness) fireAll(reqs []*http.Request) []resp {
	out := make([]resp, len(reqs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, req := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := h.client.Do(req)
			if err != nil {
				out[i] = resp{raw: []byte(err.Error())}
				return
			}
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			out[i] = resp{status: res.StatusCode, header: res.Header, raw: raw}
			_ = json.Unmarshal(raw, &out[i].body)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func (h *harness) req(method, path, token string, body any) *http.Request {
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest(method, h.url+path, bytes.NewReader(raw))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

// TestUniqueNamesHoldConcurrently: a username registered and a room name
// created by many requests at once are taken once; every other request
// gets what one sent alone afterwards gets (OTT's 400 with its error
// name and message), never a 500 from the database's unique constraint.
func TestUniqueNamesHoldConcurrently(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, opts{db: eng.Open})
			check := func(what string, as []resp, alone resp) {
				t.Helper()
				ok := 0
				for _, a := range as {
					switch {
					case a.status == 200 || a.status == 201:
						ok++
					case a.status != alone.status || !bytes.Equal(a.raw, alone.raw):
						t.Errorf("%s at once: %d %s; alone: %d %s", what, a.status, a.raw, alone.status, alone.raw)
					}
				}
				if ok != 1 {
					t.Errorf("%s: %d succeeded at once, want 1", what, ok)
				}
			}
			register := func(i int) *http.Request {
				return h.req("POST", "/api/user/register", h.grant(), map[string]any{"username": "dup",
					"email": fmt.Sprintf("dup%d@example.org", i), "password": "Passw0rdLong"})
			}
			reqs := make([]*http.Request, racers)
			for i := range reqs {
				reqs[i] = register(i)
			}
			as := h.fireAll(reqs)
			check("register", as, h.fireAll([]*http.Request{register(racers)})[0])

			create := func() *http.Request {
				return h.req("POST", "/api/room/create", h.grant(), map[string]any{"name": "movienight", "isTemporary": false})
			}
			for i := range reqs {
				reqs[i] = create()
			}
			as = h.fireAll(reqs)
			check("create room", as, h.fireAll([]*http.Request{create()})[0])
		})
	}
}

// TestLogoutReachesSocketsOpenedMeanwhile: room sockets opened with a
// token while it signs out end up acting as the token's guest, as the
// sockets it had before; none keeps acting as the account. A socket that
// looked the token up before the sign-out and joined the room after the
// sign-out renamed the session's members kept the account (its name, its
// role, its grants) until it reconnected.
func TestLogoutReachesSocketsOpenedMeanwhile(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, opts{db: eng.Open})
			if r := h.do("POST", "/api/user/register", h.grant(), map[string]any{"username": "eve", "password": "Passw0rdLong"}); r.status != 201 {
				t.Fatalf("register: %d %s", r.status, r.raw)
			}
			h.createRoom(h.grant(), "logoutrace", nil)
			for round := range 4 {
				logoutRace(t, h, round)
			}
		})
	}
}

func logoutRace(t *testing.T, h *harness, round int) {
	t.Helper()
	tok := h.grant()
	if r := h.do("POST", "/api/user/login", tok, map[string]any{"user": "eve", "password": "Passw0rdLong"}); r.status != 200 {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	const sockets = 16
	conns := make([]*wsClient, sockets)
	for i := range conns {
		conns[i] = h.dial("logoutrace")
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		<-start
		res, err := h.client.Do(h.req("POST", "/api/user/logout", tok, nil))
		if err != nil {
			t.Errorf("logout: %v", err)
			return
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("logout: %d", res.StatusCode)
		}
	})
	ids := make([]string, sockets)
	for _, c := range conns {
		wg.Go(func() {
			<-start
			b, _ := json.Marshal(map[string]any{"action": "auth", "token": tok})
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			if err := c.c.Write(ctx, websocket.MessageText, b); err != nil {
				t.Errorf("auth: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	for i, c := range conns {
		ids[i] = c.until("you")["info"].(map[string]any)["id"].(string)
	}
	// Each socket says something; the room shows who said it. Its frames
	// are handled in order, so whatever the socket's join still had to do
	// is done by the time its chat is.
	for i, c := range conns {
		c.req(watch.ReqChat, map[string]any{"text": fmt.Sprintf("round %d socket %d", round, i)})
		from := c.until("chat", func(m map[string]any) bool {
			f, _ := m["from"].(map[string]any)
			return f["id"] == ids[i]
		})["from"].(map[string]any)
		if from["isLoggedIn"] != false || from["name"] == "eve" {
			t.Errorf("round %d: socket %d acts as %v after the sign-out", round, i, from)
		}
		_ = c.c.CloseNow()
	}
}
