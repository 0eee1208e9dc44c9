package together_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/together"
	"github.com/hearth-community/hearth/internal/surface/together/embeds"
)

// TestLinkPreviewFetchesTakeTurns: a link preview holds up to the egress
// body cap while the far end sends it, and any member may ask for as many
// as they like at once, so the fetches take turns. With the one turn held
// by a page still arriving, another preview waits LinkFetchWait and gets
// 503 with Retry-After in Together's error shape, fetching nothing; once
// the first is done, previews work again. The held page is released by
// the test, so no timing decides who holds the turn.
func TestLinkPreviewFetchesTakeTurns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0], func(d *together.Deps) { d.MaxLinkFetches, d.LinkFetchWait = 1, 50*time.Millisecond })
	bob := e.register("bob")
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	var otherHits atomic.Int64
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/held" {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			entered <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		} else {
			otherHits.Add(1)
		}
		_, _ = io.WriteString(w, `<html><head><title>Page</title></head></html>`)
	}))
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(page.Close)
	t.Cleanup(unblock) // before page.Close, which waits for the handler
	preview := func(path string) (int, http.Header, string) {
		req, _ := http.NewRequest("GET", e.url+"/link-preview?url="+url.QueryEscape(page.URL+path), nil)
		req.Header.Set("Authorization", "Bearer "+bob.access)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, nil, ""
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, string(b)
	}
	first := make(chan int, 1)
	go func() { code, _, _ := preview("/held"); first <- code }()
	<-entered
	code, hdr, body := preview("/other")
	var msg struct {
		Error string `json:"error"`
	}
	if code != 503 || hdr.Get("Retry-After") == "" || json.Unmarshal([]byte(body), &msg) != nil || msg.Error == "" {
		t.Fatalf("a preview while the only turn is held: %d Retry-After=%q %s", code, hdr.Get("Retry-After"), body)
	}
	if n := otherHits.Load(); n != 0 {
		t.Fatalf("the refused preview fetched its page %d times", n)
	}
	unblock()
	if code := <-first; code != 200 {
		t.Fatalf("the held preview: %d", code)
	}
	if code, _, body := preview("/other"); code != 200 {
		t.Fatalf("a preview once the turn is free: %d %s", code, body)
	}
}

// TestLinkFetchesPerAccount: one account makes or awaits at most
// embeds.FetchesPerAccount fetches at once; with ann's two previews held
// by a slow page, her third is refused at once (429 with Retry-After,
// fetching nothing) while bob's preview takes a free turn. Before, one
// member asking previews of slow pages took every turn and the queue, and
// every other member's preview waited out LinkFetchWait and got 503.
func TestLinkFetchesPerAccount(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			linkFetchesPerAccount(t, eng)
		})
	}
}

func linkFetchesPerAccount(t *testing.T, eng storetest.Engine) {
	e := newEnv(t, eng, func(d *together.Deps) { d.MaxLinkFetches, d.LinkFetchWait = 4, time.Hour })
	ann, bob := e.register("ann"), e.register("bob")
	release, entered := make(chan struct{}), make(chan struct{}, 2)
	var otherHits atomic.Int64
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/held" {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			entered <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		} else {
			otherHits.Add(1)
		}
		_, _ = io.WriteString(w, `<html><head><title>Page</title></head></html>`)
	}))
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(page.Close)
	t.Cleanup(unblock)
	preview := func(u user, path string) (int, http.Header, string) {
		req, _ := http.NewRequest("GET", e.url+"/link-preview?url="+url.QueryEscape(page.URL+path), nil)
		req.Header.Set("Authorization", "Bearer "+u.access)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, nil, ""
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, string(b)
	}
	held := make(chan int, embeds.FetchesPerAccount)
	for i := range embeds.FetchesPerAccount {
		go func() { code, _, _ := preview(ann, "/held?"+strconv.Itoa(i)); held <- code }()
	}
	for range embeds.FetchesPerAccount {
		<-entered
	}
	code, hdr, body := preview(ann, "/other?ann")
	if code != 429 || hdr.Get("Retry-After") == "" || !strings.Contains(body, "You are fetching too many pages at once") {
		t.Fatalf("ann's preview past her share: %d Retry-After=%q %s", code, hdr.Get("Retry-After"), body)
	}
	if n := otherHits.Load(); n != 0 {
		t.Fatalf("the refused preview fetched its page %d times", n)
	}
	if code, _, body := preview(bob, "/other?bob"); code != 200 {
		t.Fatalf("bob's preview beside ann's: %d %s", code, body)
	}
	unblock()
	for range embeds.FetchesPerAccount {
		if code := <-held; code != 200 {
			t.Fatalf("ann's held preview: %d", code)
		}
	}
}
