package ott_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
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
